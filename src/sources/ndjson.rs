//! NDJSON files (one JSON object a line) into records for a [`RecordSink`].
//! Numbers are taken by their source text (docs/inputs.md#ndjson), never as
//! floats. A line longer than `max_record_bytes`
//! (docs/inputs.md#max_record_bytes) is malformed and only its first bytes are
//! kept; a line that is not an object is malformed, and why is said without its
//! text, which may be a customer's name or phone.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::value::RawValue;

use super::csv::{REDACTED, WITHHELD};
use super::decode::{decode_lossy, decode_strict, encoding_name};
use super::record::{KEPT_BYTES, RecordSink, TOO_LONG, cut_raw};
use super::spec::Column;
use crate::config::Encoding;
use crate::error::Result;

/// Reads one NDJSON file, fed chunk by chunk.
pub struct NdjsonReader {
    columns: &'static [Column],
    encoding: Encoding,
    pending: Vec<u8>,
    line: i64,
    decoded: String,
    ranges: Vec<Option<(usize, usize)>>,
    pub extra_columns: BTreeSet<String>,
    pub records: u64,
    /// Columns named by at least one record: a required one named by none
    /// is a missing column (exit 2), as in a CSV header.
    named: BTreeSet<&'static str>,
    label: String,
    max_record_bytes: usize,
    /// The line being read is longer than `max_record_bytes`: `pending`
    /// holds only its first bytes and the rest is skipped.
    cut: bool,
}

impl NdjsonReader {
    pub fn new(
        columns: &'static [Column],
        encoding: Encoding,
        label: &str,
        max_record_bytes: usize,
    ) -> Self {
        NdjsonReader {
            columns,
            encoding,
            pending: Vec::new(),
            line: 0,
            decoded: String::new(),
            ranges: Vec::new(),
            extra_columns: BTreeSet::new(),
            records: 0,
            named: BTreeSet::new(),
            label: label.to_owned(),
            max_record_bytes,
            cut: false,
        }
    }

    pub fn feed(&mut self, chunk: &[u8], sink: &mut impl RecordSink) -> Result<()> {
        let mut rest = chunk;
        while let Some(pos) = memchr::memchr(b'\n', rest) {
            self.keep(&rest[..pos]);
            rest = &rest[pos + 1..];
            self.end_line(sink)?;
        }
        self.keep(rest);
        Ok(())
    }

    /// Adds `bytes` to the line being read, up to the limit: past it the
    /// line is cut, so a line without end costs no more memory than that.
    fn keep(&mut self, bytes: &[u8]) {
        if self.cut {
            return;
        }
        // One byte more than the limit, for the `\r` of a `\r\n`.
        let most = self.max_record_bytes.saturating_add(1);
        let room = most.saturating_add(1).saturating_sub(self.pending.len());
        self.pending
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        if self.pending.len() > most {
            self.cut = true;
            self.pending.truncate(KEPT_BYTES);
        }
    }

    pub fn finish(&mut self, sink: &mut impl RecordSink) -> Result<()> {
        if !self.pending.is_empty() {
            self.end_line(sink)?;
        }
        let unnamed = self
            .columns
            .iter()
            .find(|c| c.required && !self.named.contains(c.name));
        match unnamed {
            Some(c) if self.records > 0 => Err(crate::error::Error::config(format!(
                "{}: missing required column '{}' (no record names it)",
                self.label, c.name
            ))),
            _ => Ok(()),
        }
    }

    fn end_line(&mut self, sink: &mut impl RecordSink) -> Result<()> {
        self.line += 1;
        let mut bytes = std::mem::take(&mut self.pending);
        let cut = std::mem::take(&mut self.cut);
        if !cut && bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        if self.line == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        let mut result = Ok(());
        if cut || bytes.len() > self.max_record_bytes {
            self.records += 1;
            result = self.too_long(&bytes, sink);
        } else if !bytes.iter().all(u8::is_ascii_whitespace) {
            self.records += 1;
            result = self.read_record(&bytes, sink);
        }
        bytes.clear();
        self.pending = bytes;
        result
    }

    /// A line longer than `max_record_bytes`, of which `bytes` is the start.
    fn too_long(&self, bytes: &[u8], sink: &mut impl RecordSink) -> Result<()> {
        let raw = if self.columns.iter().any(|c| c.personal) {
            WITHHELD.to_owned()
        } else {
            cut_raw(&decode_lossy(self.encoding, bytes)).to_owned()
        };
        sink.malformed(self.line, &raw, TOO_LONG)
    }

