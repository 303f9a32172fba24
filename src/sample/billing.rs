//! Billing exports: invoice lines dropped every five days as `dt=` folders,
//! a few days late at times (so some lines land in the next month's drop),
//! with credits, refunds after churn, and one drop in each awkward dialect.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::profile::{People, Profile, Stream};
use super::{SampleOptions, SampleSummary, Span, create, csv_field, money};
use crate::calendar::date32;
use crate::calendar::last_of_month;

const HEADER: &str = "invoice_id,line_no,customer_id,invoice_date,service,amount,currency";
const SERVICES: &[&str] = &["voice", "data", "sms", "device", "fee", "data, roaming"];

/// One invoice line.
struct Line {
    invoice_id: String,
    line_no: i64,
    customer_id: String,
    date: NaiveDate,
    service: &'static str,
    cents: i64,
}

impl Line {
    fn csv(&self) -> String {
        format!(
            "{},{},{},{},{},{},CNY",
            self.invoice_id,
            self.line_no,
            self.customer_id,
            self.date,
            csv_field(self.service),
            money(self.cents)
        )
    }
}

pub(super) fn write(
    options: &SampleOptions,
    people: &People,
    span: &Span,
    summary: &mut SampleSummary,
) -> std::io::Result<()> {
    let mut drops = Drops::new(options.out.join("billing"), span, options.plain);
    for (mi, &month) in span.months.iter().enumerate() {
        for p in people.all() {
            let mut r = people.rng(Stream::Billing, p.index, mi as u64);
            for line in month_lines(&p, mi, month, span, &mut r) {
                let lag = [0, 0, 0, 1, 2, 3, 4][r.random_range(0..7)];
                drops.push(drops.drop_for(line.date + Duration::days(lag)), &line)?;
            }
        }
        if options.bad_rows {
            bad_rows(&mut drops, people, span, month, summary)?;
        }
        drops.close_through(last_of_month(month))?;
    }
    drops.close_through(NaiveDate::MAX)?;
    summary.billing_lines = drops.lines;
    summary.files += drops.files;
    Ok(())
}

/// The lines billed to `p` in month `mi`: an invoice while subscribed (none
/// once dormant), now and then a credit, and a refund the month after churn.
fn month_lines(
    p: &Profile,
    mi: usize,
    month: NaiveDate,
    span: &Span,
    r: &mut ChaCha8Rng,
) -> Vec<Line> {
    let end = last_of_month(month);
    let subscribed = p.signup <= end && p.churn.is_none_or(|c| c > month);
    let dormant = p.goes_dormant && mi + 3 >= span.months.len();
    let id = |prefix: &str| format!("{prefix}{}{:02}-{}", month.year(), month.month(), p.id);
    let mut lines = Vec::new();
    if subscribed && !dormant {
        let date = invoice_date(p, month);
        let total = (p.plan_cents * (100 + p.trend_pct * mi as i64) / 100).max(0)
            * r.random_range(92..=108)
            / 100;
        let parts = r.random_range(1..=4);
        let mut left = total;
        for n in 1..=parts {
            let cents = if n == parts {
                left
            } else {
                left * r.random_range(20..60) / 100
            };
            left -= cents;
            lines.push(line(
                id("INV"),
                n,
                p,
                date,
                SERVICES[r.random_range(0..SERVICES.len())],
                cents,
            ));
        }
        if r.random_bool(0.05) {
            lines.push(line(
                id("INV"),
                parts + 1,
                p,
                date,
                "credit",
                -r.random_range(100..2000),
            ));
        }
    }
    let churned_last_month = p
        .churn
        .is_some_and(|c| c < month && c >= month - chrono::Months::new(1));
    if churned_last_month && r.random_bool(0.3) {
        let date = month + Duration::days(r.random_range(0..10));
        lines.push(line(
            id("RF"),
            1,
            p,
            date,
            "refund",
            -(p.plan_cents * r.random_range(10..60) / 100),
        ));
    }
    lines
}

