//! The page's content: every figure formatted for reading, gathered from
//! the tables and the manifests. The template only lays it out.

use chrono::NaiveDate;
use plotters::style::RGBColor;
use serde::Serialize;
use serde_json::Value;

use super::Sources;
use super::changes::{Changes, changes, exact, float};
use super::charts::{self, Bar, Line};
use super::figures::{Row, Tables};
use super::format::{amount, count, money, money_of, percent, points, quantity};

use rust_decimal::Decimal;

use crate::calendar::Calendar;
use crate::domain::Tier;
use crate::error::Result;

/// How many watchlist customers the page lists.
pub const WATCHLIST_TOP: usize = 20;
const REJECTION_TOP: usize = 10;
const INPUTS_SHOWN: usize = 200;

/// Everything the template shows, formatted.
#[derive(Debug, Serialize)]
pub struct Page {
    pub pipeline: String,
    pub as_of: String,
    pub run_id: String,
    pub version: String,
    pub currency: String,
    pub window: String,
    pub last_month: String,
    pub headlines: Vec<String>,
    pub assumptions: Vec<Assumption>,
    pub pyramid: Vec<Cells>,
    pub pyramid_charts: Vec<String>,
    pub classes: Vec<Cells>,
    pub classes_chart: String,
    pub arpu_chart: String,
    pub churn_chart: String,
    /// The line charts' series: name and colour (`#rrggbb`).
    pub legend: Vec<Cells>,
    pub regions: Vec<Cells>,
    pub savings: Vec<Cells>,
    pub changes: Option<Changes>,
    pub materiality: String,
    pub watchlist: Vec<Cells>,
    pub watchlist_total: String,
    pub quality: Vec<Cells>,
    pub rejections: Vec<Cells>,
    pub gate: String,
    pub inputs: Vec<Cells>,
    pub inputs_hidden: usize,
    /// Files and bytes read per source, in words.
    pub inputs_summary: String,
}

/// A table row: its cells, in the template's column order.
pub type Cells = Vec<String>;

#[derive(Debug, Serialize)]
pub struct Assumption {
    pub name: String,
    pub value: String,
    pub meaning: String,
    pub origin: String,
}

impl Page {
    pub async fn gather(s: &Sources<'_>) -> Result<Page> {
        let m = s.manifest;
        let as_of = text(&m["as_of"]);
        let params = &m["parameters"]["params"];
        let currency = text(&params["currency"]);
        let labels = window_months(m);
        let first = labels.first().cloned().unwrap_or_default();
        let last = labels.last().cloned().unwrap_or_default();
        let tables = Tables::open(s.storage, s.tables, &as_of).await?;
        let pyramid = by_tier(tables.pyramid().await?);
        let classes = tables.classes().await?;
        let months = tables.months(&first, &last).await?;
        let savings = tables.savings().await?;
        let (watchlist, watchlist_total) = tables.watchlist(WATCHLIST_TOP).await?;
        let rejections = tables.rejections(REJECTION_TOP).await?;
        let previous = match NaiveDate::parse_from_str(&as_of, "%Y-%m-%d") {
            Ok(date) => crate::manifest::previous_summary(s.output, date).await?,
            Err(_) => None,
        };
        let inputs = m["inputs"].as_array().map_or(&[][..], |a| a.as_slice());
        Ok(Page {
            pipeline: text(&m["pipeline"]),
            run_id: text(&m["run_id"]),
            version: text(&m["version"]),
            window: format!("{first} to {last}"),
            last_month: last.clone(),
            headlines: headlines(&savings, &currency),
            assumptions: assumptions(m, &savings, &currency, s.materiality),
            pyramid_charts: pyramid_charts(&pyramid)?,
            pyramid: pyramid_rows(&pyramid, &currency),
            classes_chart: classes_chart(&classes)?,
            classes: class_rows(&classes, &currency),
            arpu_chart: month_chart(&months, &labels, Measure::Arpu, &currency)?,
            churn_chart: month_chart(&months, &labels, Measure::ChurnRate, &currency)?,
            legend: series()
                .map(|(_, name)| {
                    let RGBColor(r, g, b) = color(name);
                    vec![name.to_owned(), format!("#{r:02x}{g:02x}{b:02x}")]
                })
                .collect(),
            regions: region_rows(&months, &last, &currency),
            savings: savings_rows(&savings),
            changes: previous.map(|(date, before)| Changes {
                previous_as_of: date.to_string(),
                rows: changes(&before["summary"], &m["summary"], s.materiality, &currency),
            }),
            materiality: percent(float(s.materiality)),
            watchlist: watchlist_rows(&watchlist, &currency),
            watchlist_total: count(watchlist_total),
            quality: quality_rows(&m["sources"]),
            rejections: rejection_rows(&rejections),
            gate: gate(&m["sources"], params),
            inputs: inputs.iter().take(INPUTS_SHOWN).map(input_row).collect(),
            inputs_hidden: inputs.len().saturating_sub(INPUTS_SHOWN),
            inputs_summary: inputs_summary(inputs),
            as_of,
            currency,
        })
    }
}

