//! The report's figures, read from the output tables of one date laid out
//! as published (the run's staging folder, or the output itself when the
//! report is rebuilt). Aggregates and a top 20 only: never a whole table.

use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::error::Result;
use crate::storage::{Location, Storage};
use crate::summary::rows;

/// A query's rows as text, by column name.
pub type Row = std::collections::BTreeMap<String, String>;

/// The tables of one date, registered under their output names.
pub struct Tables {
    ctx: SessionContext,
}

impl Tables {
    /// Registers the tables of `as_of` found under `root`: the date's own
    /// partitions, and every month partition of `arpu` (the queries keep
    /// the window's).
    pub async fn open(storage: &Storage, root: &Location, as_of: &str) -> Result<Tables> {
        // Aggregates of a date's tables: nothing that spills.
        let ctx = crate::session::session(storage, None, None)?;
        let by = |cols: &[&str]| {
            cols.iter()
                .map(|c| ((*c).to_owned(), DataType::Utf8))
                .collect::<Vec<_>>()
        };
        let folders = [
            (
                "customer_value",
                format!("customer_value/as_of={as_of}"),
                by(&["pyramid_tier"]),
            ),
            (
                "churn_watchlist",
                format!("churn_watchlist/as_of={as_of}"),
                by(&[]),
            ),
            (
                "retention_savings",
                format!("retention_savings/as_of={as_of}"),
                by(&[]),
            ),
            (
                "rejected",
                format!("rejected/as_of={as_of}"),
                by(&["source"]),
            ),
            ("arpu", "arpu".to_owned(), by(&["month"])),
        ];
        for (table, folder, partitions) in folders {
            let url = format!("{}/", root.child(&folder).url());
            let options = ParquetReadOptions::default().table_partition_cols(partitions);
            ctx.register_parquet(table, &url, options).await?;
        }
        Ok(Tables { ctx })
    }

    async fn query(&self, sql: &str) -> Result<Vec<Row>> {
        Ok(rows(&self.ctx, sql)
            .await?
            .into_iter()
            .map(|r| r.into_iter().collect())
            .collect())
    }

    /// Customers, revenue_w and profit_w per pyramid tier.
    pub async fn pyramid(&self) -> Result<Vec<Row>> {
        self.query(
            "SELECT pyramid_tier AS tier, COUNT(*) AS customers,
                    SUM(revenue_w) AS revenue_w, SUM(profit_w) AS profit_w
             FROM customer_value GROUP BY pyramid_tier",
        )
        .await
    }

    /// Customers, b_rising, revenue_w and profit_w per ABC class.
    pub async fn classes(&self) -> Result<Vec<Row>> {
        self.query(
            "SELECT abc_class AS class, COUNT(*) AS customers,
                    SUM(CASE WHEN b_rising THEN 1 ELSE 0 END) AS b_rising,
                    SUM(revenue_w) AS revenue_w, SUM(profit_w) AS profit_w
             FROM customer_value GROUP BY abc_class ORDER BY abc_class",
        )
        .await
    }

    /// ARPU, churn rate and subscribers per month of `first..=last`
    /// (`YYYY-MM`) for `all`, each pyramid tier and each region.
    pub async fn months(&self, first: &str, last: &str) -> Result<Vec<Row>> {
        self.query(&format!(
            "SELECT month, dimension, dimension_value, arpu, churn_rate, close_subscribers
             FROM arpu
             WHERE month >= '{first}' AND month <= '{last}'
               AND dimension IN ('all', 'pyramid_tier', 'region')
             ORDER BY month, dimension, dimension_value"
        ))
        .await
    }

    /// Every scenario × population of retention savings.
    pub async fn savings(&self) -> Result<Vec<Row>> {
        self.query(
            "SELECT scenario, population, base_subscribers, arpu, avg_monthly_churn_rate,
                    annual_churn_rate, customers_retained, acquisition_cost_avoided,
                    monthly_revenue_retained, annual_revenue_retained,
                    lifetime_value_retained, currency
             FROM retention_savings ORDER BY scenario, population",
        )
        .await
    }

    /// The watchlist's first `n` by baseline revenue, and its length.
    pub async fn watchlist(&self, n: usize) -> Result<(Vec<Row>, u64)> {
        let top = self
            .query(&format!(
                "SELECT customer_id, pyramid_tier, abc_class, lifecycle_stage, drop_ratio,
                        baseline_revenue, last_month_revenue
                 FROM churn_watchlist
                 ORDER BY baseline_revenue DESC, customer_id LIMIT {n}"
            ))
            .await?;
        let total = self
            .query("SELECT COUNT(*) AS n FROM churn_watchlist")
            .await?;
        let total = total
            .first()
            .and_then(|r| r.get("n"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Ok((top, total))
    }

    /// The most frequent rejection reasons per source, each with its
    /// first file and line as an example.
    pub async fn rejections(&self, n: usize) -> Result<Vec<Row>> {
        self.query(&format!(
            "SELECT source, reason, COUNT(*) AS records,
                    first_value(file ORDER BY file, line) AS file,
                    first_value(line ORDER BY file, line) AS line
             FROM rejected GROUP BY source, reason
             ORDER BY records DESC, source, reason LIMIT {n}"
        ))
        .await
    }
}
