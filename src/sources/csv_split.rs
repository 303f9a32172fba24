//! RFC 4180 records from a byte stream (docs/inputs.md#csv, and broken records
//! as docs/inputs.md#the-reasons lists them), fed chunk by chunk so a file is
//! never held whole.
//!
//! Works on bytes: `,`, `"`, `\r` and `\n` never occur inside a multi-byte
//! character of UTF-8, GB18030 or GBK, so records split the same way in all
//! three and each record is decoded afterwards.
//!
//! Outside quotes `\n`, `\r\n` and a lone `\r` (old spreadsheet exports) end a
//! line; inside quotes they are data, and still count as physical lines. A
//! record longer than `max_record_bytes` (docs/inputs.md#max_record_bytes) is
//! cut: only its first bytes are kept and the splitter reads on to its end, so
//! that a stray quote near the start of a large file costs no more memory than
//! the limit.

use super::record::{KEPT_BYTES, TOO_LONG};

const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: an escape or the closing quote.
    QuoteInQuoted,
}

/// One record, borrowed from the splitter until the callback returns.
pub struct Record<'a> {
    /// Physical line (1-based) where the record starts.
    pub line: i64,
    /// The record's bytes without its line terminator.
    pub raw: &'a [u8],
    content: &'a [u8],
    /// Where each field lies in `content`.
    fields: &'a [(usize, usize)],
    spans: &'a [(usize, usize)],
    /// Why the quoting is broken, if it is.
    pub broken: Option<&'static str>,
    /// No field is quoted: every field is a slice of `raw`.
    unquoted: bool,
    /// The record was longer than `max_record_bytes`: `raw` holds only its
    /// first bytes, it has no fields, and `broken` says why.
    pub cut: bool,
}

impl<'a> Record<'a> {
    /// Field `i` cut out of `text`, the record's `raw` already decoded as
    /// UTF-8, when no field is quoted (fields end at ASCII commas, so the
    /// cut falls between characters); `None` otherwise.
    pub fn field_in<'t>(&self, text: &'t str, i: usize) -> Option<&'t str> {
        let (start, end) = self.fields[i];
        (self.unquoted && text.len() == self.raw.len()).then(|| &text[start..end])
    }

    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// Field `i`'s bytes with quotes removed and `""` unescaped.
    pub fn field(&self, i: usize) -> &'a [u8] {
        let (start, end) = self.fields[i];
        &self.content[start..end]
    }

    /// Where field `i` lies in `raw`, quotes included.
    pub fn raw_span(&self, i: usize) -> (usize, usize) {
        self.spans[i]
    }
}

/// A streaming splitter; call [`feed`](CsvSplitter::feed) per chunk and
/// [`finish`](CsvSplitter::finish) at the end of the file.
pub struct CsvSplitter {
    state: State,
    line: i64,
    record_line: i64,
    in_record: bool,
    raw: Vec<u8>,
    content: Vec<u8>,
    fields: Vec<(usize, usize)>,
    spans: Vec<(usize, usize)>,
    field_raw_start: usize,
    field_content_start: usize,
    broken: Option<&'static str>,
    /// Bytes read so far that may still be a byte-order mark.
    bom_seen: usize,
    offset: usize,
    /// The last byte read was a `\r`: a `\n` right after it is the same line end.
    after_cr: bool,
    max_record_bytes: usize,
    /// The record being read is longer than `max_record_bytes`.
    cut: bool,
}

impl Default for CsvSplitter {
    fn default() -> Self {
        CsvSplitter {
            state: State::FieldStart,
            line: 1,
            record_line: 1,
            in_record: false,
            raw: Vec::new(),
            content: Vec::new(),
            fields: Vec::new(),
            spans: Vec::new(),
            field_raw_start: 0,
            field_content_start: 0,
            broken: None,
            bom_seen: 0,
            offset: 0,
            after_cr: false,
            max_record_bytes: usize::MAX,
            cut: false,
        }
    }
}

impl CsvSplitter {
    /// A splitter that cuts records longer than `max_record_bytes`.
    pub fn new(max_record_bytes: usize) -> Self {
        CsvSplitter {
            max_record_bytes,
            ..CsvSplitter::default()
        }
    }

    pub fn feed<E>(
        &mut self,
        chunk: &[u8],
        emit: &mut impl FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut rest = chunk;
        while let Some((&byte, after)) = rest.split_first() {
            if let Some(end) = self.simple_line(rest) {
                let (line, line_end) = rest.split_at(end);
                // `\r\n` is one line end; a `\r` that ends the chunk may be
                // the first half of one, which `step` then skips.
                let width = if line_end.starts_with(b"\r\n") { 2 } else { 1 };
                self.after_cr = line_end == b"\r";
                self.emit_simple(line, emit)?;
                rest = &line_end[width..];
                continue;
            }
            rest = after;
            if self.skip_bom_byte(byte, emit)? {
                continue;
            }
            self.step(byte, emit)?;
        }
        Ok(())
    }

