//! The first pass of a source's duplicate check: the key hashes that occur
//! more than once among its staged rows.
//!
//! Each file's keys part holds its staged rows' hashes in ascending runs
//! (written by the sources stage, kept by the staging cache; see
//! [`spec::KEY_RUN_ROWS`]). Merging every run of every file with
//! DataFusion's streaming merge brings equal hashes next to each other, so
//! a hash that occurs twice is one that equals the hash before it. The pass
//! holds a row group of each run at a time (16 Ki hashes, 128 KiB, plus a
//! batch): unlike a group-by over every hash, it needs no table of all the
//! keys, which at ten million customers (three hundred million lines) did
//! not fit the memory pool and spilled.

use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::UInt64Type;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet};
use datafusion::physical_plan::sorts::streaming_merge::StreamingMergeBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectMeta;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::file::metadata::ParquetMetaData;

use crate::error::{Error, Result};
use crate::sources::spec;
use crate::storage::Location;

/// Hashes written to the output a batch at a time.
const OUT_BATCH: usize = 64 * 1024;

/// Writes the hashes that occur more than once in the keys parts at
/// `keys` to the local Parquet file `out` ([`spec::keys_schema`]), each
/// once, in ascending order; returns how many.
pub async fn write_doubled(ctx: &SessionContext, keys: &Location, out: &Path) -> Result<u64> {
    let schema = spec::keys_schema();
    let props = crate::scratch::writer_properties(&schema);
    let mut writer = ArrowWriter::try_new(File::create(out)?, Arc::clone(&schema), Some(props))?;
    let mut doubled = Vec::new();
    let mut written = 0;
    if let Some(mut merged) = merge(ctx, keys).await? {
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
        writer.write(&spec::keys_batch(std::mem::take(hashes))?)?;
    }
    Ok(n)
}

/// The keys parts at `keys`, in name order.
async fn parts(keys: &Location) -> Result<Vec<ObjectMeta>> {
    let mut parts: Vec<ObjectMeta> = keys
        .store
        .list(Some(&keys.prefix))
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| Error::storage(format!("listing {keys}"), e))?
        .into_iter()
        .filter(|m| m.location.extension() == Some("parquet"))
        .collect();
    parts.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(parts)
}

/// The hashes of every run of every part, in one ascending stream; None
/// when no part holds a hash.
async fn merge(ctx: &SessionContext, keys: &Location) -> Result<Option<SendableRecordBatchStream>> {
    let schema = spec::keys_schema();
    let batch_size = ctx.state().config().batch_size();
    // Read through the object store, which opens the file for each read: a
    // stream per run must not hold a file open each.
    let readers = DefaultParquetFileReaderFactory::new(Arc::clone(&keys.store));
    let mut streams = Vec::new();
    for part in parts(keys).await? {
        streams.extend(run_streams(&readers, part, batch_size).await?);
    }
    if streams.is_empty() {
        return Ok(None);
    }
    let ordering = LexOrdering::new([PhysicalSortExpr::new_default(Arc::new(Column::new(
        spec::KEY_HASH,
        0,
    )))])
    .ok_or_else(|| Error::internal("the keys' order has no column"))?;
    let reservation =
        MemoryConsumer::new("DuplicateKeyMerge").register(&ctx.runtime_env().memory_pool);
    let merged = StreamingMergeBuilder::new()
        .with_streams(streams)
        .with_schema(schema)
        .with_expressions(&ordering)
        .with_metrics(BaselineMetrics::new(&ExecutionPlanMetricsSet::new(), 0))
        .with_batch_size(batch_size)
        .with_reservation(reservation)
        .build()?;
    Ok(Some(merged))
}

/// One keys part, a stream for each of its sorted runs.
async fn run_streams(
    readers: &DefaultParquetFileReaderFactory,
    part: ObjectMeta,
    batch_size: usize,
) -> Result<Vec<SendableRecordBatchStream>> {
    let name = part.location.to_string();
    let file = PartitionedFile::from(part);
    let metrics = ExecutionPlanMetricsSet::new();
    let reader = || {
        Ok::<_, Error>(StoreReader(readers.create_reader(
            0,
            file.clone(),
            None,
            &metrics,
        )?))
    };
    let metadata = ArrowReaderMetadata::load_async(&mut reader()?, Default::default()).await?;
    let sizes: Vec<i64> = metadata
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows())
        .collect();
    let mut streams = Vec::new();
    for row_groups in runs(&sizes).map_err(|e| Error::internal(format!("{name}: {e}")))? {
        let stream =
            ParquetRecordBatchStreamBuilder::new_with_metadata(reader()?, metadata.clone())
                .with_row_groups(row_groups)
                .with_batch_size(batch_size)
                .build()?
                .map_err(DataFusionError::from);
        streams.push(
            Box::pin(RecordBatchStreamAdapter::new(spec::keys_schema(), stream))
                as SendableRecordBatchStream,
        );
    }
    Ok(streams)
}

