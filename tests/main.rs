//! The tests, in one binary: linking DataFusion once instead of once a file
//! saves most of a cold build's test compile, and the files' tests run side
//! by side. Each module is one part of the docs: `model` the metrics,
//! `rules` the inputs, the rest the job around them.

mod support;

mod backfill;
mod cache;
mod cli;
mod cluster;
mod commit;
mod end_to_end;
mod lock;
mod model;
mod ownership;
mod personal_data;
mod publishing;
mod readback;
mod report;
mod rules;
mod s3;
