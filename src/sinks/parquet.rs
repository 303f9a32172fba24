//! One DataFrame streamed into one Parquet object: zstd, with statistics and
//! dictionaries left on for the readers (DuckDB, Spark, Athena) that prune on them.

use datafusion::dataframe::DataFrame;
use futures::StreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::error::Result;
use crate::storage::Location;

/// A file written, for the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenFile {
    /// Relative to the output location.
    pub path: String,
    pub rows: u64,
}

/// zstd, dictionaries and statistics (the defaults) for readers; row groups
/// of 128 Ki rows, about DuckDB's own, because a writer holds a whole row
/// group in memory until it is flushed. zstd level 1: level 3 spent twice
/// the CPU (a third of writing the outputs) for files a few percent smaller.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(1 << 17))
        .build()
}

/// Writes every row of `df` to `relative` under `root`.
pub async fn write_dataframe(
    df: DataFrame,
    root: &Location,
    relative: &str,
) -> Result<WrittenFile> {
    let schema = df.schema().inner().clone();
    let path: Path = root.path_of(relative);
    let object = BufWriter::new(root.store.clone(), path);
    let mut writer = AsyncArrowWriter::try_new(object, schema, Some(writer_properties()))?;
    let mut stream = df.execute_stream().await?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).await?;
    }
    writer.close().await?;
    Ok(WrittenFile {
        path: relative.to_owned(),
        rows,
    })
}
