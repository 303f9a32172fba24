//! CSV files into records for a [`RecordSink`]: header matching, decoding,
//! field counts, redaction of personal data in `raw`.
//!
//! A header line is the file's column names, or, in a file without one, a
//! customers record: an error about a header that could not be parsed names
//! the file and the line, never its text (docs/inputs.md#personal-data).

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::csv_split::{CsvSplitter, Record};
use super::decode::{decode_lossy, decode_strict, encoding_name};
use super::header::{NamedIn, map_columns, normalise};
use super::record::{RecordSink, cut_raw};
use super::spec::Column;
use crate::config::Encoding;
use crate::error::{Error, Result};

/// What `raw` holds for a customers record that could not be split into fields.
pub const WITHHELD: &str = "<withheld>";
/// What replaces personal data in `raw`.
pub const REDACTED: &str = "<redacted>";

/// How the file's columns map onto the source's.
struct Header {
    width: usize,
    /// For each source column, the field that holds it.
    fields: Vec<Option<usize>>,
    /// Fields whose text is personal data.
    personal: Vec<usize>,
}

/// Reads one CSV file, fed chunk by chunk.
pub struct CsvReader<'a> {
    columns: &'static [Column],
    encoding: Encoding,
    label: &'a str,
    splitter: CsvSplitter,
    header: Option<Header>,
    decoded: String,
    ranges: Vec<(usize, usize)>,
    /// Header names that are not columns of the source.
    pub extra_columns: BTreeSet<String>,
    pub records: u64,
}

impl<'a> CsvReader<'a> {
    pub fn new(
        columns: &'static [Column],
        encoding: Encoding,
        label: &'a str,
        max_record_bytes: usize,
    ) -> Self {
        CsvReader {
            columns,
            encoding,
            label,
            splitter: CsvSplitter::new(max_record_bytes),
            header: None,
            decoded: String::new(),
            ranges: Vec::new(),
            extra_columns: BTreeSet::new(),
            records: 0,
        }
    }

    /// True once a header line has been seen (a file without one is empty).
    pub fn has_header(&self) -> bool {
        self.header.is_some()
    }

    pub fn feed(&mut self, chunk: &[u8], sink: &mut impl RecordSink) -> Result<()> {
        let mut splitter = std::mem::take(&mut self.splitter);
        let result = splitter.feed(chunk, &mut |r| self.on_record(r, sink));
        self.splitter = splitter;
        result
    }

    pub fn finish(&mut self, sink: &mut impl RecordSink) -> Result<()> {
        let mut splitter = std::mem::take(&mut self.splitter);
        let result = splitter.finish(&mut |r| self.on_record(r, sink));
        self.splitter = splitter;
        result
    }

    fn on_record(&mut self, r: Record, sink: &mut impl RecordSink) -> Result<()> {
        let Some(header) = &self.header else {
            if let Some(why) = r.broken {
                // No record after it can be read safely; its text may be a
                // customers record, so it is not quoted.
                return Err(Error::config(format!(
                    "{}: line {}: the header line cannot be read: {why}",
                    self.label, r.line
                )));
            }
            self.header = Some(self.read_header(&r)?);
            return Ok(());
        };
        self.records += 1;
        let personal = !header.personal.is_empty() || self.columns.iter().any(|c| c.personal);
        if let Some(why) = r.broken {
            let raw = self.unsplit_raw(&r, personal);
            sink.malformed(r.line, &raw, why)
        } else if r.field_count() != header.width {
            let raw = self.unsplit_raw(&r, personal);
            let detail = format!(
                "expected {} fields, found {}",
                header.width,
                r.field_count()
            );
            sink.malformed(r.line, &raw, &detail)
        } else {
            match decode_strict(self.encoding, r.raw) {
                None => {
                    let raw = redacted_raw(self.encoding, &r, &header.personal);
                    let detail = format!("bytes not valid in {}", encoding_name(self.encoding));
                    sink.malformed(r.line, &raw, &detail)
                }
                Some(text) => self.push_fields(&r, &text, sink),
            }
        }
    }

    /// The raw text of a record that could not be split into fields (of a
    /// record cut at max_record_bytes, its first 1 KiB).
    fn unsplit_raw(&self, r: &Record, personal: bool) -> String {
        if personal {
            WITHHELD.to_owned()
        } else if r.cut {
            cut_raw(&decode_lossy(self.encoding, r.raw)).to_owned()
        } else {
            decode_lossy(self.encoding, r.raw).into_owned()
        }
    }

    /// Hands on a record whose bytes decoded to `text`. Its raw is that
    /// text, unless a personal field must be cut out of it.
    fn push_fields(&mut self, r: &Record, text: &str, sink: &mut impl RecordSink) -> Result<()> {
        let Some(header) = &self.header else {
            return Ok(());
        };
        let encoding = self.encoding;
        let raw = || match header.personal.is_empty() {
            true => Cow::Borrowed(text),
            false => redacted_raw(encoding, r, &header.personal),
        };
        if encoding == Encoding::Utf8 {
            // The record is valid UTF-8 (checked before), and so is every
            // field of it: fields are cut at ASCII bytes. No copy needed,
            // and an unquoted field is a slice of the text checked already.
            let text = |f: usize| {
                r.field_in(text, f)
                    .or_else(|| std::str::from_utf8(r.field(f)).ok())
            };
            return sink.record(r.line, |col| header.fields[col].and_then(text), raw);
        }
        self.decoded.clear();
        self.ranges.clear();
        for i in 0..r.field_count() {
            let start = self.decoded.len();
            if let Some(text) = decode_strict(self.encoding, r.field(i)) {
                self.decoded.push_str(&text);
            }
            self.ranges.push((start, self.decoded.len()));
        }
        let (decoded, ranges) = (&self.decoded, &self.ranges);
        let field = |col: usize| header.fields[col].map(|f| &decoded[ranges[f].0..ranges[f].1]);
        sink.record(r.line, field, raw)
    }

    fn read_header(&mut self, r: &Record) -> Result<Header> {
        let names: Vec<String> = (0..r.field_count())
            .map(|i| normalise(&decode_lossy(self.encoding, r.field(i))))
            .collect();
        let map = map_columns(
            self.columns,
            &names,
            self.label,
            NamedIn::HeaderLine(r.line),
        )?;
        self.extra_columns.extend(map.extra);
        Ok(Header {
            width: names.len(),
            fields: map.fields,
            personal: map.personal,
        })
    }
}

/// The record's text with personal fields replaced by [`REDACTED`].
fn redacted_raw<'r>(encoding: Encoding, r: &Record<'r>, personal: &[usize]) -> Cow<'r, str> {
    if personal.is_empty() {
        return decode_lossy(encoding, r.raw);
    }
    let mut spans: Vec<(usize, usize)> = personal.iter().map(|&f| r.raw_span(f)).collect();
    spans.sort_unstable();
    let mut out = String::with_capacity(r.raw.len());
    let mut at = 0;
    for (start, end) in spans {
        out.push_str(&decode_lossy(encoding, &r.raw[at..start]));
        out.push_str(REDACTED);
        at = end;
    }
    out.push_str(&decode_lossy(encoding, &r.raw[at..]));
    Cow::Owned(out)
}
