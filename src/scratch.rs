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

/// The prefix of a run's work folder; the process id follows it, so that
/// the folders of runs that died can be told from those of live ones.
const WORK_PREFIX: &str = "cvm-etl-";

/// A new work folder for a run's scratch files and spills, under `temp_dir`
/// (default: the system's), removed when dropped.
pub fn work_dir(temp_dir: Option<&str>) -> Result<tempfile::TempDir, std::io::Error> {
    let parent = temp_dir.map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    tempfile::Builder::new()
        .prefix(&format!("{WORK_PREFIX}{}-", std::process::id()))
        .tempdir_in(parent)
}

/// Removes the work folders that runs killed on this machine left in
/// `temp_dir`: a SIGKILL skips the removal on drop. Returns how many.
pub fn sweep_dead_work_dirs(temp_dir: Option<&str>) -> usize {
    let parent = temp_dir.map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let Ok(entries) = std::fs::read_dir(&parent) else {
        return 0;
    };
    let mut swept = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(WORK_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir
            && !crate::host::process_alive(pid)
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            tracing::info!(
                "removed the work folder of a run that died: {}",
                entry.path().display()
            );
            swept += 1;
        }
    }
    swept
}
