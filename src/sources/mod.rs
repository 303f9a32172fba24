//! Sources: list the exports of a date, read them (CSV, NDJSON, Parquet),
//! check every row, and stage the typed rows and the rejected ones as local
//! Parquet for the quality step. Memory stays bounded: files are streamed
//! and handled one batch at a time, a few files at once (one per core).

pub mod cache;
mod csv;
mod csv_split;
mod decode;
#[doc(hidden)]
pub mod fuzzing;
mod header;
mod key_hash;
pub mod listing;
mod ndjson;
mod object_reader;
mod parquet_in;
mod record;
mod reread;
pub mod spec;
mod stage_sink;
mod validate;
pub mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path as FsPath;
use std::sync::Arc;

use chrono::NaiveDate;
use futures::StreamExt;
use object_store::{GetOptions, ObjectMeta};
use serde::{Deserialize, Serialize};

pub use csv::{REDACTED, WITHHELD};
pub use listing::{Format, InputFile};
pub use reread::raw_records;

use crate::calendar::Calendar;
use crate::config::{Params, SourceSettings};
use crate::domain::SourceName;
use crate::error::{Error, Result};
use crate::progress;
use crate::storage::Location;
use cache::{Cache, Key};
use record::RecordSink;
use stage_sink::{Checked, StageSink};
pub use stage_sink::{Folders, PartKind, Parts};
use validate::{CheckContext, Checker};

/// What reading one source produced.
#[derive(Debug)]
pub struct SourceRead {
    pub source: SourceName,
    /// Where the files are and how they are encoded (to read records again).
    pub origin: Location,
    pub settings: SourceSettings,
    /// Records longer than this were malformed (and are, read again).
    pub max_record_bytes: usize,
    /// The files read; a staged row's `_file_id` is its index here.
    pub files: Vec<InputFile>,
    pub rows_read: u64,
    /// Rows rejected by the row checks, by reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
}

/// A source's files for the run date, listed, chosen and found ready,
/// before any is read: what the driver hands to whoever reads them.
#[derive(Debug, Clone)]
pub struct Planned {
    pub source: SourceName,
    pub location: Location,
    pub settings: SourceSettings,
    pub max_record_bytes: usize,
    pub currency: String,
    pub as_of: NaiveDate,
    /// A file's `_file_id` is its index here.
    pub files: Vec<InputFile>,
    pub warnings: Vec<String>,
}

/// What staging one file found: its counts, as the run records them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStaged {
    pub file_id: i32,
    pub records: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub extra_columns: BTreeSet<String>,
    /// A CSV file without a header line.
    pub empty: bool,
}

/// Lists and chooses the files of `source` for the run date, and checks
/// that what the run needs has been delivered.
pub async fn plan_source(
    source: SourceName,
    settings: &SourceSettings,
    location: &Location,
    calendar: &Calendar,
    params: &Params,
) -> Result<Planned> {
    let metas = listing::list(location).await?;
    let selection = listing::select(source, location, &metas, calendar);
    check_ready(source, location, &selection, calendar, params)?;
    let mut warnings = selection.warnings;
    if !selection.exists && source != SourceName::Customers {
        warnings.push(format!("{source}: nothing at {location}; reading no rows"));
    }
    Ok(Planned {
        source,
        location: location.clone(),
        settings: settings.clone(),
        max_record_bytes: usize::try_from(params.max_record_bytes.0).unwrap_or(usize::MAX),
        currency: params.currency.clone(),
        as_of: calendar.as_of,
        files: selection.files,
        warnings,
    })
}

