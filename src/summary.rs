//! The figures a person wants at the end of a run (and finds again in the
//! manifest): customers per tier and class, the watchlist, and the
//! retention-savings line of the whole base. Aggregates only.

use std::collections::BTreeMap;

use datafusion::arrow::array::Array;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::error::Result;

/// The run's headline figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModelSummary {
    pub customers_in_scope: u64,
    pub pyramid_tier: BTreeMap<String, u64>,
    pub abc_class: BTreeMap<String, u64>,
    pub b_rising: u64,
    pub watchlist: u64,
    /// Population `all`, one line per scenario, as text columns.
    pub retention_savings: Vec<BTreeMap<String, String>>,
    /// ARPU and churn rate of the window's last month for `all` and each
    /// pyramid tier, as text columns (`dimension_value`, `arpu`,
    /// `churn_rate`).
    pub last_month: Vec<BTreeMap<String, String>>,
}

/// Reads the headline figures from the model's tables.
pub async fn summarize(ctx: &SessionContext) -> Result<ModelSummary> {
    let counts = |sql: &'static str| async move { rows(ctx, sql).await };
    let mut summary = ModelSummary::default();
    for row in
        counts("SELECT pyramid_tier, COUNT(*) FROM customer_value GROUP BY pyramid_tier").await?
    {
        summary
            .pyramid_tier
            .insert(row[0].1.clone(), row[1].1.parse().unwrap_or(0));
    }
    for row in counts("SELECT abc_class, COUNT(*) FROM customer_value GROUP BY abc_class").await? {
        summary
            .abc_class
            .insert(row[0].1.clone(), row[1].1.parse().unwrap_or(0));
    }
    summary.customers_in_scope = summary.pyramid_tier.values().sum();
    summary.b_rising = single(counts("SELECT COUNT(*) FROM customer_value WHERE b_rising").await?);
    summary.watchlist = single(counts("SELECT COUNT(*) FROM churn_watchlist").await?);
    let savings = counts(
        "SELECT scenario, base_subscribers, customers_retained, acquisition_cost_avoided,
                monthly_revenue_retained, annual_revenue_retained, lifetime_value_retained, currency
         FROM retention_savings WHERE population = 'all' ORDER BY scenario",
    )
    .await?;
    summary.retention_savings = savings
        .into_iter()
        .map(|r| r.into_iter().collect())
        .collect();
    let last_month = counts(
        "SELECT dimension_value, arpu, churn_rate FROM arpu
         WHERE dimension IN ('all', 'pyramid_tier') AND month = (SELECT MAX(month) FROM arpu)
         ORDER BY dimension_value",
    )
    .await?;
    summary.last_month = last_month
        .into_iter()
        .map(|r| r.into_iter().collect())
        .collect();
    Ok(summary)
}

fn single(rows: Vec<Vec<(String, String)>>) -> u64 {
    rows.first()
        .and_then(|r| r.first())
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// A small query's rows as (column, text) pairs; null is empty text.
pub async fn rows(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<(String, String)>>> {
    let df = ctx.sql(sql).await?;
    let names: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let mut out = Vec::new();
    for batch in df.collect().await? {
        for i in 0..batch.num_rows() {
            let mut row = Vec::new();
            for (name, column) in names.iter().zip(batch.columns()) {
                let text = if column.is_null(i) {
                    String::new()
                } else {
                    array_value_to_string(column, i)?
                };
                row.push((name.clone(), text));
            }
            out.push(row);
        }
    }
    Ok(out)
}
