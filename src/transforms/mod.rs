//! Transforms: the SQL of `sql/model/`, run in order on the accepted tables.
//!
//! Each file computes one table named after it (`30_customer_rank.sql` →
//! `customer_rank`). A table is computed once and kept as a scratch Parquet
//! file, so the later steps and the sinks read it instead of recomputing it.

pub mod exact;
pub mod params;

use std::path::Path;
use std::time::{Duration, Instant};

use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::calendar::Calendar;
use crate::config::Params;
use crate::error::{Error, Result};

/// The model, in the order it runs: (table, SQL).
pub const STEPS: &[(&str, &str)] = &[
    ("calendar", include_str!("../../sql/model/10_calendar.sql")),
    (
        "customer_month",
        include_str!("../../sql/model/20_customer_month.sql"),
    ),
    (
        "customer_rank",
        include_str!("../../sql/model/30_customer_rank.sql"),
    ),
    (
        "slice_month",
        include_str!("../../sql/model/40_slice_month.sql"),
    ),
    ("arpu", include_str!("../../sql/model/50_arpu.sql")),
    (
        "customer_value",
        include_str!("../../sql/model/60_customer_value.sql"),
    ),
    (
        "churn_watchlist",
        include_str!("../../sql/model/70_churn_watchlist.sql"),
    ),
    (
        "retention_savings",
        include_str!("../../sql/model/80_retention_savings.sql"),
    ),
];

/// Runs every step on `ctx` (which holds `customers`, `billing`, `costs`),
/// registering each result as a table. Returns the time each step took.
pub async fn run(
    ctx: &SessionContext,
    params: &Params,
    calendar: &Calendar,
    work_dir: &Path,
) -> Result<Vec<(String, Duration)>> {
    for udf in exact::functions() {
        ctx.register_udf(udf);
    }
    params::register_tables(ctx, params)?;
    let values = params::values(params, calendar);
    let mut timings = Vec::new();
    for (table, sql) in STEPS {
        let started = Instant::now();
        let df = ctx
            .sql(sql)
            .await
            .and_then(|df| df.with_param_values(values.clone()))
            .map_err(|e| Error::internal(format!("planning sql/model step {table}: {e}")))?;
        let path = work_dir.join(format!("model_{table}.parquet"));
        let path = path
            .to_str()
            .ok_or_else(|| Error::internal("work path is not UTF-8"))?
            .to_owned();
        df.write_parquet(
            &path,
            DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await?;
        ctx.register_parquet(*table, &path, ParquetReadOptions::default())
            .await?;
        timings.push((table.to_string(), started.elapsed()));
    }
    Ok(timings)
}
