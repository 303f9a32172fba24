//! The run's parameters as typed SQL values: placeholders (`$mvc_share`, …)
//! bound as exact DECIMAL, BIGINT and DATE scalars, and the list-valued ones
//! (`scenarios`, `tier_policy`) as small tables. Nothing is pasted into SQL text.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Datelike;
use datafusion::arrow::array::{ArrayRef, Decimal128Array, Int64Array, RecordBatch, StringArray};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use rust_decimal::Decimal;

use crate::calendar::Calendar;
use crate::calendar::date32;
use crate::config::{Dec, Params};
use crate::domain::{Factor, Tier};
use crate::error::Result;

/// An exact decimal scalar, at the scale it was written with.
pub fn decimal(value: Decimal) -> ScalarValue {
    let d = Dec(value);
    let (mantissa, scale) = d.mantissa_scale();
    ScalarValue::Decimal128(Some(mantissa), 38, scale as i8)
}

fn int(value: impl Into<i64>) -> ScalarValue {
    ScalarValue::Int64(Some(value.into()))
}

fn date(day: chrono::NaiveDate) -> ScalarValue {
    ScalarValue::Date32(Some(date32(day)))
}

/// The placeholders every model SQL file may use.
pub fn values(params: &Params, calendar: &Calendar) -> Vec<(String, ScalarValue)> {
    let last = calendar.last_month;
    let weight = |f: Factor| {
        params
            .score_weights
            .0
            .get(&f)
            .map_or(Decimal::ZERO, |w| w.0)
    };
    let weight_sum: Decimal = params.score_weights.0.values().map(|w| w.0).sum();
    let map: HashMap<&str, ScalarValue> = HashMap::from([
        ("as_of", date(calendar.as_of)),
        ("window_start", date(calendar.window_start)),
        ("window_end", date(calendar.window_end)),
        ("last_month", date(last)),
        (
            "last_month_no",
            int(i64::from(last.year()) * 12 + i64::from(last.month())),
        ),
        ("w", int(params.window_months.0)),
        ("t", int(params.trend_months.0)),
        ("new_customer_months", int(params.new_customer_months.0)),
        ("dormant_months", int(params.dormant_months.0)),
        ("growth_threshold", decimal(params.growth_threshold.0.0)),
        ("decline_threshold", decimal(params.decline_threshold.0.0)),
        ("alert_drop", decimal(params.alert_drop.0.0)),
        ("mvc_share", decimal(params.mvc_share.0.0)),
        ("mgc_share", decimal(params.mgc_share.0.0)),
        ("a_share", decimal(params.a_share.0.0)),
        ("b_share", decimal(params.b_share.0.0)),
        ("b_rising_share", decimal(params.b_rising_share.0.0)),
        ("w_profit", decimal(weight(Factor::Profit))),
        ("w_revenue", decimal(weight(Factor::Revenue))),
        (
            "w_receivables_turnover",
            decimal(weight(Factor::ReceivablesTurnover)),
        ),
        (
            "w_cooperation_score",
            decimal(weight(Factor::CooperationScore)),
        ),
        ("weight_sum", decimal(weight_sum)),
        ("acquisition_cost", decimal(params.acquisition_cost.0.0)),
        (
            "monthly_discount_rate",
            decimal(params.monthly_discount_rate.0.0),
        ),
        ("currency", ScalarValue::Utf8(Some(params.currency.clone()))),
    ]);
    map.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Registers `scenarios(scenario DECIMAL)` and
/// `tier_policy(pyramid_tier, points_multiplier, action)`.
pub fn register_tables(ctx: &SessionContext, params: &Params) -> Result<()> {
    let scale = params
        .churn_reduction_scenarios
        .iter()
        .map(|d| d.0.0.scale())
        .max()
        .unwrap_or(0);
    let scenarios =
        Decimal128Array::from_iter_values(params.churn_reduction_scenarios.iter().map(|d| {
            let mut v = d.0.0;
            v.rescale(scale);
            v.mantissa()
        }))
        .with_precision_and_scale(38, scale as i8)?;
    let batch = RecordBatch::try_from_iter([("scenario", Arc::new(scenarios) as ArrayRef)])?;
    ctx.register_batch("scenarios", batch)?;

    let tiers: Vec<(Tier, &crate::config::TierAction)> = Tier::ALL
        .iter()
        .map(|t| (*t, &params.tier_policy.0[t]))
        .collect();
    let batch = RecordBatch::try_from_iter([
        (
            "pyramid_tier",
            Arc::new(StringArray::from_iter_values(
                tiers.iter().map(|(t, _)| t.name()),
            )) as ArrayRef,
        ),
        (
            "points_multiplier",
            Arc::new(Int64Array::from_iter_values(
                tiers.iter().map(|(_, a)| a.points_multiplier),
            )) as ArrayRef,
        ),
        (
            "action",
            Arc::new(StringArray::from_iter_values(
                tiers.iter().map(|(_, a)| a.action.as_str()),
            )) as ArrayRef,
        ),
    ])?;
    ctx.register_batch("tier_policy", batch)?;
    Ok(())
}
