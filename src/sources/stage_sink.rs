//! The run's [`RecordSink`]: checks each record as it is read (`validate`)
//! and writes the checked rows, a batch at a time, to one part of the
//! source's staged and rejected folders, local Parquet for the quality step,
//! and the staged rows' key hashes, in sorted runs, to its keys folder.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{SchemaRef, UInt64Type};
use parquet::arrow::ArrowWriter;

use super::record::RecordSink;
use super::spec;
use super::validate::Checker;
use crate::domain::SourceName;
use crate::error::{Error, Result};

/// The folders of a source's parts, one part of each per file.
#[derive(Debug, Clone)]
pub struct Folders {
    /// The rows that passed, `_file_id=<i>/part.parquet`
    /// ([`spec::staged_file_schema`]).
    pub staged: PathBuf,
    /// The rows that failed (the `rejected` columns).
    pub rejected: PathBuf,
    /// The staged rows' key hashes, in sorted runs ([`spec::keys_schema`]).
    pub keys: PathBuf,
}

/// The three kinds of part a file is staged into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    Staged,
    Rejected,
    Keys,
}

impl PartKind {
    pub const ALL: [PartKind; 3] = [PartKind::Staged, PartKind::Rejected, PartKind::Keys];

    /// The folder of `source`'s parts of this kind, below a work folder
    /// or a run's scratch.
    pub fn folder(self, source: SourceName) -> String {
        let kind = match self {
            PartKind::Staged => "staged",
            PartKind::Rejected => "rejected",
            PartKind::Keys => "keys",
        };
        format!("{kind}_{source}")
    }

    /// The name of file `file_id`'s part of this kind, below its folder.
    pub fn part(self, file_id: i32) -> String {
        match self {
            PartKind::Staged => format!("{}/part.parquet", spec::staged_part_folder(file_id)),
            PartKind::Rejected | PartKind::Keys => format!("part-{file_id:05}.parquet"),
        }
    }
}

impl Folders {
    /// The folders of `source` below `work_dir`, created.
    pub fn create(work_dir: &Path, source: SourceName) -> Result<Folders> {
        let folders = Folders {
            staged: work_dir.join(PartKind::Staged.folder(source)),
            rejected: work_dir.join(PartKind::Rejected.folder(source)),
            keys: work_dir.join(PartKind::Keys.folder(source)),
        };
        for folder in [&folders.staged, &folders.rejected, &folders.keys] {
            std::fs::create_dir_all(folder)?;
        }
        Ok(folders)
    }
}

/// Where one file's checked rows go: its part of each of the source's
/// [`Folders`].
#[derive(Debug, Clone)]
pub struct Parts {
    pub staged: PathBuf,
    pub rejected: PathBuf,
    pub keys: PathBuf,
}

impl Parts {
    /// The parts of file `file_id` below the source's folders (creating
    /// the staged part's folder).
    pub fn of(folders: &Folders, file_id: i32) -> Result<Parts> {
        let staged = folders.staged.join(PartKind::Staged.part(file_id));
        if let Some(folder) = staged.parent() {
            std::fs::create_dir_all(folder)?;
        }
        Ok(Parts {
            staged,
            rejected: folders.rejected.join(PartKind::Rejected.part(file_id)),
            keys: folders.keys.join(PartKind::Keys.part(file_id)),
        })
    }

    /// The part of `kind`.
    pub fn of_kind(&self, kind: PartKind) -> &Path {
        match kind {
            PartKind::Staged => &self.staged,
            PartKind::Rejected => &self.rejected,
            PartKind::Keys => &self.keys,
        }
    }

    /// Removes the parts, if there (a cache hit that did not check out).
    pub fn remove(&self) {
        for part in [&self.staged, &self.rejected, &self.keys] {
            let _ = std::fs::remove_file(part);
        }
    }
}

fn writer(path: &Path, schema: SchemaRef) -> Result<ArrowWriter<File>> {
    let props = crate::scratch::writer_properties(&schema);
    Ok(ArrowWriter::try_new(
        File::create(path)?,
        schema,
        Some(props),
    )?)
}

/// Rows per row group of a keys part: the duplicate check reads every
/// run of every file at once, a row group of each at a time. It divides
/// [`spec::KEY_RUN_ROWS`], so that no row group spans two runs.
const KEY_GROUP_ROWS: usize = 16 * 1024;
const _: () = assert!(spec::KEY_RUN_ROWS.is_multiple_of(KEY_GROUP_ROWS));

/// Writes a file's keys part ([`spec::keys_schema`]): the hashes in sorted
/// runs of [`spec::KEY_RUN_ROWS`], so that it holds one run, not the file.
struct KeysWriter {
    writer: ArrowWriter<File>,
    run: Vec<u64>,
}