    /// At the start of a record, where the next whole line of `rest` ends
    /// when it has no quote: then its fields are its comma-separated spans,
    /// read in place, which is what the byte-by-byte machine would find.
    fn simple_line(&self, rest: &[u8]) -> Option<usize> {
        if self.in_record || self.offset < BOM.len() || self.after_cr {
            return None;
        }
        let end = memchr::memchr2(b'\n', b'\r', rest)?;
        memchr::memchr(b'"', &rest[..end]).is_none().then_some(end)
    }

    fn emit_simple<E>(
        &mut self,
        raw: &[u8],
        emit: &mut impl FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        let record_line = self.line;
        self.line += 1;
        if raw.is_empty() {
            return Ok(());
        }
        if raw.len() > self.max_record_bytes {
            return emit(Record {
                line: record_line,
                raw: &raw[..raw.len().min(KEPT_BYTES)],
                content: &[],
                fields: &[],
                spans: &[],
                broken: Some(TOO_LONG),
                unquoted: false,
                cut: true,
            });
        }
        let mut start = 0;
        for comma in memchr::memchr_iter(b',', raw) {
            self.spans.push((start, comma));
            start = comma + 1;
        }
        self.spans.push((start, raw.len()));
        let result = emit(Record {
            line: record_line,
            raw,
            content: raw,
            fields: &self.spans,
            spans: &self.spans,
            broken: None,
            unquoted: true,
            cut: false,
        });
        self.spans.clear();
        result
    }

    pub fn finish<E>(&mut self, emit: &mut impl FnMut(Record) -> Result<(), E>) -> Result<(), E> {
        // A short file that began like a byte-order mark but was not one.
        if self.offset < BOM.len() && self.bom_seen > 0 {
            let held = &BOM[..self.bom_seen];
            self.bom_seen = 0;
            self.offset = BOM.len();
            for &b in held {
                self.step(b, emit)?;
            }
        }
        if !self.in_record {
            return Ok(());
        }
        if self.state == State::Quoted {
            self.broken = Some("quote never closed");
        }
        self.end_record(emit)
    }

    /// Drops a UTF-8 byte-order mark at the very start of the file.
    fn skip_bom_byte<E>(
        &mut self,
        byte: u8,
        emit: &mut impl FnMut(Record) -> Result<(), E>,
    ) -> Result<bool, E> {
        if self.offset >= BOM.len() {
            return Ok(false);
        }
        if self.offset == self.bom_seen && byte == BOM[self.offset] {
            self.offset += 1;
            self.bom_seen += 1;
            return Ok(true);
        }
        // Not a BOM after all: replay what was held back.
        let held = self.bom_seen;
        self.offset = BOM.len();
        self.bom_seen = 0;
        for &b in &BOM[..held] {
            self.step(b, emit)?;
        }
        Ok(false)
    }

    fn step<E>(
        &mut self,
        byte: u8,
        emit: &mut impl FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
        if !self.in_record {
            if byte == b'\n' && after_cr {
                // The second half of the `\r\n` that ended the last line.
                return Ok(());
            }
            self.in_record = true;
            self.record_line = self.line;
        }
        match (self.state, byte) {
            (State::Quoted, b'"') => {
                self.push_raw(byte);
                self.state = State::QuoteInQuoted;
            }
            (State::Quoted, _) => {
                if byte == b'\r' || (byte == b'\n' && !after_cr) {
                    self.line += 1;
                }
                self.push_content(byte);
            }
            (State::FieldStart, b'"') => {
                self.push_raw(byte);
                self.state = State::Quoted;
            }
            (State::QuoteInQuoted, b'"') => {
                self.push_content(byte);
                self.state = State::Quoted;
            }
            (_, b',') => {
                self.end_field();
                self.push_raw(byte);
                self.field_raw_start = self.raw.len();
                self.field_content_start = self.content.len();
                self.state = State::FieldStart;
            }
            (_, b'\r' | b'\n') => self.end_record(emit)?,
            (State::QuoteInQuoted, _) => {
                self.broken = Some("text after a closing quote");
                self.state = State::Unquoted;
                self.push_content(byte);
            }
            (State::FieldStart | State::Unquoted, _) => {
                self.state = State::Unquoted;
                self.push_content(byte);
            }
        }
        Ok(())
    }

    fn push_content(&mut self, byte: u8) {
        if self.cut {
            return;
        }
        self.content.push(byte);
        self.push_raw(byte);
    }

