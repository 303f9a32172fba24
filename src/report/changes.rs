//! What changed since the previous published date: each headline figure
//! of the two dates' run summaries side by side, and whether it moved by
//! more than `report.materiality` of its old value, compared exactly.

use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::Value;

use super::format::{amount, count, percent, points, quantity};
use super::page::text;
use crate::domain::Tier;

/// The comparison with the previous date, as the page shows it.
#[derive(Debug, Serialize)]
pub struct Changes {
    pub previous_as_of: String,
    pub rows: Vec<Change>,
}

#[derive(Debug, Serialize)]
pub struct Change {
    pub figure: String,
    pub before: String,
    pub after: String,
    pub change: String,
    pub material: bool,
}

/// One figure of a summary: its name, exact value and how to show it.
struct Figure {
    name: String,
    value: Option<Decimal>,
    shown: String,
}

/// A summary's text as an exact decimal (a double's shortest text is one).
pub(super) fn exact(text: &str) -> Option<Decimal> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

pub(super) fn float(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// The figures compared between two dates, read from their summaries.
fn figures(summary: &Value, currency: &str) -> Vec<Figure> {
    let mut out = Vec::new();
    let n = |v: &Value| exact(&text(v));
    let whole = |v: Option<Decimal>| count(v.and_then(|v| v.to_u64()).unwrap_or(0));
    let in_scope = n(&summary["customers_in_scope"]);
    out.push(Figure {
        name: "Customers in scope".into(),
        value: in_scope,
        shown: whole(in_scope),
    });
    for tier in Tier::ALL {
        let v = n(&summary["pyramid_tier"][tier.name()]).unwrap_or_default();
        out.push(Figure {
            name: format!("Customers {}", tier.name()),
            value: Some(v),
            shown: whole(Some(v)),
        });
    }
    let all = summary["last_month"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["dimension_value"] == "all"));
    let arpu = all.and_then(|r| n(&r["arpu"]));
    out.push(Figure {
        name: "ARPU of the last month".into(),
        value: arpu,
        shown: arpu.map_or("—".into(), |v| amount(&v.to_string(), currency)),
    });
    let churn = all.and_then(|r| n(&r["churn_rate"]));
    out.push(Figure {
        name: "Churn rate of the last month".into(),
        value: churn,
        shown: churn.map_or("—".into(), |v| percent(float(v))),
    });
    let money_figures = [
        ("acquisition_cost_avoided", "acquisition cost avoided"),
        ("monthly_revenue_retained", "monthly revenue retained"),
        ("annual_revenue_retained", "annual revenue retained"),
        ("lifetime_value_retained", "lifetime value retained"),
    ];
    for r in summary["retention_savings"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let cut = points(n(&r["scenario"]).map_or(0.0, float));
        let retained = n(&r["customers_retained"]);
        out.push(Figure {
            name: format!("Churn cut {cut}: customers retained"),
            value: retained,
            shown: retained.map_or("—".into(), |v| quantity(float(v))),
        });
        for (column, words) in money_figures {
            let v = text(&r[column]);
            out.push(Figure {
                name: format!("Churn cut {cut}: {words}"),
                value: exact(&v),
                shown: if v.is_empty() {
                    "—".into()
                } else {
                    amount(&v, currency)
                },
            });
        }
    }
    out
}

/// Each figure before and after, and whether it moved by more than the
/// materiality share of its old value, compared exactly (a move of exactly
/// the share is not material; any move from 0 is).
pub fn changes(before: &Value, after: &Value, materiality: Decimal, currency: &str) -> Vec<Change> {
    let before = figures(before, currency);
    figures(after, currency)
        .into_iter()
        .map(|now| {
            let old = before.iter().find(|f| f.name == now.name);
            let (change, material) = match (old.and_then(|f| f.value), now.value) {
                (Some(b), Some(a)) if !b.is_zero() => {
                    let moved = a.checked_sub(b);
                    let allowed = materiality.checked_mul(b.abs());
                    let c = (float(a) - float(b)) / float(b).abs();
                    let material = match (moved, allowed) {
                        (Some(m), Some(limit)) => m.abs() > limit,
                        // Past Decimal's range: doubles are close enough there.
                        _ => c.abs() > float(materiality),
                    };
                    let sign = if c > 0.0 { "+" } else { "" };
                    (format!("{sign}{}", percent(c)), material)
                }
                (Some(_), Some(a)) => {
                    let moved = !a.is_zero();
                    (if moved { "new" } else { "0.00%" }.to_owned(), moved)
                }
                _ => ("—".to_owned(), false),
            };
            Change {
                before: old.map_or("—".into(), |f| f.shown.clone()),
                figure: now.name,
                after: now.shown,
                change,
                material,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(mvc: u64, arpu: &str, acquisition: &str) -> Value {
        json!({
            "customers_in_scope": mvc + 100,
            "pyramid_tier": {"MVC": mvc, "MGC": 0, "LVC": 100, "BZ": 0},
            "last_month": [{"dimension_value": "all", "arpu": arpu, "churn_rate": "0.02"}],
            "retention_savings": [{"scenario": "0.01", "customers_retained": "27000",
                "acquisition_cost_avoided": acquisition, "monthly_revenue_retained": "",
                "annual_revenue_retained": "", "lifetime_value_retained": ""}],
        })
    }

    fn change<'a>(rows: &'a [Change], figure: &str) -> &'a Change {
        rows.iter().find(|c| c.figure == figure).unwrap()
    }

    #[test]
    fn a_change_beyond_materiality_is_highlighted_and_one_within_is_not() {
        let rows = changes(
            &summary(10, "100.0", "1000.00"),
            &summary(12, "109.0", "1100.01"),
            Decimal::new(10, 2),
            "CNY",
        );
        let mvc = change(&rows, "Customers MVC");
        assert_eq!((mvc.before.as_str(), mvc.after.as_str()), ("10", "12"));
        assert_eq!(mvc.change, "+20.00%");
        assert!(mvc.material);
        let arpu = change(&rows, "ARPU of the last month");
        assert_eq!(arpu.after, "109.00 CNY");
        assert!(!arpu.material, "9% is within 10%");
        let cost = change(&rows, "Churn cut 1 point: acquisition cost avoided");
        assert!(cost.material, "10.001% is beyond 10%");
        assert_eq!(cost.after, "1,100.01 CNY");
        assert!(!change(&rows, "Customers LVC").material);
    }

    #[test]
    fn a_change_of_exactly_the_materiality_is_not_highlighted() {
        // In doubles, (44.99 - 40.90) / 40.90 is 0.10000000000000009.
        let rows = changes(
            &summary(10, "40.90", "3.0"),
            &summary(11, "44.99", "3.3"),
            Decimal::new(10, 2),
            "CNY",
        );
        assert!(!change(&rows, "ARPU of the last month").material);
        assert!(!change(&rows, "Customers MVC").material, "10 to 11");
        assert!(!change(&rows, "Churn cut 1 point: acquisition cost avoided").material);
    }

    #[test]
    fn a_figure_that_was_zero_is_material_when_it_moves() {
        let rows = changes(
            &summary(0, "1", "0"),
            &summary(5, "1", "0"),
            Decimal::new(10, 2),
            "CNY",
        );
        let mvc = change(&rows, "Customers MVC");
        assert_eq!(mvc.change, "new");
        assert!(mvc.material);
        assert!(!change(&rows, "Churn cut 1 point: acquisition cost avoided").material);
    }
}