/// A JSON value as text: strings as they are, numbers as JSON writes
/// them, null empty.
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn cell<'a>(row: &'a Row, column: &str) -> &'a str {
    row.get(column).map_or("", String::as_str)
}

fn number(text: &str) -> Option<f64> {
    text.parse().ok().filter(|v: &f64| v.is_finite())
}

fn whole(text: &str) -> u64 {
    text.parse().unwrap_or(0)
}

fn month_of(date: &str) -> String {
    date.get(..7).unwrap_or(date).to_owned()
}

/// `YYYY-MM` of every month of the run's window, from its as_of and
/// window_months as the run computed them.
fn window_months(m: &Value) -> Vec<String> {
    let as_of = NaiveDate::parse_from_str(&text(&m["as_of"]), "%Y-%m-%d");
    let window = text(&m["parameters"]["params"]["window_months"]).parse();
    match (as_of, window) {
        (Ok(as_of), Ok(window)) => Calendar::new(as_of, window)
            .months()
            .iter()
            .map(|d| d.format("%Y-%m").to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// The rows of a per-tier query in pyramid order, a tier without
/// customers included as zeros.
fn by_tier(rows: Vec<Row>) -> Vec<Row> {
    Tier::ALL
        .iter()
        .map(|t| {
            rows.iter()
                .find(|r| cell(r, "tier") == t.name())
                .cloned()
                .unwrap_or_else(|| Row::from([("tier".to_owned(), t.name().to_owned())]))
        })
        .collect()
}

/// A series' colour: `all` dark, each tier its own.
fn color(name: &str) -> RGBColor {
    match name {
        "MVC" => RGBColor(0x1b, 0x6c, 0xa8),
        "MGC" => RGBColor(0x2a, 0x9d, 0x8f),
        "LVC" => RGBColor(0xc9, 0x9a, 0x1e),
        "BZ" => RGBColor(0xe7, 0x6f, 0x51),
        _ => RGBColor(0x22, 0x22, 0x22),
    }
}

/// One sentence per churn cut on the whole base.
fn headlines(savings: &[Row], currency: &str) -> Vec<String> {
    savings
        .iter()
        .filter(|r| cell(r, "population") == "all")
        .map(|r| {
            let revenue = match cell(r, "monthly_revenue_retained") {
                "" => "keeps no revenue figure (no subscriber was billed in the last month)"
                    .to_owned(),
                v => format!("keeps {} of revenue a month", amount(v, currency)),
            };
            format!(
                "Cutting monthly churn by {} on {} subscribers keeps {} customers, avoids {} of acquisition cost and {revenue}.",
                points(number(cell(r, "scenario")).unwrap_or(0.0)),
                count(whole(cell(r, "base_subscribers"))),
                quantity(number(cell(r, "customers_retained")).unwrap_or(0.0)),
                amount(cell(r, "acquisition_cost_avoided"), currency),
            )
        })
        .collect()
}

/// Where a parameter's value came from, in words.
fn origin(m: &Value, name: &str) -> String {
    match m["parameters"]["origins"][name].as_str() {
        Some("pipeline_file") => "pipeline file",
        Some("set") => "--set",
        Some("flag") => "command line (--as-of)",
        _ => "default",
    }
    .to_owned()
}

fn share(v: &Value) -> String {
    number(&text(v)).map(percent).unwrap_or_else(|| text(v))
}

/// The parameters behind the figures, from the run's manifest; the
/// materiality is the report's own (a rebuild may set another).
fn assumptions(
    m: &Value,
    savings: &[Row],
    currency: &str,
    materiality: Decimal,
) -> Vec<Assumption> {
    let p = &m["parameters"]["params"];
    let scenarios: Vec<String> = p["churn_reduction_scenarios"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| points(number(&text(v)).unwrap_or(0.0)))
                .collect()
        })
        .unwrap_or_default();
    let arpu_all = savings
        .iter()
        .find(|r| cell(r, "population") == "all")
        .and_then(|r| number(cell(r, "arpu")))
        .map_or("none (no subscriber)".to_owned(), |v| {
            format!("{} {currency}", money_of(v))
        });
    let row = |name: &str, value: String, meaning: String| Assumption {
        origin: origin(m, name.split('.').next().unwrap_or(name)),
        name: name.to_owned(),
        value,
        meaning,
    };
    vec![
        row(
            "as_of",
            text(&m["as_of"]),
            "The figures are as of the end of this day.".into(),
        ),
        row(
            "window_months",
            text(&p["window_months"]),
            format!(
                "Months of history the values are measured over: {} to {}.",
                text(&m["window"]["start"]),
                text(&m["window"]["end"])
            ),
        ),
        row(
            "churn_reduction_scenarios",
            scenarios.join(", "),
            "Cuts of the monthly churn rate the savings are estimated for.".into(),
        ),
        row(
            "acquisition_cost",
            amount(&text(&p["acquisition_cost"]), currency),
            "What winning one new customer costs; each customer kept avoids it.".into(),
        ),
        Assumption {
            name: "ARPU used".into(),
            value: arpu_all,
            meaning: format!(
                "Revenue per average subscriber of the last month ({}), per population; computed, not a parameter.",
                month_of(&text(&m["window"]["last_month"]))
            ),
            origin: "arpu table".into(),
        },
        row(
            "monthly_discount_rate",
            share(&p["monthly_discount_rate"]),
            "Discount per month applied to future profit in lifetime value.".into(),
        ),
        row(
            "mvc_share",
            share(&p["mvc_share"]),
            "The most valuable customers, by value score: tier MVC.".into(),
        ),
        row(
            "mgc_share",
            share(&p["mgc_share"]),
            "The next customers with the most room to grow: tier MGC.".into(),
        ),
        row(
            "a_share",
            share(&p["a_share"]),
            "Class A: the top customers by value rank.".into(),
        ),
        row(
            "b_share",
            share(&p["b_share"]),
            "Class B: the customers after class A.".into(),
        ),
        row(
            "b_rising_share",
            share(&p["b_rising_share"]),
            "The top of class B, flagged b_rising: the ones to grow into A.".into(),
        ),
        row(
            "currency",
            currency.to_owned(),
            "The currency of every amount.".into(),
        ),
        Assumption {
            name: "report.materiality".into(),
            value: percent(float(materiality)),
            meaning: "A change since the previous date larger than this share is highlighted."
                .into(),
            origin: match exact(&text(&p["report"]["materiality"])) == Some(materiality) {
                true => origin(m, "report"),
                false => "cvm-etl report".into(),
            },
        },
    ]
}

fn bars_of(rows: &[Row], key: &str, column: &str, label: impl Fn(&str) -> String) -> Vec<Bar> {
    rows.iter()
        .map(|r| Bar {
            category: cell(r, key).to_owned(),
            value: number(cell(r, column)).unwrap_or(0.0),
            label: label(cell(r, column)),
            inner: None,
        })
        .collect()
}

fn pyramid_charts(pyramid: &[Row]) -> Result<Vec<String>> {
    let blue = RGBColor(0x1b, 0x6c, 0xa8);
    let green = RGBColor(0x2a, 0x9d, 0x8f);
    let amber = RGBColor(0xc9, 0x9a, 0x1e);
    Ok(vec![
        charts::bars(
            "Customers per tier",
            &bars_of(pyramid, "tier", "customers", |v| count(whole(v))),
            blue,
        )?,
        charts::bars(
            "Revenue over the window",
            &bars_of(pyramid, "tier", "revenue_w", money),
            green,
        )?,
        charts::bars(
            "Profit over the window",
            &bars_of(pyramid, "tier", "profit_w", money),
            amber,
        )?,
    ])
}

fn pyramid_rows(pyramid: &[Row], currency: &str) -> Vec<Cells> {
    let total: u64 = pyramid.iter().map(|r| whole(cell(r, "customers"))).sum();
    pyramid
        .iter()
        .map(|r| {
            let n = whole(cell(r, "customers"));
            let of_total = if total > 0 {
                n as f64 / total as f64
            } else {
                0.0
            };
            vec![
                cell(r, "tier").to_owned(),
                count(n),
                percent(of_total),
                amount(cell(r, "revenue_w"), currency),
                amount(cell(r, "profit_w"), currency),
            ]
        })
        .collect()
}

fn classes_chart(classes: &[Row]) -> Result<String> {
    let bars: Vec<Bar> = classes
        .iter()
        .map(|r| {
            let n = whole(cell(r, "customers"));
            let rising = whole(cell(r, "b_rising"));
            Bar {
                category: cell(r, "class").to_owned(),
                value: n as f64,
                label: match rising {
                    0 => count(n),
                    k => format!("{} ({} rising)", count(n), count(k)),
                },
                inner: (rising > 0).then_some(rising as f64),
            }
        })
        .collect();
    charts::bars("Customers per ABC class", &bars, RGBColor(0x5b, 0x4b, 0x8a))
}

fn class_rows(classes: &[Row], currency: &str) -> Vec<Cells> {
    classes
        .iter()
        .map(|r| {
            vec![
                cell(r, "class").to_owned(),
                count(whole(cell(r, "customers"))),
                count(whole(cell(r, "b_rising"))),
                amount(cell(r, "revenue_w"), currency),
                amount(cell(r, "profit_w"), currency),
            ]
        })
        .collect()
}

/// The line charts' series: (dimension, value) of the arpu table.
fn series() -> impl Iterator<Item = (&'static str, &'static str)> {
    std::iter::once(("all", "all")).chain(Tier::ALL.iter().map(|t| ("pyramid_tier", t.name())))
}

#[derive(Clone, Copy)]
enum Measure {
    Arpu,
    ChurnRate,
}

/// ARPU or churn rate per month: a line for `all` and one per tier.
fn month_chart(
    months: &[Row],
    labels: &[String],
    measure: Measure,
    currency: &str,
) -> Result<String> {
    let (column, title) = match measure {
        Measure::Arpu => ("arpu", format!("ARPU per month ({currency})")),
        Measure::ChurnRate => ("churn_rate", "Monthly churn rate".to_owned()),
    };
    let lines: Vec<Line> = series()
        .map(|(dimension, value)| Line {
            color: color(value),
            values: labels
                .iter()
                .map(|month| {
                    months
                        .iter()
                        .find(|r| {
                            cell(r, "month") == month
                                && cell(r, "dimension") == dimension
                                && cell(r, "dimension_value") == value
                        })
                        .and_then(|r| number(cell(r, column)))
                })
                .collect(),
        })
        .collect();
    match measure {
        Measure::Arpu => charts::lines(&title, labels, &lines, super::format::compact),
        Measure::ChurnRate => {
            charts::lines(&title, labels, &lines, |y| format!("{:.1}%", y * 100.0))
        }
    }
}

/// Subscribers, ARPU and churn per region in the last month, largest first.
fn region_rows(months: &[Row], last: &str, currency: &str) -> Vec<Cells> {
    let mut regions: Vec<&Row> = months
        .iter()
        .filter(|r| cell(r, "month") == last && cell(r, "dimension") == "region")
        .collect();
    regions.sort_by_key(|r| std::cmp::Reverse(whole(cell(r, "close_subscribers"))));
    regions
        .into_iter()
        .map(|r| {
            vec![
                cell(r, "dimension_value").to_owned(),
                count(whole(cell(r, "close_subscribers"))),
                optional(cell(r, "arpu"), |v| amount(&format!("{v:.2}"), currency)),
                optional(cell(r, "churn_rate"), percent),
            ]
        })
        .collect()
}

fn optional(text: &str, show: impl Fn(f64) -> String) -> String {
    number(text).map_or_else(|| "—".to_owned(), show)
}

fn population_order(p: &str) -> usize {
    Tier::ALL
        .iter()
        .position(|t| t.name() == p)
        .map_or(0, |i| i + 1)
}

/// Amounts without the currency, which the table's heading names.
fn savings_rows(savings: &[Row]) -> Vec<Cells> {
    let mut rows: Vec<&Row> = savings.iter().collect();
    rows.sort_by(|a, b| {
        let scenario = |r: &Row| number(cell(r, "scenario")).unwrap_or(0.0);
        scenario(a).total_cmp(&scenario(b)).then(
            population_order(cell(a, "population")).cmp(&population_order(cell(b, "population"))),
        )
    });
    let money_or_dash = |v: &str| match v {
        "" => "—".to_owned(),
        v => money(v),
    };
    rows.into_iter()
        .map(|r| {
            vec![
                points(number(cell(r, "scenario")).unwrap_or(0.0)),
                cell(r, "population").to_owned(),
                count(whole(cell(r, "base_subscribers"))),
                optional(cell(r, "arpu"), money_of),
                optional(cell(r, "avg_monthly_churn_rate"), percent),
                optional(cell(r, "annual_churn_rate"), percent),
                quantity(number(cell(r, "customers_retained")).unwrap_or(0.0)),
                money_or_dash(cell(r, "acquisition_cost_avoided")),
                money_or_dash(cell(r, "monthly_revenue_retained")),
                money_or_dash(cell(r, "annual_revenue_retained")),
                money_or_dash(cell(r, "lifetime_value_retained")),
            ]
        })
        .collect()
}

fn watchlist_rows(watchlist: &[Row], currency: &str) -> Vec<Cells> {
    watchlist
        .iter()
        .map(|r| {
            vec![
                cell(r, "customer_id").to_owned(),
                cell(r, "pyramid_tier").to_owned(),
                cell(r, "abc_class").to_owned(),
                cell(r, "lifecycle_stage").to_owned(),
                optional(cell(r, "drop_ratio"), percent),
                amount(cell(r, "baseline_revenue"), currency),
                amount(cell(r, "last_month_revenue"), currency),
            ]
        })
        .collect()
}

fn counts_of(c: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    (
        n("rows_read"),
        n("rows_accepted"),
        n("rows_rejected"),
        n("rows_out_of_scope"),
    )
}

fn quality_rows(sources: &Value) -> Vec<Cells> {
    sources
        .as_object()
        .into_iter()
        .flatten()
        .map(|(source, c)| {
            let (read, accepted, rejected, out_of_scope) = counts_of(c);
            let share = if read > 0 {
                rejected as f64 / read as f64
            } else {
                0.0
            };
            vec![
                source.clone(),
                count(read),
                count(accepted),
                count(rejected),
                percent(share),
                count(out_of_scope),
            ]
        })
        .collect()
}

fn rejection_rows(rejections: &[Row]) -> Vec<Cells> {
    rejections
        .iter()
        .map(|r| {
            vec![
                cell(r, "source").to_owned(),
                cell(r, "reason").to_owned(),
                count(whole(cell(r, "records"))),
                format!("{} line {}", cell(r, "file"), cell(r, "line")),
            ]
        })
        .collect()
}

/// The quality gate's verdict in words: every source's rejected share
/// against max_reject_ratio (a run with a report passed both gates).
fn gate(sources: &Value, params: &Value) -> String {
    let limit = share(&params["max_reject_ratio"]);
    let shares: Vec<String> = sources
        .as_object()
        .into_iter()
        .flatten()
        .map(|(source, c)| {
            let (read, _, rejected, _) = counts_of(c);
            let s = if read > 0 {
                rejected as f64 / read as f64
            } else {
                0.0
            };
            format!("{source} {}", percent(s))
        })
        .collect();
    format!(
        "Passed: every source rejected at most max_reject_ratio ({limit}) of its rows ({}), and no source's accepted rows fell by more than max_volume_drop ({}) since the previous run.",
        shares.join(", "),
        share(&params["max_volume_drop"]),
    )
}

fn inputs_summary(inputs: &[Value]) -> String {
    let mut by_source: Vec<(String, u64, u64)> = Vec::new();
    for input in inputs {
        let source = text(&input["source"]);
        let size = input["size"].as_u64().unwrap_or(0);
        match by_source.iter_mut().find(|(s, _, _)| *s == source) {
            Some((_, files, bytes)) => {
                *files += 1;
                *bytes += size;
            }
            None => by_source.push((source, 1, size)),
        }
    }
    by_source
        .iter()
        .map(|(source, files, bytes)| {
            format!("{source}: {} files, {} bytes", count(*files), count(*bytes))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn input_row(input: &Value) -> Cells {
    vec![
        text(&input["source"]),
        text(&input["path"]),
        text(&input["dt"]),
        input["size"].as_u64().map_or_else(String::new, count),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_headline_spells_out_the_retention_example() {
        let row = Row::from_iter(
            [
                ("population", "all"),
                ("scenario", "0.01"),
                ("base_subscribers", "2700000"),
                ("customers_retained", "27000"),
                ("acquisition_cost_avoided", "15093000.00"),
                ("monthly_revenue_retained", "1104300.00"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        assert_eq!(
            headlines(&[row], "CNY"),
            [
                "Cutting monthly churn by 1 point on 2,700,000 subscribers keeps 27,000 customers, avoids 15,093,000.00 CNY of acquisition cost and keeps 1,104,300.00 CNY of revenue a month."
            ]
        );
    }

    #[test]
    fn the_window_is_every_month_from_first_to_last() {
        let manifest = serde_json::json!({
            "as_of": "2026-02-28",
            "parameters": {"params": {"window_months": 4}},
        });
        assert_eq!(
            window_months(&manifest),
            ["2025-11", "2025-12", "2026-01", "2026-02"]
        );
    }
}