fn line(
    invoice_id: String,
    line_no: i64,
    p: &Profile,
    date: NaiveDate,
    service: &'static str,
    cents: i64,
) -> Line {
    Line {
        invoice_id,
        line_no,
        customer_id: p.id.clone(),
        date,
        service,
        cents,
    }
}

/// The customer's cycle day, within the days it was subscribed.
fn invoice_date(p: &Profile, month: NaiveDate) -> NaiveDate {
    let end = last_of_month(month);
    let cycle = if p.cycle_day == 0 {
        end
    } else {
        month.with_day(p.cycle_day.min(end.day())).unwrap_or(end)
    };
    let date = cycle.max(p.signup);
    match p.churn {
        Some(c) if c <= date => (c - Duration::days(1)).max(month),
        _ => date,
    }
}

/// The handful of bad rows, all inside the last months so that a run on the
/// last day reads them: one of every reason a billing line can have.
fn bad_rows(
    drops: &mut Drops,
    people: &People,
    span: &Span,
    month: NaiveDate,
    summary: &mut SampleSummary,
) -> std::io::Result<()> {
    let who = people.id(0);
    if month == span.months_back(2) {
        let dt = month.with_day(25).unwrap_or(month);
        drops.push_raw(dt, &format!("ADJ-1,1,{who},{dt},fee,12.00,CNY"))?;
        summary.bad("billing", "duplicate_key");
    }
    if month != span.months_back(0) {
        return Ok(());
    }
    let dt = month.with_day(25).unwrap_or(month);
    let future = span.last_day() + Duration::days(3);
    let rows = [
        (format!("ADJ-1,1,{who},{dt},fee,10.00,CNY"), None),
        (
            format!("BAD-1,1,{who},{dt},data,10.005,CNY"),
            Some("bad_number"),
        ),
        (
            format!("BAD-2,1,{who},{},data,10.00,CNY", dt.format("%Y/%m/%d")),
            Some("bad_date"),
        ),
        (
            format!("BAD-3,1,,{dt},data,10.00,CNY"),
            Some("missing_field"),
        ),
        (
            format!("BAD-4,1,{who},{dt},data,10.00,RMB"),
            Some("bad_currency"),
        ),
        (
            format!("BAD-5,1,C9999999,{dt},data,10.00,CNY"),
            Some("unknown_customer"),
        ),
        (
            format!("BAD-6,1,{who},{dt},data,10.00,CNY,extra"),
            Some("malformed_row"),
        ),
        (
            format!("BAD-7,1,{who},{future},data,10.00,CNY"),
            Some("future_date"),
        ),
    ];
    for (text, reason) in rows {
        drops.push_raw(dt, &text)?;
        if let Some(reason) = reason {
            summary.bad("billing", reason);
        }
    }
    Ok(())
}

/// Where a drop's lines go.
enum Sink {
    Csv {
        out: std::io::BufWriter<std::fs::File>,
        eol: &'static str,
    },
    Parquet {
        path: PathBuf,
        rows: Vec<Line>,
    },
}

/// The open drops, by their `dt`.
struct Drops {
    root: PathBuf,
    last_day: NaiveDate,
    bom: Option<NaiveDate>,
    crlf: Option<NaiveDate>,
    parquet: Option<NaiveDate>,
    open: BTreeMap<NaiveDate, Sink>,
    lines: u64,
    files: u64,
}

impl Drops {
    fn new(root: PathBuf, span: &Span, plain: bool) -> Drops {
        let special = |back: usize, day: u32| {
            (span.months.len() > 4)
                .then(|| span.months_back(back).with_day(day))
                .flatten()
        };
        Drops {
            root,
            last_day: span.last_day(),
            bom: special(1, 10),
            crlf: special(2, 15),
            parquet: special(3, 20).filter(|_| !plain),
            open: BTreeMap::new(),
            lines: 0,
            files: 0,
        }
    }

