//! Row checks (docs/inputs.md#value-rules, #order-of-checks), record by
//! record as the readers split them: the first failing check, reason by
//! reason and within a reason column by column, rejects the row; the rest
//! become typed columns. duplicate_key, churn_before_signup and
//! unknown_customer need the whole source and are decided later, in SQL (see
//! `quality`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayBuilder, ArrayRef, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    StringBuilder, UInt64Array,
};
use datafusion::arrow::record_batch::RecordBatch;

use super::key_hash;
use super::record::{BATCH_ROWS, MAX_COLUMNS};
use super::spec::{self, Column, Kind};
use super::values::{is_blank, parse_cents, parse_double, parse_int};
use crate::calendar::{date32, parse_date};
use crate::domain::SourceName;
use crate::error::Result;

/// What the checks compare against, and where the records come from.
pub struct CheckContext<'a> {
    pub source: SourceName,
    pub currency: &'a str,
    pub as_of: NaiveDate,
    /// The file, relative to the source prefix.
    pub file: &'a str,
    pub dt: Option<NaiveDate>,
}

/// A value as it parsed, kept so each field is parsed once.
#[derive(Clone, Copy)]
enum Parsed {
    Null,
    Text,
    Int(i64),
    Date(NaiveDate),
    Cents(i64),
    Double(f64),
    Bad,
}

struct Rejection {
    reason: &'static str,
    detail: String,
}

fn reject(reason: &'static str, detail: String) -> Rejection {
    Rejection { reason, detail }
}

/// Checks one file's records as they come, into batches of typed rows to
/// stage and of rejected rows.
pub struct Checker<'a> {
    ctx: CheckContext<'a>,
    columns: &'static [Column],
    typed: TypedColumns,
    lines: Int64Builder,
    rejected: RejectedBuilder,
    parsed: Vec<Parsed>,
    by_reason: BTreeMap<&'static str, u64>,
    max_not_future: Option<NaiveDate>,
}

impl<'a> Checker<'a> {
    pub fn new(ctx: CheckContext<'a>) -> Self {
        let columns = spec::columns(ctx.source);
        Checker {
            columns,
            typed: TypedColumns::new(columns, BATCH_ROWS),
            lines: Int64Builder::with_capacity(BATCH_ROWS),
            rejected: RejectedBuilder::default(),
            parsed: vec![Parsed::Null; columns.len()],
            by_reason: BTreeMap::new(),
            max_not_future: None,
            ctx,
        }
    }

    /// Checks a record split into fields (see [`super::record::RecordSink`]).
    pub fn record<'t, 'r>(
        &mut self,
        line: i64,
        field: impl Fn(usize) -> Option<&'t str>,
        raw: impl FnOnce() -> Cow<'r, str>,
    ) {
        let mut texts: [Option<&str>; MAX_COLUMNS] = [None; MAX_COLUMNS];
        for (i, text) in texts.iter_mut().enumerate().take(self.columns.len()) {
            *text = field(i);
        }
        let texts = &texts[..self.columns.len()];
        match check_row(texts, self.columns, &self.ctx, &mut self.parsed) {
            Ok(()) => {
                self.typed.append(&self.parsed, texts);
                self.lines.append_value(line);
                self.note_not_future();
            }
            Err(r) => self.reject(line, r, &raw()),
        }
    }

    /// Keeps the latest date of the row just accepted in a column that
    /// must not be after `as_of`.
    fn note_not_future(&mut self) {
        for (c, parsed) in self.columns.iter().zip(&self.parsed) {
            if let (true, Parsed::Date(d)) = (c.not_future, parsed) {
                self.max_not_future = self.max_not_future.max(Some(*d));
            }
        }
    }

    /// A record that could not be read into fields.
    pub fn malformed(&mut self, line: i64, raw: &str, detail: &str) {
        self.reject(line, reject("malformed_row", detail.to_owned()), raw);
    }

    fn reject(&mut self, line: i64, r: Rejection, raw: &str) {
        *self.by_reason.entry(r.reason).or_default() += 1;
        self.rejected.push(self.ctx.file, line, r, raw);
    }

    /// A batch's worth of rows has been checked since the last [`Self::take`].
    pub fn is_full(&self) -> bool {
        self.lines.len() + self.rejected.line.len() >= BATCH_ROWS
    }