    fn push_raw(&mut self, byte: u8) {
        if self.cut {
            return;
        }
        self.raw.push(byte);
        if self.raw.len() > self.max_record_bytes {
            self.cut_record();
        }
    }

    /// The record is longer than `max_record_bytes`: keep its first bytes
    /// for `raw` and nothing more; its fields no longer matter.
    fn cut_record(&mut self) {
        self.cut = true;
        self.broken = Some(TOO_LONG);
        self.raw.truncate(KEPT_BYTES);
        self.content.clear();
        self.fields.clear();
        self.spans.clear();
    }

    fn end_field(&mut self) {
        if self.cut {
            return;
        }
        self.fields
            .push((self.field_content_start, self.content.len()));
        self.spans.push((self.field_raw_start, self.raw.len()));
    }

    fn end_record<E>(&mut self, emit: &mut impl FnMut(Record) -> Result<(), E>) -> Result<(), E> {
        self.end_field();
        let blank = self.raw.is_empty();
        let result = if blank {
            Ok(())
        } else {
            emit(Record {
                line: self.record_line,
                raw: &self.raw,
                content: &self.content,
                fields: &self.fields,
                spans: &self.spans,
                broken: self.broken,
                unquoted: false,
                cut: self.cut,
            })
        };
        // Called at a line end, or at the end of the file where the count no longer matters.
        self.line += 1;
        self.reset();
        result
    }

    fn reset(&mut self) {
        self.state = State::FieldStart;
        self.in_record = false;
        self.raw.clear();
        self.content.clear();
        self.fields.clear();
        self.spans.clear();
        self.field_raw_start = 0;
        self.field_content_start = 0;
        self.broken = None;
        self.cut = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, fields, broken) of every record of `input`, fed in chunks of `chunk`.
    fn split(input: &[u8], chunk: usize) -> Vec<(i64, Vec<String>, Option<&'static str>)> {
        let mut out = Vec::new();
        let mut splitter = CsvSplitter::default();
        let mut emit = |r: Record| -> Result<(), ()> {
            let fields = (0..r.field_count())
                .map(|i| String::from_utf8_lossy(r.field(i)).into_owned())
                .collect();
            out.push((r.line, fields, r.broken));
            Ok(())
        };
        for part in input.chunks(chunk.max(1)) {
            splitter.feed(part, &mut emit).unwrap();
        }
        splitter.finish(&mut emit).unwrap();
        out
    }