    fn read_record(&mut self, bytes: &[u8], sink: &mut impl RecordSink) -> Result<()> {
        let personal = self.columns.iter().any(|c| c.personal);
        let Some(text) = decode_strict(self.encoding, bytes) else {
            let raw = if personal {
                WITHHELD.to_owned()
            } else {
                decode_lossy(self.encoding, bytes).into_owned()
            };
            let detail = format!("bytes not valid in {}", encoding_name(self.encoding));
            return sink.malformed(self.line, &raw, &detail);
        };
        let entries = match parse_object(&text) {
            Ok(entries) => entries,
            Err(e) => {
                let raw = if personal { WITHHELD } else { text.as_ref() };
                return sink.malformed(self.line, raw, &not_an_object(&text, &e));
            }
        };
        let columns = self.columns;
        let raw = || match personal {
            true => Cow::Owned(redact(&entries, columns)),
            false => Cow::Borrowed(text.as_ref()),
        };
        match self.collect_fields(&entries) {
            Ok(()) => {
                let (decoded, ranges) = (&self.decoded, &self.ranges);
                sink.record(self.line, |i| ranges[i].map(|(s, e)| &decoded[s..e]), raw)
            }
            Err(detail) => sink.malformed(self.line, &raw(), &detail),
        }
    }

    /// Fills `decoded`/`ranges` with each column's text; an object or array
    /// where a value belongs makes the record malformed. Keys are matched
    /// trimmed and in lower case; of keys that match the same column, the
    /// greatest (then the last) wins, as a map sorted by key would keep.
    fn collect_fields(&mut self, entries: &[Entry]) -> Result<(), String> {
        self.decoded.clear();
        self.ranges.clear();
        let names: Vec<Cow<str>> = entries.iter().map(|(k, _)| column_name(k)).collect();
        for name in &names {
            if !self.columns.iter().any(|c| c.name == name)
                && !self.extra_columns.contains(name.as_ref())
            {
                self.extra_columns.insert(name.to_string());
            }
        }
        for column in self.columns {
            let mut chosen: Option<&Entry> = None;
            for (entry, name) in entries.iter().zip(&names) {
                if name == column.name && chosen.is_none_or(|c| entry.0 >= c.0) {
                    chosen = Some(entry);
                }
            }
            let range = match chosen {
                None => None,
                Some((_, value)) => {
                    self.named.insert(column.name);
                    self.push_value(column.name, value)?
                }
            };
            self.ranges.push(range);
        }
        Ok(())
    }

    fn push_value(
        &mut self,
        name: &str,
        value: &RawValue,
    ) -> Result<Option<(usize, usize)>, String> {
        let text = value.get();
        let start = self.decoded.len();
        match text.as_bytes().first() {
            Some(b'n') if text == "null" => return Ok(None),
            // The parser has checked the string: without escapes, its text
            // is what lies between the quotes.
            Some(b'"') if !text.contains('\\') => self.decoded.push_str(&text[1..text.len() - 1]),
            Some(b'"') => {
                let s: String = serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
                self.decoded.push_str(&s);
            }
            Some(b'{' | b'[') => return Err(format!("{name} is not a single value")),
            _ => self.decoded.push_str(text),
        }
        Ok(Some((start, self.decoded.len())))
    }
}

/// Why a line is not a JSON object, without its text: serde_json's message
/// for valid JSON of another type quotes the value (`invalid type: string
/// "Ann"`); its messages for invalid JSON give only a position.
fn not_an_object(text: &str, e: &serde_json::Error) -> String {
    if e.classify() != serde_json::error::Category::Data {
        return format!("not a JSON object: {e}");
    }
    let kind = match text.trim_start().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    };
    format!("not a JSON object but {kind}")
}

/// A key of a record, as written, and its value's JSON text.
type Entry<'a> = (Cow<'a, str>, &'a RawValue);

/// The entries of a JSON object, in the order written. Keys are borrowed
/// from the text unless they hold escapes.
fn parse_object(text: &str) -> serde_json::Result<Vec<Entry<'_>>> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<Entry<'de>>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
            while let Some(key) = map.next_key::<Key<'de>>()? {
                entries.push((key.0, map.next_value()?));
            }
            Ok(entries)
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let entries = serde::Deserializer::deserialize_map(&mut deserializer, Entries)?;
    deserializer.end()?;
    Ok(entries)
}

/// A key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The column a key names: trimmed, in lower case.
fn column_name<'a>(key: &'a str) -> Cow<'a, str> {
    let trimmed = key.trim();
    if trimmed
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        Cow::Borrowed(trimmed)
    } else {
        Cow::Owned(trimmed.to_lowercase())
    }
}