impl KeysWriter {
    fn create(path: &Path) -> Result<KeysWriter> {
        let schema = spec::keys_schema();
        let props = crate::scratch::writer_properties(&schema)
            .into_builder()
            .set_max_row_group_row_count(Some(KEY_GROUP_ROWS))
            .build();
        Ok(KeysWriter {
            writer: ArrowWriter::try_new(File::create(path)?, schema, Some(props))?,
            run: Vec::new(),
        })
    }

    fn extend(&mut self, mut hashes: &[u64]) -> Result<()> {
        while !hashes.is_empty() {
            let room = spec::KEY_RUN_ROWS - self.run.len();
            let (now, later) = hashes.split_at(room.min(hashes.len()));
            self.run.extend_from_slice(now);
            if self.run.len() == spec::KEY_RUN_ROWS {
                self.write_run()?;
            }
            hashes = later;
        }
        Ok(())
    }

    /// Writes the run sorted, ending its last row group (the writer cuts
    /// the others at [`KEY_GROUP_ROWS`]).
    fn write_run(&mut self) -> Result<()> {
        let mut run = std::mem::take(&mut self.run);
        run.sort_unstable();
        self.writer.write(&spec::keys_batch(run)?)?;
        self.writer.flush()?;
        Ok(())
    }

    fn close(mut self) -> Result<()> {
        if !self.run.is_empty() {
            self.write_run()?;
        }
        self.writer.close()?;
        Ok(())
    }
}

/// What checking one file's records found, beyond the rows themselves.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    /// The rows rejected, by reason.
    pub by_reason: BTreeMap<String, u64>,
    /// The latest date, in a column that must not be after `as_of`, of
    /// the rows staged.
    pub max_not_future: Option<NaiveDate>,
}

/// Checks one file's records as they are read and writes the checked rows,
/// a batch at a time, to its staging parts.
pub struct StageSink<'a> {
    staged: ArrowWriter<File>,
    rejected: ArrowWriter<File>,
    keys: KeysWriter,
    checker: Checker<'a>,
}

impl<'a> StageSink<'a> {
    /// A sink writing `parts`.
    pub fn create(source: SourceName, parts: &Parts, checker: Checker<'a>) -> Result<Self> {
        Ok(StageSink {
            staged: writer(&parts.staged, spec::staged_file_schema(source))?,
            rejected: writer(&parts.rejected, spec::rejected_schema())?,
            keys: KeysWriter::create(&parts.keys)?,
            checker,
        })
    }
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
        let hashes = staged
            .column_by_name(spec::KEY_HASH)
            .ok_or_else(|| Error::internal("a staged batch without its key hashes"))?;
        self.keys
            .extend(hashes.as_primitive::<UInt64Type>().values())?;
        self.staged.write(&staged)?;
        self.rejected.write(&rejected)?;
        Ok(())
    }

    /// Closes the parts.
    pub fn finish(mut self) -> Result<Checked> {
        self.write()?;
        self.staged.close()?;
        self.rejected.close()?;
        self.keys.close()?;
        let by_reason = self.checker.by_reason();
        Ok(Checked {
            by_reason: by_reason
                .iter()
                .map(|(r, n)| ((*r).to_owned(), *n))
                .collect(),
            max_not_future: self.checker.max_not_future(),
        })
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

#[cfg(test)]
mod tests {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    #[test]
    fn a_file_s_keys_are_written_in_sorted_runs_each_beginning_a_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.parquet");
        let rows = spec::KEY_RUN_ROWS + 3;
        let hashes: Vec<u64> = (0..rows as u64).rev().collect();
        let mut keys = KeysWriter::create(&path).unwrap();
        for chunk in hashes.chunks(100_000) {
            keys.extend(chunk).unwrap();
        }
        keys.close().unwrap();

        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        let sizes: Vec<usize> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows() as usize)
            .collect();
        let starts: Vec<usize> = sizes
            .iter()
            .scan(0, |start, rows| {
                let this = *start;
                *start += rows;
                Some(this)
            })
            .collect();
        assert!(starts.contains(&spec::KEY_RUN_ROWS), "{starts:?}");
        // The merge of the duplicate checks holds a row group of each run.
        assert!(
            sizes.iter().all(|&rows| rows <= KEY_GROUP_ROWS),
            "{sizes:?}"
        );
        let written: Vec<u64> = reader
            .build()
            .unwrap()
            .flat_map(|b| {
                b.unwrap()
                    .column(0)
                    .as_primitive::<UInt64Type>()
                    .values()
                    .to_vec()
            })
            .collect();
        let (first, second) = written.split_at(spec::KEY_RUN_ROWS);
        assert!(first.is_sorted() && second.is_sorted());
        assert_eq!(
            first[0], 3,
            "the first run: the first KEY_RUN_ROWS hashes given"
        );
        assert_eq!(second, [0, 1, 2]);
    }
}