/// Reads the files of `planned` on this machine, staging their parts
/// below `work_dir` and taking what it can from `cache` (see [`cache`]).
pub async fn read_planned(
    planned: Planned,
    work_dir: &FsPath,
    cache: Option<Arc<Cache>>,
) -> Result<SourceRead> {
    let source = planned.source;
    let folders = Folders::create(work_dir, source)?;
    // Files are read in parallel, one task and one set of staging parts
    // each; two tasks a core, since a task now and then waits for its next
    // chunk or for a write, and the other keeps the core busy meanwhile.
    let parallel = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
    let tasks: Vec<FileTask> = (0..planned.files.len())
        .map(|i| FileTask::of(&planned, i, cache.clone()))
        .collect();
    let bytes = planned.files.iter().map(|f| f.size).sum();
    progress::start(&format!("reading {source}"), tasks.len() as u64, bytes);
    // Spawned lazily, `parallel` at a time, so memory stays bounded.
    let mut done = futures::stream::iter(tasks)
        .map(|t| {
            let parts = Parts::of(&folders, t.file_id);
            tokio::spawn(async move { t.run(&parts?).await })
        })
        .buffered(parallel);
    let mut staged = Vec::new();
    while let Some(joined) = done.next().await {
        let file = joined.map_err(|e| Error::internal(format!("reading task: {e}")))??;
        let size = planned.files[file.file_id as usize].size;
        progress::advance(size, file.records);
        staged.push(file);
    }
    drop(done);
    progress::finish();
    Ok(gather(planned, staged))
}

/// A source's read from what staging each of its files found.
pub fn gather(planned: Planned, staged: Vec<FileStaged>) -> SourceRead {
    let mut read = SourceRead {
        source: planned.source,
        origin: planned.location,
        settings: planned.settings,
        max_record_bytes: planned.max_record_bytes,
        files: Vec::new(),
        rows_read: 0,
        rejected_by_reason: BTreeMap::new(),
        warnings: planned.warnings,
    };
    let mut extra = BTreeSet::new();
    for file in staged {
        read.rows_read += file.records;
        extra.extend(file.extra_columns);
        for (reason, n) in file.rejected_by_reason {
            *read.rejected_by_reason.entry(reason).or_default() += n;
        }
        if file.empty {
            read.warnings.push(format!(
                "{}: '{}' has no header line; read as empty",
                read.source, planned.files[file.file_id as usize].relative
            ));
        }
    }
    if !extra.is_empty() {
        let names: Vec<String> = extra.into_iter().collect();
        read.warnings.push(format!(
            "{}: ignoring extra columns: {}",
            read.source,
            names.join(", ")
        ));
    }
    read.files = planned.files;
    read
}

/// Stages file `file_id` of `planned` into `parts`, from `cache` or by
/// reading and checking it: what an executor does with each file of its
/// group.
pub async fn stage_file(
    planned: &Planned,
    file_id: usize,
    parts: &Parts,
    cache: Option<Arc<Cache>>,
) -> Result<FileStaged> {
    FileTask::of(planned, file_id, cache).run(parts).await
}

/// The files of `read`, as rows of [`spec::files_schema`].
pub fn files_batch(read: &SourceRead) -> Result<datafusion::arrow::record_batch::RecordBatch> {
    use datafusion::arrow::array::{Int32Array, StringArray};
    let ids: Int32Array = (0..read.files.len() as i32).collect();
    let paths: StringArray = read
        .files
        .iter()
        .map(|f| Some(f.relative.as_str()))
        .collect();
    Ok(datafusion::arrow::record_batch::RecordBatch::try_new(
        spec::files_schema(),
        vec![std::sync::Arc::new(ids), std::sync::Arc::new(paths)],
    )?)
}

fn check_ready(
    source: SourceName,
    location: &Location,
    selection: &listing::Selection,
    calendar: &Calendar,
    params: &Params,
) -> Result<()> {
    if source == SourceName::Customers && selection.files.is_empty() {
        let why = if selection.exists {
            format!(
                "no customers partition with dt <= {} under {location}",
                calendar.as_of
            )
        } else {
            format!("no customers files under {location}")
        };
        return Err(Error::NotReady(why));
    }
    let required = params.require_partition_for_as_of.contains(&source);
    // The partition counts once it holds a file the run reads: a folder with
    // only an upload in progress (`part.csv.tmp`) or hidden names is not
    // delivered yet.
    let delivered = selection.files.iter().any(|f| f.dt == Some(calendar.as_of));
    if required && !delivered {
        return Err(Error::NotReady(format!(
            "{source} partition dt={} is missing under {location}, or holds no file to read (required by require_partition_for_as_of)",
            calendar.as_of
        )));
    }
    Ok(())
}

/// One file to read, with everything the task needs to own.
struct FileTask {
    source: SourceName,
    location: Location,
    file: InputFile,
    settings: SourceSettings,
    max_record_bytes: usize,
    currency: String,
    as_of: chrono::NaiveDate,
    file_id: i32,
    cache: Option<Arc<Cache>>,
}