/// DataFusion's reader of a file in an object store (one that opens the file
/// for each read), as a type the Parquet stream takes.
struct StoreReader(Box<dyn AsyncFileReader + Send>);

impl AsyncFileReader for StoreReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        self.0.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        self.0.get_byte_ranges(ranges)
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        self.0.get_metadata(options)
    }
}

/// The row groups of each run of a keys part whose row groups hold `sizes`
/// rows: those that start in rows `k × KEY_RUN_ROWS ..`.
fn runs(sizes: &[i64]) -> std::result::Result<Vec<Vec<usize>>, String> {
    let run_rows = spec::KEY_RUN_ROWS as i64;
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut start = 0;
    for (group, &rows) in sizes.iter().enumerate() {
        let run = (start / run_rows) as usize;
        if rows > 0 && (start + rows - 1) / run_rows != start / run_rows {
            return Err(format!("row group {group} spans two sorted runs"));
        }
        if runs.len() <= run {
            runs.resize_with(run + 1, Vec::new);
        }
        runs[run].push(group);
        start += rows;
    }
    Ok(runs.into_iter().filter(|r| !r.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionConfig;

    use super::*;

    /// A keys part of sorted `runs`, each its own row group.
    fn write_part(path: &Path, runs: &[Vec<u64>]) {
        let mut writer =
            ArrowWriter::try_new(File::create(path).unwrap(), spec::keys_schema(), None).unwrap();
        for run in runs {
            writer
                .write(&spec::keys_batch(run.clone()).unwrap())
                .unwrap();
            writer.flush().unwrap();
        }
        writer.close().unwrap();
    }

    async fn doubled(parts: &[&[u64]]) -> Vec<u64> {
        let parts: Vec<Vec<Vec<u64>>> = parts.iter().map(|p| vec![p.to_vec()]).collect();
        doubled_in_runs(&parts).await
    }

    async fn doubled_in_runs(parts: &[Vec<Vec<u64>>]) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        for (i, runs) in parts.iter().enumerate() {
            write_part(&keys.join(format!("part-{i:05}.parquet")), runs);
        }
        // Two rows a batch, so that runs of equal hashes cross batches.
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_batch_size(2));
        let out = dir.path().join("doubled.parquet");
        let scratch = crate::scratch::Scratch::local(dir.path());
        let n = write_doubled(&ctx, &scratch.location("keys").unwrap(), &out)
            .await
            .unwrap();
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
    async fn hashes_that_occur_once_and_files_without_rows_give_nothing() {
        assert!(doubled(&[&[1, 3], &[2, 4], &[]]).await.is_empty());
        assert!(doubled(&[]).await.is_empty());
        assert!(doubled(&[&[], &[]]).await.is_empty(), "files without rows");
    }

    #[tokio::test]
    async fn a_hash_in_two_runs_of_one_file_is_doubled() {
        let first: Vec<u64> = (0..spec::KEY_RUN_ROWS as u64).map(|i| 2 * i).collect();
        let found = doubled_in_runs(&[vec![first, vec![5, 14]], vec![vec![7]]]).await;
        assert_eq!(found, vec![14]);
    }

    #[test]
    fn a_run_is_the_row_groups_that_start_in_it() {
        let run = spec::KEY_RUN_ROWS as i64;
        let half = run / 2;
        assert_eq!(
            runs(&[half, half, half, 3]).unwrap(),
            vec![vec![0, 1], vec![2, 3]]
        );
        assert_eq!(runs(&[]).unwrap(), Vec::<Vec<usize>>::new());
        assert!(runs(&[half, run]).is_err(), "a row group across two runs");
    }

    #[tokio::test]
    async fn the_extreme_hashes_are_doubled_like_any_other() {
        let found = doubled(&[&[0, u64::MAX], &[0, u64::MAX]]).await;
        assert_eq!(found, vec![0, u64::MAX]);
    }
}