    fn fields(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_the_fields_of_an_unquoted_record_are_cut_from_its_text() {
        let mut cut = Vec::new();
        let mut emit = |r: Record| -> Result<(), ()> {
            let text = std::str::from_utf8(r.raw).unwrap();
            cut.push(
                (0..r.field_count())
                    .map(|i| r.field_in(text, i).map(str::to_owned))
                    .collect::<Vec<_>>(),
            );
            Ok(())
        };
        let mut splitter = CsvSplitter::default();
        splitter
            .feed("a,b\nx,é\n\"x\",y\n".as_bytes(), &mut emit)
            .unwrap();
        splitter.finish(&mut emit).unwrap();
        assert_eq!(cut[1], vec![Some("x".to_owned()), Some("é".to_owned())]);
        assert_eq!(cut[2], vec![None, None]);
    }

    #[test]
    fn quoted_fields_may_span_lines_and_escape_quotes() {
        let input = b"a,b\n\"x\ny\",\"say \"\"hi\"\"\"\n3,4\n";
        for chunk in [1, 2, 1000] {
            let got = split(input, chunk);
            assert_eq!(got[0], (1, fields(&["a", "b"]), None));
            assert_eq!(got[1], (2, fields(&["x\ny", "say \"hi\""]), None));
            assert_eq!(got[2], (4, fields(&["3", "4"]), None));
        }
    }

    #[test]
    fn blank_lines_are_not_records_but_count_as_lines() {
        let got = split(b"h\r\n\r\n\nv\r\n", 3);
        assert_eq!(
            got,
            vec![(1, fields(&["h"]), None), (4, fields(&["v"]), None)]
        );
    }

    #[test]
    fn crlf_and_lf_both_end_lines() {
        let got = split(b"a,b\r\n\"c\"\r\nd,e", 1);
        assert_eq!(got[0].1, fields(&["a", "b"]));
        assert_eq!(got[1], (2, fields(&["c"]), None));
        assert_eq!(got[2], (3, fields(&["d", "e"]), None));
    }

    #[test]
    fn a_lone_cr_ends_a_line_outside_quotes_and_counts_as_one_inside() {
        let input = b"a,b\r1,2\r\"x\ry\r\nz\",3\r\r\n4,5";
        for chunk in [1, 2, 3, 1000] {
            let got = split(input, chunk);
            assert_eq!(got.len(), 4);
            assert_eq!(got[0], (1, fields(&["a", "b"]), None));
            assert_eq!(got[1], (2, fields(&["1", "2"]), None));
            assert_eq!(got[2], (3, fields(&["x\ry\r\nz", "3"]), None));
            assert_eq!(got[3], (7, fields(&["4", "5"]), None));
        }
    }

    #[test]
    fn a_record_longer_than_the_limit_is_cut_and_the_next_one_is_read() {
        let long = "x".repeat(3000);
        let input = format!("a\n{long}\n\"{long}\n{long}\"\nb\n\"{long}");
        for chunk in [1, 7, 100_000] {
            let mut out = Vec::new();
            let mut splitter = CsvSplitter::new(2048);
            let mut emit = |r: Record| -> Result<(), ()> {
                out.push((r.line, r.raw.len(), r.cut, r.broken));
                Ok(())
            };
            for part in input.as_bytes().chunks(chunk) {
                splitter.feed(part, &mut emit).unwrap();
            }
            splitter.finish(&mut emit).unwrap();
            assert_eq!(
                out,
                vec![
                    (1, 1, false, None),
                    (2, KEPT_BYTES, true, Some(TOO_LONG)),
                    (3, KEPT_BYTES, true, Some(TOO_LONG)),
                    (5, 1, false, None),
                    (6, KEPT_BYTES, true, Some("quote never closed")),
                ]
            );
        }
    }

    #[test]
    fn text_after_a_closing_quote_is_broken() {
        let got = split(b"\"ab\"c,d\nok,1\n", 1);
        assert_eq!(got[0].2, Some("text after a closing quote"));
        assert_eq!(got[1], (2, fields(&["ok", "1"]), None));
    }

    #[test]
    fn an_unclosed_quote_runs_to_the_end_of_the_file() {
        let got = split(b"a,b\n\"x,1\n2,3\n", 4);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, 2);
        assert_eq!(got[1].2, Some("quote never closed"));
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_ordinary() {
        let got = split(b"ab\"c,d\n", 1);
        assert_eq!(got[0], (1, fields(&["ab\"c", "d"]), None));
    }

    #[test]
    fn a_byte_order_mark_is_dropped_even_across_chunks() {
        assert_eq!(split(b"\xEF\xBB\xBFid\n1\n", 1)[0].1, fields(&["id"]));
        assert_eq!(split(b"\xEFx\n", 1)[0].1, vec!["\u{FFFD}x".to_string()]);
    }

    /// A record as the tests compare it: line, raw, fields, raw spans.
    type Seen = (i64, Vec<u8>, Vec<Vec<u8>>, Vec<(usize, usize)>);

    /// Every record of `input`, fed in chunks of `chunk`.
    fn split_raw(input: &[u8], chunk: usize) -> Vec<Seen> {
        let mut out = Vec::new();
        let mut splitter = CsvSplitter::default();
        let mut emit = |r: Record| -> Result<(), ()> {
            let n = r.field_count();
            let fields = (0..n).map(|i| r.field(i).to_vec()).collect();
            let spans = (0..n).map(|i| r.raw_span(i)).collect();
            out.push((r.line, r.raw.to_vec(), fields, spans));
            Ok(())
        };
        for part in input.chunks(chunk) {
            splitter.feed(part, &mut emit).unwrap();
        }
        splitter.finish(&mut emit).unwrap();
        out
    }

    #[test]
    fn lines_without_quotes_split_in_place_as_byte_by_byte() {
        // Fed one byte at a time, no whole line is ever in view, so every
        // record goes through the byte machine; fed whole, the lines without
        // a quote take the fast path.
        let input: &[u8] = b"\xEF\xBB\xBFid,name,amount\r\n1,a,2\r\n\r\n,,\n\r\r\n3,\"q,\"\"x\"\"\",4\n5,b\rc,6\n\"multi\nline\",7,8\nlast,row,9";
        assert_eq!(split_raw(input, 1), split_raw(input, input.len()));
        assert_eq!(split_raw(input, 7), split_raw(input, input.len()));
    }

    #[test]
    fn raw_spans_cover_quotes() {
        let mut splitter = CsvSplitter::default();
        let mut spans = Vec::new();
        let mut emit = |r: Record| -> Result<(), ()> {
            spans = (0..r.field_count()).map(|i| r.raw_span(i)).collect();
            Ok(())
        };
        splitter.feed(b"1,\"a,b\",c", &mut emit).unwrap();
        splitter.finish(&mut emit).unwrap();
        assert_eq!(spans, vec![(0, 1), (2, 7), (8, 9)]);
    }
}
