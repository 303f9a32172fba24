//! Sources: list the exports of a date, read them (CSV, NDJSON, Parquet),
//! check every row, and stage the typed rows and the rejected ones as local
//! Parquet for the quality step. Memory stays bounded: files are streamed
//! and handled one batch at a time, a few files at once (one per core).

mod csv;
mod csv_split;
mod decode;
#[doc(hidden)]
pub mod fuzzing;
pub mod listing;
mod ndjson;
mod object_reader;
mod parquet_in;
mod raw;
mod reread;
pub mod spec;
mod validate;
pub mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path as FsPath, PathBuf};

use futures::StreamExt;
use object_store::ObjectStoreExt;
use parquet::arrow::ArrowWriter;

pub use csv::{REDACTED, WITHHELD};
pub use listing::{Format, InputFile};
pub use reread::raw_records;

use crate::calendar::Calendar;
use crate::config::{Params, SourceSettings};
use crate::domain::SourceName;
use crate::error::{Error, Result};
use crate::storage::Location;
use raw::RecordSink;
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
    /// Local Parquet folder of the rows that passed the row checks.
    pub staged: PathBuf,
    /// Local Parquet folder of the rows that failed them (the `rejected` columns).
    pub rejected: PathBuf,
}

/// Lists, selects and reads one source for the run date.
pub async fn read_source(
    source: SourceName,
    settings: &SourceSettings,
    location: &Location,
    calendar: &Calendar,
    params: &Params,
    work_dir: &FsPath,
) -> Result<SourceRead> {
    let metas = listing::list(location).await?;
    let selection = listing::select(source, location, &metas, calendar);
    check_ready(source, location, &selection, calendar, params)?;
    let max_record_bytes = usize::try_from(params.max_record_bytes).unwrap_or(usize::MAX);
    let mut read = SourceRead {
        source,
        origin: location.clone(),
        settings: settings.clone(),
        max_record_bytes,
        files: Vec::new(),
        rows_read: 0,
        rejected_by_reason: BTreeMap::new(),
        warnings: selection.warnings,
        staged: work_dir.join(format!("staged_{source}")),
        rejected: work_dir.join(format!("rejected_{source}")),
    };
    if !selection.exists && source != SourceName::Customers {
        read.warnings
            .push(format!("{source}: nothing at {location}; reading no rows"));
    }
    std::fs::create_dir_all(&read.staged)?;
    std::fs::create_dir_all(&read.rejected)?;
    // An empty part, so the staged tables have their schema with no files.
    let (staged, rejected) = stage_writers(source, &read.staged, &read.rejected, "empty")?;
    staged.close()?;
    rejected.close()?;
    let mut extra = BTreeSet::new();
    // Files are read in parallel, one task and one pair of staging parts
    // each; two tasks a core, since a task now and then waits for its next
    // chunk or for a write, and the other keeps the core busy meanwhile.
    let parallel = 2 * std::thread::available_parallelism().map_or(2, |n| n.get());
    let tasks: Vec<FileTask> = selection
        .files
        .iter()
        .enumerate()
        .map(|(i, file)| FileTask {
            source,
            location: location.clone(),
            file: file.clone(),
            settings: settings.clone(),
            max_record_bytes,
            currency: params.currency.clone(),
            as_of: calendar.as_of,
            staged: read.staged.clone(),
            rejected: read.rejected.clone(),
            file_id: i as i32,
        })
        .collect();
    // Spawned lazily, `parallel` at a time, so memory stays bounded.
    let mut done = futures::stream::iter(tasks)
        .map(|t| tokio::spawn(t.run()))
        .buffered(parallel);
    while let Some(joined) = done.next().await {
        let (file, found, by_reason) =
            joined.map_err(|e| Error::internal(format!("reading task: {e}")))??;
        read.rows_read += found.records;
        extra.extend(found.extra_columns);
        for (reason, n) in by_reason {
            *read.rejected_by_reason.entry(reason).or_default() += n;
        }
        if found.empty {
            read.warnings.push(format!(
                "{source}: '{}' has no header line; read as empty",
                file.relative
            ));
        }
    }
    drop(done);
    if !extra.is_empty() {
        let names: Vec<String> = extra.into_iter().collect();
        read.warnings.push(format!(
            "{source}: ignoring extra columns: {}",
            names.join(", ")
        ));
    }
    read.files = selection.files;
    Ok(read)
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
    staged: PathBuf,
    rejected: PathBuf,
    file_id: i32,
}

impl FileTask {
    async fn run(self) -> Result<(InputFile, FileFound, BTreeMap<String, u64>)> {
        let part = format!("{:05}", self.file_id);
        let (staged, rejected) = stage_writers(self.source, &self.staged, &self.rejected, &part)?;
        let checker = Checker::new(CheckContext {
            source: self.source,
            currency: &self.currency,
            as_of: self.as_of,
            file: &self.file.relative,
            file_id: self.file_id,
            dt: self.file.dt,
        });
        let mut sink = StageSink {
            staged,
            rejected,
            checker,
        };
        let found = read_records(
            &self.location,
            &self.file,
            &self.settings,
            self.max_record_bytes,
            self.source,
            &mut sink,
        )
        .await?;
        let by_reason = sink.finish()?;
        Ok((self.file, found, by_reason))
    }
}

/// What reading one file found.
struct FileFound {
    records: u64,
    extra_columns: BTreeSet<String>,
    /// A CSV file without a header line.
    empty: bool,
}

