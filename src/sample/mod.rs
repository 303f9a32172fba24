//! A deterministic generator of realistic exports: the shipped sample under
//! `examples/sample` and, at a million customers, the benchmark's input.
//!
//! Everything streams to disk: a customer's profile is drawn again from its
//! own seed whenever it is needed, so memory does not grow with the base.

mod billing;
mod costs;
mod customers;
mod profile;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{Months, NaiveDate};

use crate::calendar::last_of_month;

pub use profile::Profile;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub customers: u64,
    /// Months of billing and costs, ending with `end_month`.
    pub months: u32,
    /// The first day of the last month of data.
    pub end_month: NaiveDate,
    pub seed: u64,
    pub out: PathBuf,
    /// Add the handful of deliberately bad rows (under 1% of every source).
    pub bad_rows: bool,
    /// Plain exports for benchmarks that read the same files with another
    /// engine: UTF-8 customers, every billing drop CSV (no typed Parquet).
    pub plain: bool,
}

/// What was written.
#[derive(Debug, Default)]
pub struct SampleSummary {
    pub customers: u64,
    pub billing_lines: u64,
    pub cost_items: u64,
    pub files: u64,
    /// Deliberately bad rows by `source/reason`.
    pub bad_rows: BTreeMap<String, u64>,
}

impl SampleSummary {
    fn bad(&mut self, source: &str, reason: &str) {
        *self
            .bad_rows
            .entry(format!("{source}/{reason}"))
            .or_default() += 1;
    }
}

/// The months of data, first days, oldest first.
struct Span {
    months: Vec<NaiveDate>,
}

impl Span {
    fn new(end_month: NaiveDate, count: u32) -> Span {
        let count = count.max(1);
        let first = end_month - Months::new(count - 1);
        Span {
            months: (0..count).map(|i| first + Months::new(i)).collect(),
        }
    }

    fn first_day(&self) -> NaiveDate {
        self.months[0]
    }

    fn last_day(&self) -> NaiveDate {
        last_of_month(*self.months.last().expect("at least one month"))
    }

    /// The month `back` months before the last one (clamped to the first).
    fn months_back(&self, back: usize) -> NaiveDate {
        self.months[self.months.len().saturating_sub(back + 1)]
    }
}

/// Writes `customers/`, `billing/` and `costs/` under `options.out`.
pub fn generate(options: &SampleOptions) -> std::io::Result<SampleSummary> {
    let span = Span::new(options.end_month, options.months);
    let mut summary = SampleSummary::default();
    let people = profile::People::new(options.seed, options.customers, &span);
    customers::write(options, &people, &span, &mut summary)?;
    billing::write(options, &people, &span, &mut summary)?;
    costs::write(options, &people, &span, &mut summary)?;
    Ok(summary)
}

/// Cents as the exports write them: `-12.05`.
fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

fn create(path: &std::path::Path) -> std::io::Result<std::io::BufWriter<std::fs::File>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    Ok(std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path)?,
    ))
}

/// A CSV field, quoted when RFC 4180 needs it.
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_keeps_two_places_and_the_sign() {
        assert_eq!(money(0), "0.00");
        assert_eq!(money(-5), "-0.05");
        assert_eq!(money(123456), "1234.56");
    }

    #[test]
    fn the_span_ends_with_the_end_month() {
        let span = Span::new(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(), 14);
        assert_eq!(
            span.first_day(),
            NaiveDate::from_ymd_opt(2025, 9, 1).unwrap()
        );
        assert_eq!(
            span.last_day(),
            NaiveDate::from_ymd_opt(2026, 10, 31).unwrap()
        );
        assert_eq!(
            span.months_back(1),
            NaiveDate::from_ymd_opt(2026, 9, 1).unwrap()
        );
    }
}
