//! The run's [`RecordSink`]: checks each record as it is read (`validate`)
//! and writes the checked rows, a batch at a time, to one part of the
//! source's staged and rejected folders, local Parquet for the quality step.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;

use super::record::RecordSink;
use super::spec;
use super::validate::Checker;
use crate::domain::SourceName;
use crate::error::Result;

/// Where one file's checked rows go: its part of the source's staged
/// folder (`_file_id=<i>/part.parquet`, see [`spec::staged_file_schema`])
/// and its part of the rejected folder.
#[derive(Debug, Clone)]
pub struct Parts {
    pub staged: PathBuf,
    pub rejected: PathBuf,
}

impl Parts {
    /// The parts of file `file_id` below the source's folders (creating
    /// the staged part's folder).
    pub fn of(staged: &Path, rejected: &Path, file_id: i32) -> Result<Parts> {
        let folder = staged.join(spec::staged_part_folder(file_id));
        std::fs::create_dir_all(&folder)?;
        Ok(Parts {
            staged: folder.join("part.parquet"),
            rejected: rejected.join(format!("part-{file_id:05}.parquet")),
        })
    }

    /// Removes both parts, if there (a cache hit that did not check out).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.staged);
        let _ = std::fs::remove_file(&self.rejected);
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

/// Writes an empty part to the rejected folder, so that the rejected table
/// has its schema when no file holds a row. (The staged table is read with
/// its schema given.)
pub fn write_empty_rejected(rejected: &Path) -> Result<()> {
    writer(
        &rejected.join("part-empty.parquet"),
        spec::rejected_schema(),
    )?
    .close()?;
    Ok(())
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
    checker: Checker<'a>,
}

impl<'a> StageSink<'a> {
    /// A sink writing `parts`.
    pub fn create(source: SourceName, parts: &Parts, checker: Checker<'a>) -> Result<Self> {
        Ok(StageSink {
            staged: writer(&parts.staged, spec::staged_file_schema(source))?,
            rejected: writer(&parts.rejected, spec::rejected_schema())?,
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
        self.staged.write(&staged)?;
        self.rejected.write(&rejected)?;
        Ok(())
    }

    /// Closes the parts.
    pub fn finish(mut self) -> Result<Checked> {
        self.write()?;
        self.staged.close()?;
        self.rejected.close()?;
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
