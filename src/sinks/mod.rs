//! Sinks: tables written as Hive-partitioned Parquet under the output
//! location, staged and published by the protocol of `publish`.

pub mod fanout;
mod parquet;
pub mod partition;
pub mod publish;
pub mod tables;

use serde::Serialize;

pub use parquet::{WrittenFile, write_dataframe, writer_properties};

/// One output partition and the files that make it.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenPartition {
    pub table: String,
    /// `k=v/k=v`, escaped.
    pub partition: String,
    pub files: Vec<WrittenFile>,
    pub rows: u64,
}
