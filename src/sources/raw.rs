//! Records as text, column by column, before any check: what every reader
//! (CSV, NDJSON, Parquet) produces and the validator consumes.

use datafusion::arrow::array::{
    ArrayBuilder, Int64Array, Int64Builder, StringArray, StringBuilder,
};

/// Rows per batch handed to the validator.
pub const BATCH_ROWS: usize = 8192;

/// A batch of records: one text array per source column (SPEC order), the
/// record's line, its raw text (already redacted) and, for a broken record,
/// what was broken.
pub struct RawBatch {
    pub fields: Vec<StringArray>,
    pub lines: Int64Array,
    pub raws: StringArray,
    pub malformed: StringArray,
}

#[allow(clippy::len_without_is_empty)]
impl RawBatch {
    pub fn len(&self) -> usize {
        self.lines.len()
    }
}

/// Collects records into column builders; no allocation per field.
pub struct RawBatchBuilder {
    fields: Vec<StringBuilder>,
    lines: Int64Builder,
    raws: StringBuilder,
    malformed: StringBuilder,
}

impl RawBatchBuilder {
    pub fn new(columns: usize) -> Self {
        RawBatchBuilder {
            fields: (0..columns).map(|_| StringBuilder::new()).collect(),
            lines: Int64Builder::new(),
            raws: StringBuilder::new(),
            malformed: StringBuilder::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.len() == 0
    }

    pub fn is_full(&self) -> bool {
        self.len() >= BATCH_ROWS
    }

    /// Appends a well-formed record; `field(i)` gives column i's text.
    pub fn push<'a>(&mut self, line: i64, raw: &str, field: impl Fn(usize) -> Option<&'a str>) {
        for (i, builder) in self.fields.iter_mut().enumerate() {
            builder.append_option(field(i));
        }
        self.lines.append_value(line);
        self.raws.append_value(raw);
        self.malformed.append_null();
    }

    /// Appends a record that could not be read into fields.
    pub fn push_malformed(&mut self, line: i64, raw: &str, detail: &str) {
        for builder in &mut self.fields {
            builder.append_null();
        }
        self.lines.append_value(line);
        self.raws.append_value(raw);
        self.malformed.append_value(detail);
    }

    pub fn finish(&mut self) -> RawBatch {
        let batch = RawBatch {
            fields: self.fields.iter_mut().map(finish_sized).collect(),
            lines: self.lines.finish(),
            raws: finish_sized(&mut self.raws),
            malformed: self.malformed.finish(),
        };
        self.lines = Int64Builder::with_capacity(BATCH_ROWS);
        batch
    }
}

/// Finishes a text builder and leaves it with room for a batch like the
/// one it held: a finished builder starts from nothing, and growing it
/// again copies every byte a few times over.
fn finish_sized(builder: &mut StringBuilder) -> StringArray {
    let array = builder.finish();
    let bytes = array.value_data().len();
    *builder = StringBuilder::with_capacity(BATCH_ROWS, bytes + bytes / 8);
    array
}