impl FileTask {
    fn of(planned: &Planned, i: usize, cache: Option<Arc<Cache>>) -> FileTask {
        FileTask {
            source: planned.source,
            location: planned.location.clone(),
            file: planned.files[i].clone(),
            settings: planned.settings.clone(),
            max_record_bytes: planned.max_record_bytes,
            currency: planned.currency.clone(),
            as_of: planned.as_of,
            file_id: i as i32,
            cache,
        }
    }

    /// Stages the file into its parts: from the cache when it has the
    /// file, else by reading and checking it (and then keeping the result).
    async fn run(self, parts: &Parts) -> Result<FileStaged> {
        let cached = self.cache.as_ref().zip(Key::of(&self));
        if let Some((cache, key)) = &cached
            && let Some(hit) = cache.restore(key, parts).await
        {
            return Ok(self.staged(hit.found, hit.checked));
        }
        let (found, checked) = self.check(parts).await?;
        if let Some((cache, key)) = cached {
            cache.keep(key, &self, &found, &checked, parts).await;
        }
        Ok(self.staged(found, checked))
    }

    fn staged(&self, found: FileFound, checked: Checked) -> FileStaged {
        FileStaged {
            file_id: self.file_id,
            records: found.records,
            rejected_by_reason: checked.by_reason,
            extra_columns: found.extra_columns,
            empty: found.empty,
        }
    }

    /// Reads the file, checks its records and writes them to `parts`.
    async fn check(&self, parts: &Parts) -> Result<(FileFound, Checked)> {
        let checker = Checker::new(CheckContext {
            source: self.source,
            currency: &self.currency,
            as_of: self.as_of,
            file: &self.file.relative,
            dt: self.file.dt,
        });
        let mut sink = StageSink::create(self.source, parts, checker)?;
        let found = read_records(
            &self.location,
            &self.file,
            &self.settings,
            self.max_record_bytes,
            self.source,
            &mut sink,
            GetOptions::default(),
        )
        .await?;
        Ok((found, sink.finish()?))
    }
}

/// What reading one file found.
struct FileFound {
    records: u64,
    extra_columns: BTreeSet<String>,
    /// A CSV file without a header line.
    empty: bool,
    /// The object as its one GET found it (a text file).
    object: Option<ObjectMeta>,
}

/// Reads one file's records, handing them to `sink` one at a time; a CSV
/// record or NDJSON line longer than `max_record_bytes` is malformed. A
/// text file is read in one GET with `get`'s preconditions; a Parquet file
/// in ranged reads, each with `get.if_match`.
async fn read_records(
    location: &Location,
    file: &InputFile,
    settings: &SourceSettings,
    max_record_bytes: usize,
    source: SourceName,
    sink: &mut impl RecordSink,
    get: GetOptions,
) -> Result<FileFound> {
    let label = format!("{}/{}", location, file.relative);
    let columns = spec::columns(source);
    match file.format {
        Format::Parquet => {
            let stats = parquet_in::read_parquet(
                std::sync::Arc::clone(&location.store),
                file.path.clone(),
                file.size,
                get.if_match,
                columns,
                &label,
                sink,
            )
            .await?;
            Ok(FileFound {
                records: stats.records,
                extra_columns: stats.extra_columns,
                empty: false,
                object: None,
            })
        }
        Format::Csv => {
            let mut reader =
                csv::CsvReader::new(columns, settings.encoding, &label, max_record_bytes);
            let object = location
                .stream(&file.path, get, &label, |chunk| reader.feed(chunk, sink))
                .await?;
            reader.finish(sink)?;
            let empty = !reader.has_header();
            Ok(FileFound {
                records: reader.records,
                extra_columns: reader.extra_columns,
                empty,
                object: Some(object),
            })
        }
        Format::Ndjson => {
            let mut reader =
                ndjson::NdjsonReader::new(columns, settings.encoding, &label, max_record_bytes);
            let object = location
                .stream(&file.path, get, &label, |chunk| reader.feed(chunk, sink))
                .await?;
            reader.finish(sink)?;
            Ok(FileFound {
                records: reader.records,
                extra_columns: reader.extra_columns,
                empty: false,
                object: Some(object),
            })
        }
    }
}
