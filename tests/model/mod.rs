//! One test per rule of docs/metrics.md, each on a world small enough to check
//! by hand, read back from the Parquet the job wrote.

mod world;

mod calendar;
mod customer_month;
mod exactness;
mod lifecycle;
mod retention;
mod scoring;
mod slices;
mod subscribers;
mod tiers;
mod watchlist;
