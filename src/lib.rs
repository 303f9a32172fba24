//! cvm-etl: a nightly customer value management job.
//!
//! Data flows one way: [`config`] → [`storage`] → [`sources`] → [`quality`]
//! → transforms → [`sinks`] → [`manifest`]; [`run`] walks one run through
//! them. The library never prints to stdout and never exits; the binary maps
//! [`error::Error`] to exit codes.

pub mod backfill;
pub mod calendar;
pub mod cluster;
pub mod config;
pub mod crashpoint;
pub mod domain;
pub mod error;
pub mod host;
pub mod inspect;
#[cfg(test)]
mod layers;
pub mod lock;
pub mod manifest;
pub mod memory;
pub mod progress;
pub mod quality;
pub mod report;
pub mod run;
pub mod sample;
pub mod scratch;
pub mod session;
pub mod signals;
pub mod sinks;
pub mod sources;
pub mod storage;
pub mod summary;
pub mod transforms;

pub use error::{Error, Result};

/// The version and the git commit it was built from (see build.rs):
/// `0.1.0 (commit 1a2b3c4d5e6f)`.
pub const VERSION: &str = env!("CVM_ETL_VERSION");