/// The object re-serialised with personal fields replaced: keys sorted,
/// a key written twice kept once (its last value).
fn redact(entries: &[Entry], columns: &[Column]) -> String {
    let object: BTreeMap<&str, &RawValue> = entries.iter().map(|(k, v)| (k.as_ref(), *v)).collect();
    let personal = |key: &str| {
        let name = column_name(key);
        columns.iter().any(|c| c.personal && c.name == name)
    };
    let entries: Vec<String> = object
        .iter()
        .map(|(k, v)| {
            let value = if personal(k) {
                format!("\"{REDACTED}\"")
            } else {
                v.get().to_owned()
            };
            format!("{}:{value}", serde_json::Value::String((*k).to_owned()))
        })
        .collect();
    format!("{{{}}}", entries.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SourceName;
    use crate::sources::record::Collect;
    use crate::sources::spec;

    /// (fields, raw, malformed detail) of each record of `text`.
    type Read = (Vec<Option<String>>, String, Option<String>);

    fn read(source: SourceName, text: &str) -> Vec<Read> {
        let columns = spec::columns(source);
        let mut reader = NdjsonReader::new(columns, Encoding::Utf8, "t.ndjson", 1 << 20);
        let mut sink = Collect::new(columns.len(), |_| true);
        reader.feed(text.as_bytes(), &mut sink).unwrap();
        reader.finish(&mut sink).unwrap();
        sink.records
            .into_iter()
            .map(|r| (r.fields, r.raw, r.malformed))
            .collect()
    }

    const COST: &str = r#"{"cost_id":"K\"1","customer_id":"C1","cost_date":"2026-01-15","cost_type":null,"amount":1.00,"currency":"CNY"}"#;

    #[test]
    fn values_are_unescaped_and_the_raw_is_the_line_as_written() {
        let rows = read(SourceName::Costs, &format!("{COST}\n"));
        let (fields, raw, malformed) = &rows[0];
        assert_eq!(fields[0].as_deref(), Some("K\"1"));
        assert_eq!(fields[3], None);
        assert_eq!(fields[4].as_deref(), Some("1.00"));
        assert_eq!(raw, COST);
        assert_eq!(malformed, &None);
    }

    #[test]
    fn keys_match_trimmed_and_in_any_case_and_the_greatest_key_wins() {
        let line = r#"{" Cost_ID ":"K1","customer_id":"C1","cost_date":"2026-01-15","AMOUNT":2.00,"amount":1.00,"amount":3.00,"c\u0075rrency":"CNY","note":1}"#;
        let mut reader_rows = read(SourceName::Costs, &format!("{line}\n"));
        let (fields, _, malformed) = reader_rows.remove(0);
        assert_eq!(malformed, None);
        assert_eq!(fields[0].as_deref(), Some("K1"));
        // "amount" sorts after "AMOUNT"; of two "amount", the last.
        assert_eq!(fields[4].as_deref(), Some("3.00"));
        assert_eq!(fields[5].as_deref(), Some("CNY"));
    }

    #[test]
    fn objects_arrays_and_non_objects_are_malformed() {
        let text =
            format!("{COST}\n{{\"cost_id\":{{\"a\":1}}}}\n[1,2]\n{{\"cost_id\":\"K1\"}} x\n");
        let details: Vec<String> = read(SourceName::Costs, &text)
            .into_iter()
            .skip(1)
            .map(|r| r.2.unwrap())
            .collect();
        assert_eq!(details[0], "cost_id is not a single value");
        assert!(
            details[1].starts_with("not a JSON object"),
            "{}",
            details[1]
        );
        assert!(
            details[2].starts_with("not a JSON object"),
            "{}",
            details[2]
        );
    }

    #[test]
    fn a_line_longer_than_the_limit_is_cut_and_the_next_one_is_read() {
        let columns = spec::columns(SourceName::Costs);
        let long = format!("{{\"cost_id\":\"{}\"}}", "x".repeat(3000));
        let text = format!("{long}\r\n{COST}\n");
        for chunk in [1, 100, text.len()] {
            let mut reader = NdjsonReader::new(columns, Encoding::Utf8, "t.ndjson", 2048);
            let mut sink = Collect::new(columns.len(), |_| true);
            for part in text.as_bytes().chunks(chunk) {
                reader.feed(part, &mut sink).unwrap();
            }
            reader.finish(&mut sink).unwrap();
            assert_eq!(sink.records.len(), 2);
            assert_eq!(sink.records[0].raw, long[..1024]);
            assert_eq!(sink.records[0].malformed.as_deref(), Some(TOO_LONG));
            assert_eq!(
                (sink.records[1].line, &sink.records[1].malformed),
                (2, &None)
            );
        }
    }

    #[test]
    fn json_that_is_not_an_object_is_malformed_without_its_text() {
        let named = r#"{"customer_id":"C1","signup_date":"2025-01-01"}"#;
        let text = format!("{named}\n\"Ann 555\"\n555\n[\"Ann\"]\ntrue\nnull\n");
        let rows = read(SourceName::Customers, &text);
        assert_eq!(rows.len(), 6);
        for (_, raw, malformed) in rows.into_iter().skip(1) {
            let detail = malformed.unwrap();
            assert_eq!(raw, WITHHELD);
            assert!(detail.starts_with("not a JSON object but "), "{detail}");
            assert!(
                !detail.contains("Ann") && !detail.contains("555"),
                "{detail}"
            );
        }
    }

    #[test]
    fn personal_values_are_redacted_in_the_raw() {
        let line = r#"{"phone":"555","name":"Ann","customer_id":"C1","signup_date":"2025-01-01"}"#;
        let rows = read(SourceName::Customers, &format!("{line}\n"));
        assert_eq!(
            rows[0].1,
            r#"{"customer_id":"C1","name":"<redacted>","phone":"<redacted>","signup_date":"2025-01-01"}"#
        );
    }
}
