//! Sinks: tables written as Hive-partitioned Parquet under the output location.

mod parquet;
pub mod partition;
pub mod tables;

use datafusion::dataframe::DataFrame;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use serde::Serialize;

pub use parquet::{WrittenFile, write_dataframe, writer_properties};

use crate::error::{Error, Result};
use crate::storage::Location;

/// One output partition and the files that make it.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenPartition {
    pub table: String,
    /// `k=v/k=v`, escaped.
    pub partition: String,
    pub files: Vec<WrittenFile>,
    pub rows: u64,
}

/// Replaces a partition's contents with `df`: the new file is written under a
/// name of this run, then older files of the partition are removed.
/// (Readers may briefly see both; atomic publishing replaces this.)
pub async fn replace_partition(
    root: &Location,
    table: &str,
    partition: &str,
    run_id: &str,
    df: DataFrame,
) -> Result<WrittenPartition> {
    let folder = format!("{table}/{partition}");
    let file = write_dataframe(df, root, &format!("{folder}/part-{run_id}.parquet")).await?;
    let dir = root.child(&folder);
    let existing: Vec<_> = dir
        .store
        .list(Some(&dir.prefix))
        .try_collect()
        .await
        .map_err(|e| Error::storage(format!("listing {dir}"), e))?;
    let keep = root.path_of(&file.path);
    for meta in existing.into_iter().filter(|m| m.location != keep) {
        dir.store
            .delete(&meta.location)
            .await
            .map_err(|e| Error::storage(format!("deleting {}", meta.location), e))?;
    }
    Ok(WrittenPartition {
        table: table.to_owned(),
        partition: partition.to_owned(),
        rows: file.rows,
        files: vec![file],
    })
}
