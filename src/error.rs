//! Typed errors of the library, each mapped to one exit code of SPEC §6.
//!
//! The binary prints the chain and exits with [`Error::exit_code`]; the
//! library never prints to stdout nor exits.

use std::fmt;

/// What went wrong, by the exit code a scheduler should see.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Exit 2: the pipeline file, a `--set`, a flag or an input's header is wrong.
    #[error("{0}")]
    Config(String),
    /// Exit 3: a source rejected more rows than `max_reject_ratio` allows.
    #[error("{0}")]
    QualityGate(String),
    /// Exit 4: the inputs for this date are not there yet.
    #[error("inputs not ready: {0}")]
    NotReady(String),
    /// Exit 5: the object store kept failing.
    #[error("storage error: {context}: {source}")]
    Storage {
        context: String,
        #[source]
        source: object_store::Error,
    },
    /// Exit 6: another run for the same date holds the lock.
    #[error("{0}")]
    Locked(String),
    /// Exit 1: a bug or an unexpected failure of the engine.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("query engine: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The exit code of SPEC §6 for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) => 2,
            Error::QualityGate(_) => 3,
            Error::NotReady(_) => 4,
            Error::Storage { .. } => 5,
            Error::Locked(_) => 6,
            Error::DataFusion(e) => datafusion_exit_code(e),
            Error::Internal(_) | Error::Parquet(_) | Error::Arrow(_) | Error::Io(_) => 1,
        }
    }

    pub fn config(msg: impl fmt::Display) -> Self {
        Error::Config(msg.to_string())
    }

    pub fn internal(msg: impl fmt::Display) -> Self {
        Error::Internal(msg.to_string())
    }

    /// Wraps an object store failure with the operation and the URL it was on.
    pub fn storage(context: impl fmt::Display, source: object_store::Error) -> Self {
        Error::Storage {
            context: context.to_string(),
            source,
        }
    }
}

/// A storage failure surfacing through DataFusion is still a storage failure.
fn datafusion_exit_code(e: &datafusion::error::DataFusionError) -> u8 {
    use datafusion::error::DataFusionError as D;
    match e.find_root() {
        D::ObjectStore(_) => 5,
        _ => 1,
    }
}
