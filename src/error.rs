//! Typed errors of the library, each mapped to one exit code
//! (README.md#exit-codes).
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
    /// Exit 5: the cluster the run's queries go to could not be reached, or
    /// lost them (docs/scale-out.md).
    #[error("cluster error: {0}")]
    Cluster(String),
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
    /// The exit code of this error (README.md#exit-codes).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) => 2,
            Error::QualityGate(_) => 3,
            Error::NotReady(_) => 4,
            Error::Storage { .. } | Error::Cluster(_) => 5,
            Error::Locked(_) => 6,
            Error::Internal(_) => 1,
            Error::DataFusion(_) | Error::Parquet(_) | Error::Arrow(_) | Error::Io(_) => {
                if caused_by_storage(self) {
                    5
                } else {
                    1
                }
            }
        }
    }

    /// What to check, in one line, for the failures whose cause usually
    /// lies outside the job: the binary prints it under the error.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::NotReady(m) if m.contains("no customers") => Some(
                "the input location must hold customers/, billing/ and costs/ \
                 (or set sources.NAME.path); check --input and the dt= folders of the date",
            ),
            Error::NotReady(_) => {
                Some("the export of this date is not complete yet; exit 4 is worth a retry later")
            }
            Error::Internal(m) if m.contains("--max-spill") => Some(
                "raise --max-spill if the disk has room, raise --memory-limit so that less \
                 spills, or point --temp-dir at a larger disk",
            ),
            Error::Locked(_) => Some(
                "another run of this output is working: wait for it, or for its lease to run out \
                 if it died; exit 6 is worth a retry",
            ),
            Error::Cluster(_) => Some(
                "check that `cvm-etl scheduler` runs at the engine's address and that its \
                 executors are up; exit 5 is worth a retry",
            ),
            Error::QualityGate(_) => Some(
                "rejected/as_of=D/ holds the rows and their reasons: fix the export, or, if the \
                 data is right, raise max_reject_ratio or max_volume_drop with --set for this run",
            ),
            _ => storage_hint(storage_cause(self)?),
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

/// A storage failure surfacing through DataFusion, the Parquet writer or
/// anything else that wraps it is still a storage failure (exit 5).
fn caused_by_storage(error: &(dyn std::error::Error + 'static)) -> bool {
    storage_cause(error).is_some()
}

fn storage_hint(e: &object_store::Error) -> Option<&'static str> {
    const CREDENTIALS: &str = "check the credentials: the AWS_*, GOOGLE_* or AZURE_* \
        environment variables, or storage_options in the pipeline file";
    const LOCATION: &str = "check that the bucket or container exists, and the region or endpoint";
    let text = e.to_string().to_lowercase();
    match e {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Some(CREDENTIALS),
        _ if text.contains("credential") || text.contains("accessdenied") => Some(CREDENTIALS),
        _ if text.contains("nosuchbucket") || text.contains("containernotfound") => Some(LOCATION),
        object_store::Error::NotFound { .. } => Some(LOCATION),
        _ if text.contains("dns") || text.contains("connect") => {
            Some("check the endpoint and the network: the store could not be reached")
        }
        _ => None,
    }
}

/// The object store failure at the root of `error`, however wrapped.
pub fn storage_cause<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e object_store::Error> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(found) = e.downcast_ref::<object_store::Error>() {
            return Some(found);
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost_put() -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: "error sending request".into(),
        }
    }

    #[test]
    fn a_storage_failure_inside_the_parquet_writer_or_the_engine_is_exit_5() {
        let parquet = parquet::errors::ParquetError::External(Box::new(lost_put()));
        assert_eq!(Error::Parquet(parquet).exit_code(), 5);
        let engine = datafusion::error::DataFusionError::ObjectStore(Box::new(lost_put()))
            .context("writing customer_month");
        assert_eq!(Error::DataFusion(engine).exit_code(), 5);
    }

    #[test]
    fn a_store_refusing_the_credentials_hints_at_them() {
        let refused = object_store::Error::PermissionDenied {
            path: "cvm/billing".into(),
            source: "403".into(),
        };
        let hint = Error::storage("listing s3://cvm/billing", refused).hint();
        assert!(hint.unwrap().contains("credentials"), "{hint:?}");
        assert!(Error::internal("bug").hint().is_none());
    }

    #[test]
    fn other_engine_failures_are_exit_1() {
        let engine = datafusion::error::DataFusionError::Execution("bug".into());
        assert_eq!(Error::DataFusion(engine).exit_code(), 1);
        assert_eq!(Error::internal("bug").exit_code(), 1);
    }
}
