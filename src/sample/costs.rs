//! Cost-to-serve items: one NDJSON drop per month, amounts as JSON numbers
//! (taken by their source text) and now and then as strings.

use std::io::Write;

use chrono::{Datelike, NaiveDate};
use rand::Rng;

use super::profile::{People, Profile, Stream, day_between};
use super::{SampleOptions, SampleSummary, Span, create, money};
use crate::calendar::last_of_month;

const TYPES: &[&str] = &["points", "support", "visit", "subsidy", "incentive"];

pub(super) fn write(
    options: &SampleOptions,
    people: &People,
    span: &Span,
    summary: &mut SampleSummary,
) -> std::io::Result<()> {
    for (mi, &month) in span.months.iter().enumerate() {
        let end = last_of_month(month);
        let mut out = create(&options.out.join(format!("costs/dt={end}/costs.ndjson")))?;
        for p in people.all() {
            if let Some(item) = item(people, &p, mi, month) {
                writeln!(out, "{item}")?;
                summary.cost_items += 1;
            }
        }
        if options.bad_rows && month == span.months_back(0) {
            let who = people.id(0);
            let day = end.with_day(15).unwrap_or(end);
            let rows = [
                (
                    format!(
                        r#"{{"cost_id":"KBAD-1","customer_id":"{who}","cost_date":"{day}","cost_type":"points","amount":5.00,"currency":"cny"}}"#
                    ),
                    "bad_currency",
                ),
                (
                    format!(
                        r#"{{"cost_id":"KBAD-2","customer_id":"{who}","cost_date":"{}-32","cost_type":"points","amount":5.00,"currency":"CNY"}}"#,
                        end.format("%Y-%m")
                    ),
                    "bad_date",
                ),
                (
                    format!(
                        r#"{{"cost_id":"KBAD-3","customer_id":"C9999998","cost_date":"{day}","cost_type":"visit","amount":80.00,"currency":"CNY"}}"#
                    ),
                    "unknown_customer",
                ),
            ];
            for (text, reason) in rows {
                writeln!(out, "{text}")?;
                summary.cost_items += 1;
                summary.bad("costs", reason);
            }
        }
        out.flush()?;
        summary.files += 1;
    }
    Ok(())
}

/// The month's cost item of a subscriber, if any: always for the expensive
/// few (the sample's below-zero customers), otherwise now and then.
fn item(people: &People, p: &Profile, mi: usize, month: NaiveDate) -> Option<String> {
    let end = last_of_month(month);
    if p.signup > end || p.churn.is_some_and(|c| c <= month) {
        return None;
    }
    let mut r = people.rng(Stream::Costs, p.index, mi as u64);
    if p.cost_pct < 100 && !r.random_bool(0.4) {
        return None;
    }
    let cents = (p.plan_cents * p.cost_pct / 100 * r.random_range(80..=120) / 100).max(1);
    let date = day_between(&mut r, month.max(p.signup), end);
    let kind = if r.random_bool(0.05) {
        "null".to_owned()
    } else {
        format!("\"{}\"", TYPES[r.random_range(0..TYPES.len())])
    };
    let amount = if r.random_bool(0.1) {
        format!("\"{}\"", money(cents))
    } else {
        money(cents)
    };
    Some(format!(
        r#"{{"cost_id":"K{}{:02}-{}","customer_id":"{}","cost_date":"{date}","cost_type":{kind},"amount":{amount},"currency":"CNY"}}"#,
        month.year(),
        month.month(),
        p.id,
        p.id
    ))
}
