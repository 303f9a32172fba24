//! The columns of each input (the tables of docs/inputs.md#columns), in the
//! order that decides which check a row fails first
//! (docs/inputs.md#order-of-checks).

use std::sync::Arc;

use datafusion::arrow::array::{RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;

use crate::domain::SourceName;

/// How a column's text is checked and typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Date,
    Amount,
    Double,
    Currency,
}

/// One column of an input.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// A date that may not lie after the run date.
    pub not_future: bool,
    /// Personal data: never written anywhere, redacted in `raw`.
    pub personal: bool,
}

const fn col(name: &'static str, kind: Kind, required: bool) -> Column {
    Column {
        name,
        kind,
        required,
        not_future: false,
        personal: false,
    }
}

const fn not_future(c: Column) -> Column {
    Column {
        not_future: true,
        ..c
    }
}

const fn personal(c: Column) -> Column {
    Column {
        personal: true,
        ..c
    }
}

const BILLING: &[Column] = &[
    col("invoice_id", Kind::Text, true),
    col("line_no", Kind::Int, true),
    col("customer_id", Kind::Text, true),
    not_future(col("invoice_date", Kind::Date, true)),
    col("service", Kind::Text, false),
    col("amount", Kind::Amount, true),
    col("currency", Kind::Currency, true),
];

const CUSTOMERS: &[Column] = &[
    col("customer_id", Kind::Text, true),
    personal(col("name", Kind::Text, false)),
    personal(col("phone", Kind::Text, false)),
    col("region", Kind::Text, false),
    col("segment", Kind::Text, false),
    not_future(col("signup_date", Kind::Date, true)),
    col("churn_date", Kind::Date, false),
    col("account_manager", Kind::Text, false),
    col("receivables_turnover", Kind::Double, false),
    col("cooperation_score", Kind::Double, false),
];

const COSTS: &[Column] = &[
    col("cost_id", Kind::Text, true),
    col("customer_id", Kind::Text, true),
    not_future(col("cost_date", Kind::Date, true)),
    col("cost_type", Kind::Text, false),
    col("amount", Kind::Amount, true),
    col("currency", Kind::Currency, true),
];

// A record's fields are held in an array of this size while it is checked.
const _: () = assert!(
    BILLING.len() <= super::record::MAX_COLUMNS
        && CUSTOMERS.len() <= super::record::MAX_COLUMNS
        && COSTS.len() <= super::record::MAX_COLUMNS
);

/// The columns of a source, in the order of docs/inputs.md#columns.
pub fn columns(source: SourceName) -> &'static [Column] {
    match source {
        SourceName::Billing => BILLING,
        SourceName::Customers => CUSTOMERS,
        SourceName::Costs => COSTS,
    }
}

pub const MONEY: DataType = DataType::Decimal128(18, 2);

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Text => DataType::Utf8,
        Kind::Int => DataType::Int64,
        Kind::Date => DataType::Date32,
        Kind::Amount => MONEY,
        Kind::Double => DataType::Float64,
        Kind::Currency => DataType::Utf8,
    }
}

/// The typed columns that are kept: no personal data, no currency (it is
/// the pipeline's by then).
pub fn kept_columns(source: SourceName) -> impl Iterator<Item = &'static Column> {
    columns(source)
        .iter()
        .filter(|c| !c.personal && c.kind != Kind::Currency)
}

/// The columns of a source's key, which no two accepted rows share
/// (docs/inputs.md#order-of-checks).
pub fn key_columns(source: SourceName) -> &'static [&'static str] {
    match source {
        SourceName::Billing => &["invoice_id", "line_no"],
        SourceName::Customers => &["customer_id"],
        SourceName::Costs => &["cost_id"],
    }
}

/// A staged row's hash of its key ([`super::key_hash`]).
pub const KEY_HASH: &str = "_key_hash";

/// A keys part holds its hashes in ascending runs of this many (the last
/// run of a file may be shorter), each run beginning a row group: the run
/// of rows `k × KEY_RUN_ROWS ..` is the row groups that start in it. The
/// sources stage thus sorts and holds one run of a file (8 MiB), never the
/// whole file's hashes.
pub const KEY_RUN_ROWS: usize = 1024 * 1024;

/// The schema of a staged part as a file task writes it: the typed columns
/// plus `_dt` (the partition, null when unpartitioned), `_line` and
/// [`KEY_HASH`]. The
/// record's text is not staged: only the few rows that the whole-source
/// checks reject need it, and they read it again from their file.
///
/// A part lies in the folder `_file_id=<i>/` of its source's staged folder,
/// `i` being its file's place in the selection ([`files_schema`]); the
/// staged table takes `_file_id` from the folder ([`FILE_ID`]). A part thus
/// holds nothing of the run that wrote it, and the staging cache can hand
/// it to a later run, where its file may have another place.
pub fn staged_file_schema(source: SourceName) -> SchemaRef {
    let mut fields: Vec<Field> = kept_columns(source)
        .map(|c| Field::new(c.name, data_type(c.kind), !c.required))
        .collect();
    fields.push(Field::new("_dt", DataType::Date32, true));
    fields.push(Field::new("_line", DataType::Int64, false));
    fields.push(Field::new(KEY_HASH, DataType::UInt64, false));
    Arc::new(Schema::new(fields))
}

/// The schema of a file's keys part: the [`KEY_HASH`] of each of its
/// staged rows, in sorted runs ([`KEY_RUN_ROWS`]), so that the duplicate
/// checks find the hashes that occur twice by merging sorted runs.
pub fn keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        KEY_HASH,
        DataType::UInt64,
        false,
    )]))
}

/// A batch of [`keys_schema`] holding `hashes` (their buffer, not a copy).
pub fn keys_batch(hashes: Vec<u64>) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(keys_schema(), vec![Arc::new(UInt64Array::from(hashes))])
}

/// The staged table's column taken from each part's folder name.
pub const FILE_ID: &str = "_file_id";

/// The folder of file `file_id`'s staged part, below the staged folder.
pub fn staged_part_folder(file_id: i32) -> String {
    format!("{FILE_ID}={file_id}")
}

/// The files of one source's selection: `_file_id` and the path relative to
/// the source prefix, `_file`.
pub fn files_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("_file_id", DataType::Int32, false),
        Field::new("_file", DataType::Utf8, false),
    ]))
}

/// Records read again for their text: `_file_id`, `_line`, the file's
/// path `_file` and the text `_raw`.
pub fn raw_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("_file_id", DataType::Int32, false),
        Field::new("_line", DataType::Int64, false),
        Field::new("_file", DataType::Utf8, false),
        Field::new("_raw", DataType::Utf8, false),
    ]))
}

/// The columns of the `rejected` table (docs/outputs.md#rejected), `source`
/// being a partition.
pub fn rejected_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, true),
        Field::new("raw", DataType::Utf8, false),
    ]))
}