    /// The rows checked since the last take: (staged, rejected).
    pub fn take(&mut self) -> Result<(RecordBatch, RecordBatch)> {
        let rows = self.lines.len();
        let mut arrays = self.typed.finish();
        let dt = self.ctx.dt.map(date32);
        let mut dts = Date32Builder::with_capacity(rows);
        for _ in 0..rows {
            dts.append_option(dt);
        }
        arrays.push(Arc::new(dts.finish()));
        arrays.push(Arc::new(self.lines.finish()));
        arrays.push(Arc::new(self.key_hashes(&arrays)?));
        let staged = RecordBatch::try_new(spec::staged_file_schema(self.ctx.source), arrays)?;
        Ok((staged, self.rejected.finish()?))
    }

    /// The [`spec::KEY_HASH`] of each row of the staged `arrays`.
    fn key_hashes(&self, arrays: &[ArrayRef]) -> Result<UInt64Array> {
        let schema = spec::staged_file_schema(self.ctx.source);
        let keys = spec::key_columns(self.ctx.source)
            .iter()
            .map(|name| Ok(&arrays[schema.index_of(name)?]))
            .collect::<Result<Vec<_>>>()?;
        key_hash::hashes(&keys)
    }

    /// Rows rejected so far, by reason.
    pub fn by_reason(&self) -> &BTreeMap<&'static str, u64> {
        &self.by_reason
    }

    /// The latest date, in a column that must not be after `as_of`, of the
    /// rows accepted so far: the staging cache's test of whether they would
    /// pass for another `as_of`.
    pub fn max_not_future(&self) -> Option<NaiveDate> {
        self.max_not_future
    }
}

fn check_row(
    texts: &[Option<&str>],
    columns: &[Column],
    ctx: &CheckContext,
    parsed: &mut [Parsed],
) -> Result<(), Rejection> {
    for (i, c) in columns.iter().enumerate() {
        let text = texts[i];
        if c.required && is_blank(text) {
            return Err(reject("missing_field", format!("missing {}", c.name)));
        }
        parsed[i] = parse(c.kind, text);
    }
    first_bad(columns, parsed, texts, &[Kind::Date], "bad_date")?;
    first_bad(
        columns,
        parsed,
        texts,
        &[Kind::Int, Kind::Amount, Kind::Double],
        "bad_number",
    )?;
    for (i, c) in columns.iter().enumerate() {
        let text = texts[i].unwrap_or("");
        if c.kind == Kind::Currency && text != ctx.currency {
            return Err(reject("bad_currency", format!("{} '{text}'", c.name)));
        }
    }
    for (i, c) in columns.iter().enumerate() {
        if let (true, Parsed::Date(d)) = (c.not_future, parsed[i])
            && d > ctx.as_of
        {
            let detail = format!("{} {d} is after as_of {}", c.name, ctx.as_of);
            return Err(reject("future_date", detail));
        }
    }
    Ok(())
}

/// The first column of one of `kinds` whose value did not parse.
fn first_bad(
    columns: &[Column],
    parsed: &[Parsed],
    texts: &[Option<&str>],
    kinds: &[Kind],
    reason: &'static str,
) -> Result<(), Rejection> {
    for (i, c) in columns.iter().enumerate() {
        if matches!(parsed[i], Parsed::Bad) && kinds.contains(&c.kind) {
            let text = texts[i].unwrap_or("");
            return Err(reject(reason, format!("{} '{text}'", c.name)));
        }
    }
    Ok(())
}

/// An optional text field that is empty or only whitespace is null
/// (docs/inputs.md#columns); an optional date or number is null only when
/// empty: `"  "` is not a date (surrounding spaces are bad_date) nor a number.
fn parse(kind: Kind, text: Option<&str>) -> Parsed {
    let null = match kind {
        Kind::Text | Kind::Currency => is_blank(text),
        _ => text.is_none_or(str::is_empty),
    };
    let Some(text) = text.filter(|_| !null) else {
        return Parsed::Null;
    };
    let bad_if_none = |p: Option<Parsed>| p.unwrap_or(Parsed::Bad);
    match kind {
        Kind::Text | Kind::Currency => Parsed::Text,
        Kind::Int => bad_if_none(parse_int(text).map(Parsed::Int)),
        Kind::Date => bad_if_none(parse_date(text).map(Parsed::Date)),
        Kind::Amount => bad_if_none(parse_cents(text).map(Parsed::Cents)),
        Kind::Double => bad_if_none(parse_double(text).map(Parsed::Double)),
    }
}

