//! Records as text, field by field, before any check: what every reader
//! (CSV, NDJSON, Parquet) hands on, one record at a time, to a
//! [`RecordSink`]. The run's sink checks and types each record as it comes
//! (`validate`): no batch of text columns is built and read back (a UTF-8
//! CSV field is a slice of the file's bytes; NDJSON values and other
//! encodings are decoded once into the reader's buffer), and a record's
//! whole text is only made for a record that is rejected.

use std::borrow::Cow;

use crate::error::Result;

/// Rows per batch of checked rows.
pub const BATCH_ROWS: usize = 8192;

/// A ceiling on the columns of a source (the widest, customers in
/// docs/inputs.md#columns, has 10), so that a record's fields are held on the
/// stack; checked at compile time in `spec`.
pub const MAX_COLUMNS: usize = 16;

/// What `rejected.raw` shows of a record longer than `max_record_bytes`
/// (docs/inputs.md#max_record_bytes): its first 1 KiB, cut between characters.
pub const RAW_KEPT: usize = 1024;

/// The bytes a reader keeps of such a record, a few more than shown, so that
/// a character the byte limit cuts in two is dropped whole by [`cut_raw`]
/// rather than shown as U+FFFD.
pub const KEPT_BYTES: usize = RAW_KEPT + 4;

/// Why such a record is malformed.
pub const TOO_LONG: &str = "record longer than max_record_bytes";

/// The first [`RAW_KEPT`] bytes of `text`, cut between characters.
pub fn cut_raw(text: &str) -> &str {
    let mut end = text.len().min(RAW_KEPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Where a reader puts the records it reads.
pub trait RecordSink {
    /// A record split into fields: `field(i)` is source column i's text
    /// (None when the record does not name it or holds a null there, as
    /// NDJSON `null` or a Parquet null); `raw()` is the record's text
    /// as `rejected.raw` shows it (personal data redacted), made only when
    /// wanted.
    fn record<'t, 'r>(
        &mut self,
        line: i64,
        field: impl Fn(usize) -> Option<&'t str>,
        raw: impl FnOnce() -> Cow<'r, str>,
    ) -> Result<()>;

    /// A record that could not be read into fields, and why.
    fn malformed(&mut self, line: i64, raw: &str, detail: &str) -> Result<()>;
}

/// A record as read, owned: what re-reads and the readers' tests keep.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    pub line: i64,
    pub fields: Vec<Option<String>>,
    pub raw: String,
    /// For a record that could not be read into fields, why.
    pub malformed: Option<String>,
}

/// Keeps the records `keep(line)` selects, as they were read.
pub struct Collect<F> {
    columns: usize,
    keep: F,
    pub records: Vec<RawRecord>,
}

impl<F: Fn(i64) -> bool> Collect<F> {
    pub fn new(columns: usize, keep: F) -> Self {
        Collect {
            columns,
            keep,
            records: Vec::new(),
        }
    }
}

impl<F: Fn(i64) -> bool> RecordSink for Collect<F> {
    fn record<'t, 'r>(
        &mut self,
        line: i64,
        field: impl Fn(usize) -> Option<&'t str>,
        raw: impl FnOnce() -> Cow<'r, str>,
    ) -> Result<()> {
        if (self.keep)(line) {
            self.records.push(RawRecord {
                line,
                fields: (0..self.columns)
                    .map(|i| field(i).map(str::to_owned))
                    .collect(),
                raw: raw().into_owned(),
                malformed: None,
            });
        }
        Ok(())
    }

    fn malformed(&mut self, line: i64, raw: &str, detail: &str) -> Result<()> {
        if (self.keep)(line) {
            self.records.push(RawRecord {
                line,
                fields: vec![None; self.columns],
                raw: raw.to_owned(),
                malformed: Some(detail.to_owned()),
            });
        }
        Ok(())
    }
}
