//! How the run's scratch Parquet files are written: the staged sources and
//! every model table, written once and read back once or twice on this
//! machine. Bytes written cost more here than encoding work saved: no
//! compression (it would cost more CPU than the copies it saves), no
//! dictionaries and no statistics (nothing prunes on them), and integers
//! and dates delta-encoded (line numbers, file ids and partition dates are
//! runs or constants, which shrink to almost nothing).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::config::{ParquetColumnOptions, TableParquetOptions};
use object_store::local::LocalFileSystem;
use parquet::basic::{Compression, Encoding};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::error::{Error, Result};
use crate::storage::Location;

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
        if delta_encoded(field.data_type()) {
            builder = builder.set_column_encoding(
                ColumnPath::from(field.name().as_str()),
                Encoding::DELTA_BINARY_PACKED,
            );
        }
    }
    builder.build()
}

/// [`writer_properties`] as DataFusion's writer takes them, for the
/// tables a query writes on the executors.
pub fn table_options(schema: &Schema) -> TableParquetOptions {
    let mut options = TableParquetOptions::default();
    options.global.compression = Some("uncompressed".to_owned());
    options.global.dictionary_enabled = Some(false);
    options.global.statistics_enabled = Some("none".to_owned());
    options.global.max_row_group_size = ROW_GROUP_ROWS;
    for field in schema.fields() {
        if delta_encoded(field.data_type()) {
            let column = ParquetColumnOptions {
                encoding: Some("delta_binary_packed".to_owned()),
                ..ParquetColumnOptions::default()
            };
            options
                .column_specific_options
                .insert(field.name().clone(), column);
        }
    }
    options
}

fn delta_encoded(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int32 | DataType::Int64 | DataType::Date32
    )
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

/// The folder, below the output, of the scratch tables runs on a cluster
/// share ([`Scratch`]): one folder a run, removed when it ends, and by the
/// next run if it died.
pub const SHARED: &str = "_scratch";

/// Where a run's scratch tables are read from. On the local engine, its
/// work folder. On a cluster, `_scratch/<run_id>/` below the output, on the
/// store every role reaches: an executor reads there what the driver or
/// another executor wrote, whatever machine it runs on.
#[derive(Clone, Debug)]
pub struct Scratch {
    /// This machine's work folder, where the driver writes files first.
    pub local: PathBuf,
    /// The shared folder, on a cluster.
    shared: Option<Location>,
}

impl Scratch {
    /// The scratch of a run on this machine alone.
    pub fn local(work_dir: &Path) -> Scratch {
        Scratch {
            local: work_dir.to_path_buf(),
            shared: None,
        }
    }

    /// The scratch of run `run_id` on a cluster writing to `output`.
    pub fn shared(work_dir: &Path, output: &Location, run_id: &str) -> Scratch {
        Scratch {
            local: work_dir.to_path_buf(),
            shared: Some(output.child(SHARED).child(run_id)),
        }
    }

    /// Whether the tables live on the shared store, so that executors, not
    /// the driver, write the ones a query makes.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The URL DataFusion reads `name` by: a file, or a folder when `name`
    /// ends in `/`.
    pub fn url(&self, name: &str) -> Result<String> {
        let folder = if name.ends_with('/') { "/" } else { "" };
        Ok(match &self.shared {
            Some(shared) => format!("{}{folder}", shared.child(name).url()),
            None => format!("{}{folder}", utf8(&self.local.join(name))?),
        })
    }

    /// The location of `name`, to read it through its object store.
    pub fn location(&self, name: &str) -> Result<Location> {
        match &self.shared {
            Some(shared) => Ok(shared.child(name)),
            None => {
                let dir = &self.local;
                let url = url::Url::from_directory_path(dir)
                    .map_err(|_| Error::internal(format!("work folder {}", dir.display())))?;
                Ok(Location::at(&url, Arc::new(LocalFileSystem::new()))?.child(name))
            }
        }
    }

    /// Makes the file `name` of the work folder readable by its
    /// [`url`](Self::url): on a cluster, uploads it.
    pub async fn share(&self, name: &str) -> Result<()> {
        match &self.shared {
            Some(shared) => shared.upload(name, &self.local.join(name)).await,
            None => Ok(()),
        }
    }

    /// Removes the shared folder (the work folder goes when dropped).
    pub async fn remove(&self) -> Result<()> {
        match &self.shared {
            Some(shared) => remove_folder(shared).await,
            None => Ok(()),
        }
    }
}

/// Removes every object below `folder`, and on a filesystem the folders
/// too, which would otherwise stay listed as a run's scratch.
async fn remove_folder(folder: &Location) -> Result<()> {
    folder.remove_all().await?;
    if let Some(dir) = folder.local_dir() {
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

/// Removes the shared scratch of every run but `keep` below `output`: the
/// run that holds the output's lock is the only one alive there.
pub async fn sweep_shared(output: &Location, keep: &str) -> Result<usize> {
    let root = output.child(SHARED);
    let mut swept = 0;
    for run in root.folders().await? {
        if run != keep {
            remove_folder(&root.child(&run)).await?;
            tracing::info!("removed the scratch of run {run}, which died");
            swept += 1;
        }
    }
    Ok(swept)
}

fn utf8(path: &Path) -> Result<&str> {
    path.to_str()
        .ok_or_else(|| Error::internal(format!("work path is not UTF-8: {}", path.display())))
}