/// Builders for the kept, typed columns of one source.
struct TypedColumns {
    columns: Vec<(usize, Column)>,
    builders: Vec<TypedBuilder>,
}

enum TypedBuilder {
    Text(StringBuilder),
    Int(Int64Builder),
    Date(Date32Builder),
    Amount(Decimal128Builder),
    Double(Float64Builder),
}

impl TypedColumns {
    fn new(columns: &[Column], capacity: usize) -> Self {
        let kept: Vec<(usize, Column)> = columns
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, c)| !c.personal && c.kind != Kind::Currency)
            .collect();
        TypedColumns {
            builders: Self::new_builders(&kept, capacity),
            columns: kept,
        }
    }

    fn new_builders(kept: &[(usize, Column)], capacity: usize) -> Vec<TypedBuilder> {
        kept.iter()
            .map(|(_, c)| match c.kind {
                Kind::Text | Kind::Currency => {
                    TypedBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 16))
                }
                Kind::Int => TypedBuilder::Int(Int64Builder::with_capacity(capacity)),
                Kind::Date => TypedBuilder::Date(Date32Builder::with_capacity(capacity)),
                Kind::Amount => TypedBuilder::Amount(
                    Decimal128Builder::with_capacity(capacity)
                        .with_precision_and_scale(18, 2)
                        .expect("18,2 is a valid decimal type"),
                ),
                Kind::Double => TypedBuilder::Double(Float64Builder::with_capacity(capacity)),
            })
            .collect()
    }

    fn append(&mut self, parsed: &[Parsed], texts: &[Option<&str>]) {
        for ((i, _), builder) in self.columns.iter().zip(&mut self.builders) {
            match (builder, parsed[*i]) {
                (TypedBuilder::Text(b), Parsed::Text) => b.append_option(texts[*i]),
                (TypedBuilder::Int(b), Parsed::Int(v)) => b.append_value(v),
                (TypedBuilder::Date(b), Parsed::Date(d)) => b.append_value(date32(d)),
                (TypedBuilder::Amount(b), Parsed::Cents(v)) => b.append_value(i128::from(v)),
                (TypedBuilder::Double(b), Parsed::Double(v)) => b.append_value(v),
                (b, _) => b.append_null(),
            }
        }
    }

    /// The typed columns of the rows appended since the last finish; the
    /// builders start again at the same size.
    fn finish(&mut self) -> Vec<ArrayRef> {
        let fresh = TypedColumns::new_builders(&self.columns, BATCH_ROWS);
        std::mem::replace(&mut self.builders, fresh)
            .into_iter()
            .map(TypedBuilder::finish)
            .collect()
    }
}

impl TypedBuilder {
    fn append_null(&mut self) {
        match self {
            TypedBuilder::Text(b) => b.append_null(),
            TypedBuilder::Int(b) => b.append_null(),
            TypedBuilder::Date(b) => b.append_null(),
            TypedBuilder::Amount(b) => b.append_null(),
            TypedBuilder::Double(b) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            TypedBuilder::Text(mut b) => Arc::new(b.finish()),
            TypedBuilder::Int(mut b) => Arc::new(b.finish()),
            TypedBuilder::Date(mut b) => Arc::new(b.finish()),
            TypedBuilder::Amount(mut b) => Arc::new(b.finish()),
            TypedBuilder::Double(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Rows of the `rejected` table, built as they are found.
#[derive(Default)]
struct RejectedBuilder {
    file: StringBuilder,
    line: Int64Builder,
    reason: StringBuilder,
    detail: StringBuilder,
    raw: StringBuilder,
}

impl RejectedBuilder {
    fn push(&mut self, file: &str, line: i64, r: Rejection, raw: &str) {
        self.file.append_value(file);
        self.line.append_value(line);
        self.reason.append_value(r.reason);
        self.detail.append_value(&r.detail);
        self.raw.append_value(raw);
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.detail.finish()),
            Arc::new(self.raw.finish()),
        ];
        Ok(RecordBatch::try_new(spec::rejected_schema(), arrays)?)
    }
}
