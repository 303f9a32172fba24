//! How the run's scratch Parquet files are written: the staged sources and
//! every model table, written once and read back once or twice on this
//! machine. Bytes written cost more here than encoding work saved: no
//! compression (it would cost more CPU than the copies it saves), no
//! dictionaries and no statistics (nothing prunes on them), and integers
//! and dates delta-encoded (line numbers, file ids and partition dates are
//! runs or constants, which shrink to almost nothing).

use datafusion::arrow::datatypes::{DataType, Schema};
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// Rows per row group: a reader holds a row group's columns whole, and
/// smaller groups split a file more evenly between cores.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Writer settings for a scratch file of `schema`.
pub fn writer_properties(schema: &Schema) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::UNCOMPRESSED)
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::None)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for field in schema.fields() {
        if matches!(
            field.data_type(),
            DataType::Int32 | DataType::Int64 | DataType::Date32
        ) {
            builder = builder.set_column_encoding(
                ColumnPath::from(field.name().as_str()),
                Encoding::DELTA_BINARY_PACKED,
            );
        }
    }
    builder.build()
}
