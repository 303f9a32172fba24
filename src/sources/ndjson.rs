//! NDJSON files (one JSON object a line) into [`RawBatch`]es. Numbers are
//! taken by their source text (SPEC §2 "typed inputs"), never as floats.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::value::RawValue;

use super::csv::{REDACTED, WITHHELD};
use super::decode::{decode_lossy, decode_strict, encoding_name};
use super::raw::{RawBatch, RawBatchBuilder};
use super::spec::Column;
use crate::config::Encoding;
use crate::error::Result;

/// Reads one NDJSON file, fed chunk by chunk.
pub struct NdjsonReader {
    columns: &'static [Column],
    encoding: Encoding,
    builder: RawBatchBuilder,
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
}

impl NdjsonReader {
    pub fn new(columns: &'static [Column], encoding: Encoding, label: &str) -> Self {
        NdjsonReader {
            columns,
            encoding,
            builder: RawBatchBuilder::new(columns.len()),
            pending: Vec::new(),
            line: 0,
            decoded: String::new(),
            ranges: Vec::new(),
            extra_columns: BTreeSet::new(),
            records: 0,
            named: BTreeSet::new(),
            label: label.to_owned(),
        }
    }

    pub fn feed(
        &mut self,
        chunk: &[u8],
        on_batch: &mut impl FnMut(RawBatch) -> Result<()>,
    ) -> Result<()> {
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.pending.extend_from_slice(&rest[..pos]);
            rest = &rest[pos + 1..];
            self.end_line(on_batch)?;
        }
        self.pending.extend_from_slice(rest);
        Ok(())
    }

    pub fn finish(&mut self, on_batch: &mut impl FnMut(RawBatch) -> Result<()>) -> Result<()> {
        if !self.pending.is_empty() {
            self.end_line(on_batch)?;
        }
        if !self.builder.is_empty() {
            on_batch(self.builder.finish())?;
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

    fn end_line(&mut self, on_batch: &mut impl FnMut(RawBatch) -> Result<()>) -> Result<()> {
        self.line += 1;
        let mut bytes = std::mem::take(&mut self.pending);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        if self.line == 1 && bytes.starts_with(b"\xEF\xBB\xBF") {
            bytes.drain(..3);
        }
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            self.records += 1;
            self.read_record(&bytes);
            if self.builder.is_full() {
                on_batch(self.builder.finish())?;
            }
        }
        bytes.clear();
        self.pending = bytes;
        Ok(())
    }

    fn read_record(&mut self, bytes: &[u8]) {
        let personal = self.columns.iter().any(|c| c.personal);
        let Some(text) = decode_strict(self.encoding, bytes) else {
            let raw = if personal {
                WITHHELD.to_owned()
            } else {
                decode_lossy(self.encoding, bytes).into_owned()
            };
            let detail = format!("bytes not valid in {}", encoding_name(self.encoding));
            self.builder.push_malformed(self.line, &raw, &detail);
            return;
        };
        let object: BTreeMap<String, &RawValue> = match serde_json::from_str(&text) {
            Ok(object) => object,
            Err(e) => {
                let raw = if personal { WITHHELD } else { text.as_ref() };
                let detail = format!("not a JSON object: {e}");
                self.builder.push_malformed(self.line, raw, &detail);
                return;
            }
        };
        let raw = if personal {
            redact(&object, self.columns)
        } else {
            text.to_string()
        };
        match self.collect_fields(&object) {
            Ok(()) => {
                let (decoded, ranges) = (&self.decoded, &self.ranges);
                self.builder
                    .push(self.line, &raw, |i| ranges[i].map(|(s, e)| &decoded[s..e]));
            }
            Err(detail) => self.builder.push_malformed(self.line, &raw, &detail),
        }
    }

    /// Fills `decoded`/`ranges` with each column's text; an object or array
    /// where a value belongs makes the record malformed.
    fn collect_fields(&mut self, object: &BTreeMap<String, &RawValue>) -> Result<(), String> {
        self.decoded.clear();
        self.ranges.clear();
        let mut by_name: BTreeMap<String, &RawValue> = BTreeMap::new();
        for (key, value) in object {
            let name = key.trim().to_lowercase();
            if !self.columns.iter().any(|c| c.name == name) {
                self.extra_columns.insert(name.clone());
            }
            by_name.insert(name, value);
        }
        for column in self.columns {
            let range = match by_name.get(column.name) {
                None => None,
                Some(value) => {
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

/// The object re-serialised with personal fields replaced.
fn redact(object: &BTreeMap<String, &RawValue>, columns: &[Column]) -> String {
    let personal = |key: &str| {
        let name = key.trim().to_lowercase();
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
            format!("{}:{value}", serde_json::Value::String(k.clone()))
        })
        .collect();
    format!("{{{}}}", entries.join(","))
}
