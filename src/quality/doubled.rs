//! The first pass of a source's duplicate check: the key hashes that occur
//! more than once among its staged rows.
//!
//! Each file's keys part holds its staged rows' hashes in ascending order
//! (written by the sources stage, kept by the staging cache). Merging those
//! sorted runs with DataFusion's streaming merge brings equal hashes next
//! to each other, so a hash that occurs twice is one that equals the hash
//! before it. The pass holds a row group of each file at a time: unlike a
//! group-by over every hash, it needs no table of all the keys, which at
//! ten million customers (three hundred million lines) did not fit the
//! memory pool and spilled.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet};
use datafusion::physical_plan::sorts::streaming_merge::StreamingMergeBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::ArrowWriter;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;

use crate::error::{Error, Result};
use crate::sources::spec;

/// Hashes written to the output a batch at a time.
const OUT_BATCH: usize = 64 * 1024;

/// Writes the hashes that occur more than once in the keys parts of
/// `keys_folder` to the Parquet file `out` ([`spec::keys_schema`]), each
/// once, in ascending order; returns how many.
pub async fn write_doubled(ctx: &SessionContext, keys_folder: &Path, out: &Path) -> Result<u64> {
    let schema = spec::keys_schema();
    let props = crate::scratch::writer_properties(&schema);
    let mut writer = ArrowWriter::try_new(File::create(out)?, Arc::clone(&schema), Some(props))?;
    let mut doubled = Vec::new();
    let mut written = 0;
    let parts = parts(keys_folder)?;
    if !parts.is_empty() {
        let mut merged = merge(ctx, &parts).await?;
        let mut previous: Option<u64> = None;
        let mut counted = false;
        while let Some(batch) = merged.next().await {
            let batch = batch?;
            for &hash in batch.column(0).as_primitive::<UInt64Type>().values() {
                if previous == Some(hash) {
                    if !counted {
                        doubled.push(hash);
                        counted = true;
                    }
                } else {
                    previous = Some(hash);
                    counted = false;
                }
            }
            if doubled.len() >= OUT_BATCH {
                written += flush(&mut writer, &mut doubled)?;
            }
        }
    }
    written += flush(&mut writer, &mut doubled)?;
    writer.close()?;
    Ok(written)
}

fn flush(writer: &mut ArrowWriter<File>, hashes: &mut Vec<u64>) -> Result<u64> {
    let n = hashes.len() as u64;
    if n > 0 {
        let column = UInt64Array::from(std::mem::take(hashes));
        writer.write(&RecordBatch::try_new(
            spec::keys_schema(),
            vec![Arc::new(column)],
        )?)?;
    }
    Ok(n)
}

/// The keys parts in `folder`, in name order.
fn parts(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut parts = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "parquet") {
            parts.push(path);
        }
    }
    parts.sort();
    Ok(parts)
}

/// The hashes of every part, in one ascending stream.
async fn merge(ctx: &SessionContext, parts: &[PathBuf]) -> Result<SendableRecordBatchStream> {
    let schema = spec::keys_schema();
    let batch_size = ctx.state().config().batch_size();
    let mut streams = Vec::with_capacity(parts.len());
    for path in parts {
        streams.push(part_stream(path, batch_size).await?);
    }
    let ordering = LexOrdering::new([PhysicalSortExpr::new_default(Arc::new(Column::new(
        spec::KEY_HASH,
        0,
    )))])
    .ok_or_else(|| Error::internal("the keys' order has no column"))?;
    let reservation =
        MemoryConsumer::new("DuplicateKeyMerge").register(&ctx.runtime_env().memory_pool);
    Ok(StreamingMergeBuilder::new()
        .with_streams(streams)
        .with_schema(schema)
        .with_expressions(&ordering)
        .with_metrics(BaselineMetrics::new(&ExecutionPlanMetricsSet::new(), 0))
        .with_batch_size(batch_size)
        .with_reservation(reservation)
        .build()?)
}

/// One keys part, read in order.
async fn part_stream(path: &Path, batch_size: usize) -> Result<SendableRecordBatchStream> {
    let file = tokio::fs::File::open(path).await?;
    let stream = ParquetRecordBatchStreamBuilder::new(file)
        .await?
        .with_batch_size(batch_size)
        .build()?
        .map_err(DataFusionError::from);
    Ok(Box::pin(RecordBatchStreamAdapter::new(
        spec::keys_schema(),
        stream,
    )))
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionConfig;

    use super::*;

    fn write_part(path: &Path, hashes: &[u64]) {
        let schema = spec::keys_schema();
        let mut writer =
            ArrowWriter::try_new(File::create(path).unwrap(), schema.clone(), None).unwrap();
        let column = UInt64Array::from(hashes.to_vec());
        writer
            .write(&RecordBatch::try_new(schema, vec![Arc::new(column)]).unwrap())
            .unwrap();
        writer.close().unwrap();
    }

    async fn doubled(parts: &[&[u64]]) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        for (i, hashes) in parts.iter().enumerate() {
            write_part(&keys.join(format!("part-{i:05}.parquet")), hashes);
        }
        // Two rows a batch, so that runs of equal hashes cross batches.
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_batch_size(2));
        let out = dir.path().join("doubled.parquet");
        let n = write_doubled(&ctx, &keys, &out).await.unwrap();
        let batches = ctx
            .read_parquet(out.to_str().unwrap(), Default::default())
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let hashes: Vec<u64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<UInt64Type>().values().to_vec())
            .collect();
        assert_eq!(hashes.len() as u64, n);
        hashes
    }

    #[tokio::test]
    async fn a_hash_in_two_files_or_twice_in_one_is_doubled_and_named_once() {
        let found = doubled(&[&[1, 4, 4, 4, 9], &[2, 3, 9, 9], &[0, 5, 7], &[3]]).await;
        assert_eq!(found, vec![3, 4, 9]);
    }

    #[tokio::test]
    async fn hashes_that_occur_once_give_nothing() {
        assert!(doubled(&[&[1, 3], &[2, 4], &[]]).await.is_empty());
        assert!(doubled(&[]).await.is_empty());
    }

    #[tokio::test]
    async fn the_extreme_hashes_are_doubled_like_any_other() {
        let found = doubled(&[&[0, u64::MAX], &[0, u64::MAX]]).await;
        assert_eq!(found, vec![0, u64::MAX]);
    }
}
