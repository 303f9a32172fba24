//! One DataFrame streamed into one Parquet object: zstd, with statistics and
//! (where values repeat) dictionaries for the readers (DuckDB, Spark,
//! Athena) that prune on them.

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::dataframe::DataFrame;
use futures::StreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde::Serialize;

use crate::error::Result;
use crate::storage::Location;

/// A file written, for the manifest.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct WrittenFile {
    /// Relative to the output location.
    pub path: String,
    pub rows: u64,
}

/// zstd level 1, statistics (the default, page level) and row groups of
/// 128 Ki rows, about DuckDB's own, because a writer holds a whole row group
/// in memory until it is flushed. Dictionaries where values repeat (dates,
/// counts, regions, tiers), not for customer ids, money or rates, which are
/// nearly all distinct: there a dictionary only costs the writer a hash of
/// every value until it gives up at 1 MiB. zstd level 3 took twice the CPU
/// of level 1 (a third of writing the outputs) for files no smaller here.
pub fn writer_properties(schema: &Schema) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(1 << 17));
    for field in schema.fields() {
        let distinct = field.name() == "customer_id"
            || matches!(
                field.data_type(),
                DataType::Decimal128(..) | DataType::Float64
            );
        if distinct {
            builder = builder
                .set_column_dictionary_enabled(ColumnPath::from(field.name().as_str()), false);
        }
    }
    builder.build()
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
    let mut writer =
        AsyncArrowWriter::try_new(object, schema.clone(), Some(writer_properties(&schema)))?;
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