    /// The first drop on or after `day`: the 5th, 10th, 15th, 20th, 25th and
    /// last day of every month, never after the end of the data.
    fn drop_for(&self, day: NaiveDate) -> NaiveDate {
        let end = last_of_month(day);
        let drop = [5, 10, 15, 20, 25]
            .into_iter()
            .find(|d| *d >= day.day())
            .and_then(|d| day.with_day(d))
            .unwrap_or(end);
        drop.min(self.last_day)
    }

    fn sink(&mut self, dt: NaiveDate) -> std::io::Result<&mut Sink> {
        if !self.open.contains_key(&dt) {
            let dir = self.root.join(format!("dt={dt}"));
            let sink = if Some(dt) == self.parquet {
                Sink::Parquet {
                    path: dir.join("billing-000.parquet"),
                    rows: Vec::new(),
                }
            } else {
                let mut out = create(&dir.join("billing-000.csv"))?;
                let eol = if Some(dt) == self.crlf { "\r\n" } else { "\n" };
                if Some(dt) == self.bom {
                    out.write_all("\u{feff}".as_bytes())?;
                }
                write!(out, "{HEADER}{eol}")?;
                Sink::Csv { out, eol }
            };
            self.open.insert(dt, sink);
            self.files += 1;
        }
        Ok(self.open.get_mut(&dt).expect("just opened"))
    }

    fn push(&mut self, dt: NaiveDate, line: &Line) -> std::io::Result<()> {
        self.lines += 1;
        match self.sink(dt)? {
            Sink::Csv { out, eol } => write!(out, "{}{eol}", line.csv()),
            Sink::Parquet { rows, .. } => {
                rows.push(Line {
                    invoice_id: line.invoice_id.clone(),
                    customer_id: line.customer_id.clone(),
                    ..*line
                });
                Ok(())
            }
        }
    }

    fn push_raw(&mut self, dt: NaiveDate, text: &str) -> std::io::Result<()> {
        self.lines += 1;
        match self.sink(dt)? {
            Sink::Csv { out, eol } => write!(out, "{text}{eol}"),
            Sink::Parquet { .. } => Err(std::io::Error::other("bad rows go to CSV drops")),
        }
    }

    fn close_through(&mut self, day: NaiveDate) -> std::io::Result<()> {
        let later = self
            .open
            .split_off(&day.succ_opt().unwrap_or(NaiveDate::MAX));
        for (_, sink) in std::mem::replace(&mut self.open, later) {
            match sink {
                Sink::Csv { mut out, .. } => out.flush()?,
                Sink::Parquet { path, rows } => write_parquet(&path, &rows)?,
            }
        }
        Ok(())
    }
}

/// A drop from the billing system's newer exporter: typed Parquet columns.
fn write_parquet(path: &std::path::Path, rows: &[Line]) -> std::io::Result<()> {
    let text = |f: fn(&Line) -> &str| {
        Arc::new(rows.iter().map(f).map(Some).collect::<StringArray>()) as ArrayRef
    };
    let amounts = Decimal128Array::from_iter_values(rows.iter().map(|l| l.cents as i128))
        .with_precision_and_scale(18, 2)
        .map_err(std::io::Error::other)?;
    let batch = RecordBatch::try_from_iter([
        ("invoice_id", text(|l| &l.invoice_id)),
        (
            "line_no",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|l| l.line_no))) as ArrayRef,
        ),
        ("customer_id", text(|l| &l.customer_id)),
        (
            "invoice_date",
            Arc::new(Date32Array::from_iter_values(
                rows.iter().map(|l| date32(l.date)),
            )) as ArrayRef,
        ),
        ("service", text(|l| l.service)),
        ("amount", Arc::new(amounts) as ArrayRef),
        ("currency", text(|_| "CNY")),
    ])
    .map_err(std::io::Error::other)?;
    let file = create(path)?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)
        .map_err(std::io::Error::other)?;
    writer.write(&batch).map_err(std::io::Error::other)?;
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}
