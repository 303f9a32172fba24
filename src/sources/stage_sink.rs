//! The run's [`RecordSink`]: checks each record as it is read (`validate`)
//! and writes the checked rows, a batch at a time, to one part of the
//! source's staged and rejected folders, local Parquet for the quality step.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use parquet::arrow::ArrowWriter;

use super::record::RecordSink;
use super::spec;
use super::validate::Checker;
use crate::domain::SourceName;
use crate::error::{Error, Result};

/// Local Parquet writers for one part (`part-<part>.parquet`) of a
/// source's staged and rejected folders.
fn stage_writers(
    source: SourceName,
    staged: &Path,
    rejected: &Path,
    part: &str,
) -> Result<(ArrowWriter<File>, ArrowWriter<File>)> {
    let name = format!("part-{part}.parquet");
    let writer = |folder: &Path, schema: datafusion::arrow::datatypes::SchemaRef| {
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
pub struct StageSink<'a> {
    staged: ArrowWriter<File>,
    rejected: ArrowWriter<File>,
    checker: Checker<'a>,
}

/// Writes an empty part to both folders, so that the staged tables have
/// their schema when no file holds a row.
pub fn write_empty_parts(source: SourceName, staged: &Path, rejected: &Path) -> Result<()> {
    let (staged, rejected) = stage_writers(source, staged, rejected, "empty")?;
    staged.close()?;
    rejected.close()?;
    Ok(())
}

impl<'a> StageSink<'a> {
    /// A sink writing part `part` of the folders.
    pub fn create(
        source: SourceName,
        staged: &Path,
        rejected: &Path,
        part: &str,
        checker: Checker<'a>,
    ) -> Result<Self> {
        let (staged, rejected) = stage_writers(source, staged, rejected, part)?;
        Ok(StageSink {
            staged,
            rejected,
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

    /// Closes the part; the rows rejected, by reason.
    pub fn finish(mut self) -> Result<BTreeMap<String, u64>> {
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