/// Reads one file's records, handing them to `sink` one at a time; a CSV
/// record or NDJSON line longer than `max_record_bytes` is malformed.
async fn read_records(
    location: &Location,
    file: &InputFile,
    settings: &SourceSettings,
    max_record_bytes: usize,
    source: SourceName,
    sink: &mut impl RecordSink,
) -> Result<FileFound> {
    let label = format!("{}/{}", location, file.relative);
    let columns = spec::columns(source);
    match file.format {
        Format::Parquet => {
            let stats = parquet_in::read_parquet(
                std::sync::Arc::clone(&location.store),
                file.path.clone(),
                file.size,
                columns,
                &label,
                sink,
            )
            .await?;
            Ok(FileFound {
                records: stats.records,
                extra_columns: stats.extra_columns,
                empty: false,
            })
        }
        Format::Csv => {
            let mut reader =
                csv::CsvReader::new(columns, settings.encoding, &label, max_record_bytes);
            stream_file(location, file, &label, |chunk| reader.feed(chunk, sink)).await?;
            reader.finish(sink)?;
            let empty = !reader.has_header();
            Ok(FileFound {
                records: reader.records,
                extra_columns: reader.extra_columns,
                empty,
            })
        }
        Format::Ndjson => {
            let mut reader =
                ndjson::NdjsonReader::new(columns, settings.encoding, &label, max_record_bytes);
            stream_file(location, file, &label, |chunk| reader.feed(chunk, sink)).await?;
            reader.finish(sink)?;
            Ok(FileFound {
                records: reader.records,
                extra_columns: reader.extra_columns,
                empty: false,
            })
        }
    }
}

/// Feeds an object's bytes to `feed` as they arrive.
async fn stream_file(
    location: &Location,
    file: &InputFile,
    label: &str,
    mut feed: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    let got = location
        .store
        .get(&file.path)
        .await
        .map_err(|e| Error::storage(format!("reading {label}"), e))?;
    let failed = |e| Error::storage(format!("reading {label}"), e);
    match got.payload {
        object_store::GetResultPayload::File(file, _) => {
            let mut chunks = local_chunks(file, label);
            while let Some(chunk) = chunks.next().await {
                feed(&chunk?)?;
            }
        }
        object_store::GetResultPayload::Stream(mut chunks) => {
            while let Some(chunk) = chunks.next().await {
                feed(&chunk.map_err(failed)?)?;
            }
        }
    }
    Ok(())
}

/// A local file's bytes, 1 MiB at a time. object_store streams local files
/// in 8 KiB reads, one blocking task each, which costs more in thread
/// hand-offs than the reads themselves.
fn local_chunks(
    file: File,
    label: &str,
) -> futures::stream::BoxStream<'static, Result<bytes::Bytes>> {
    const CHUNK: u64 = 1 << 20;
    let label = label.to_owned();
    futures::stream::try_unfold(Some(file), move |file| {
        let label = label.clone();
        async move {
            let Some(file) = file else { return Ok(None) };
            let read = tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let mut buffer = Vec::with_capacity(CHUNK as usize);
                let mut file = file;
                (&mut file).take(CHUNK).read_to_end(&mut buffer)?;
                Ok::<_, std::io::Error>((buffer, file))
            })
            .await
            .map_err(|e| Error::internal(format!("reading {label}: {e}")))?;
            let (buffer, file) = read.map_err(|e| {
                let source = object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(e),
                };
                Error::storage(format!("reading {label}"), source)
            })?;
            if buffer.is_empty() {
                return Ok(None);
            }
            let more = (buffer.len() as u64 == CHUNK).then_some(file);
            Ok(Some((bytes::Bytes::from(buffer), more)))
        }
    })
    .boxed()
}

/// Local Parquet writers for one part (`part-<part>.parquet`) of a
/// source's staged and rejected folders.
fn stage_writers(
    source: SourceName,
    staged: &FsPath,
    rejected: &FsPath,
    part: &str,
) -> Result<(ArrowWriter<File>, ArrowWriter<File>)> {
    let name = format!("part-{part}.parquet");
    let writer = |folder: &FsPath, schema: datafusion::arrow::datatypes::SchemaRef| {
        let props = crate::scratch::writer_properties(&schema);
        ArrowWriter::try_new(File::create(folder.join(&name))?, schema, Some(props))
            .map_err(Error::from)
    };
    Ok((
        writer(staged, spec::staged_schema(source))?,
        writer(rejected, spec::rejected_schema())?,
    ))
}

/// Checks one file's records as they are read and writes the checked rows,
/// a batch at a time, to its staging part.
struct StageSink<'a> {
    staged: ArrowWriter<File>,
    rejected: ArrowWriter<File>,
    checker: Checker<'a>,
}

impl StageSink<'_> {
    /// Writes the checked rows once a batch's worth has built up.
    fn write_when_full(&mut self) -> Result<()> {
        if self.checker.is_full() {
            self.write()
        } else {
            Ok(())
        }
    }

    fn write(&mut self) -> Result<()> {
        let (staged, rejected) = self.checker.take()?;
        self.staged.write(&staged)?;
        self.rejected.write(&rejected)?;
        Ok(())
    }

    /// Closes the part; the rows rejected, by reason.
    fn finish(mut self) -> Result<BTreeMap<String, u64>> {
        self.write()?;
        self.staged.close()?;
        self.rejected.close()?;
        let by_reason = self.checker.by_reason();
        Ok(by_reason
            .iter()
            .map(|(r, n)| ((*r).to_owned(), *n))
            .collect())
    }
}

impl RecordSink for StageSink<'_> {
    fn record<'t, 'r>(
        &mut self,
        line: i64,
        field: impl Fn(usize) -> Option<&'t str>,
        raw: impl FnOnce() -> std::borrow::Cow<'r, str>,
    ) -> Result<()> {
        self.checker.record(line, field, raw);
        self.write_when_full()
    }

    fn malformed(&mut self, line: i64, raw: &str, detail: &str) -> Result<()> {
        self.checker.malformed(line, raw, detail);
        self.write_when_full()
    }
}
