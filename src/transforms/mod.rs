//! Transforms: the SQL of `sql/model/`, run in order on the accepted tables.
//!
//! Each file computes one table named after it (`34_customer_class.sql` →
//! `customer_class`). A table is computed once and kept as scratch Parquet
//! (one file per partition of the plan, written in parallel), so the later
//! steps and the sinks read it instead of recomputing it. On a cluster the
//! executors write it to the run's shared scratch, never through the driver.

pub mod exact;
pub mod params;
pub mod ranges;
pub mod rational;

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::dataframe::DataFrame;
use datafusion::datasource::file_format::format_as_file_type;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
use datafusion::logical_expr::LogicalPlanBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::calendar::Calendar;
use crate::config::Params;
use crate::error::{Error, Result};
use crate::memory::{Peak, Watch};
use crate::scratch::{self, Scratch};

/// One step of the model: the table it computes, its SQL, and the keys query
/// that names the keys its ranks are range-partitioned by ([`ranges`]).
pub struct Step {
    pub table: &'static str,
    pub sql: &'static str,
    pub keys: Option<&'static str>,
}

const fn step(table: &'static str, sql: &'static str) -> Step {
    Step {
        table,
        sql,
        keys: None,
    }
}

const fn ranked(table: &'static str, sql: &'static str, keys: &'static str) -> Step {
    Step {
        table,
        sql,
        keys: Some(keys),
    }
}

/// The model, in the order it runs.
pub const STEPS: &[Step] = &[
    step("calendar", include_str!("../../sql/model/10_calendar.sql")),
    step(
        "customer_month",
        include_str!("../../sql/model/20_customer_month.sql"),
    ),
    step(
        "customer_totals",
        include_str!("../../sql/model/30_customer_totals.sql"),
    ),
    ranked(
        "customer_score",
        include_str!("../../sql/model/32_customer_score.sql"),
        include_str!("../../sql/model/32_customer_score.keys.sql"),
    ),
    ranked(
        "customer_rank",
        include_str!("../../sql/model/33_customer_rank.sql"),
        include_str!("../../sql/model/33_customer_rank.keys.sql"),
    ),
    ranked(
        "customer_class",
        include_str!("../../sql/model/34_customer_class.sql"),
        include_str!("../../sql/model/34_customer_class.keys.sql"),
    ),
    step(
        "slice_month",
        include_str!("../../sql/model/40_slice_month.sql"),
    ),
    step("arpu", include_str!("../../sql/model/50_arpu.sql")),
    step(
        "customer_value",
        include_str!("../../sql/model/60_customer_value.sql"),
    ),
    step(
        "churn_watchlist",
        include_str!("../../sql/model/70_churn_watchlist.sql"),
    ),
    step(
        "retention_savings",
        include_str!("../../sql/model/80_retention_savings.sql"),
    ),
];

/// The functions of our SQL (exact division, range partitioning): every
/// session that plans or runs a step holds them, a cluster's executors too.
pub fn functions() -> Vec<datafusion::logical_expr::ScalarUDF> {
    exact::functions()
        .into_iter()
        .chain(ranges::functions())
        .collect()
}

/// One step as it ran: its table, how long it took, and its physical plan
/// with the metrics of the run (rows, time, spills per operator).
#[derive(Debug, Clone)]
pub struct StepReport {
    pub table: String,
    pub took: Duration,
    /// The step's memory peak ([`Watch::mark`]).
    pub memory: Option<Peak>,
    pub plan: String,
}

/// Runs every step on `ctx` (which holds `customers`, `billing`, `costs`),
/// registering each result as a table.
pub async fn run(
    ctx: &SessionContext,
    params: &Params,
    calendar: &Calendar,
    scratch: &Scratch,
    watch: &Watch,
) -> Result<Vec<StepReport>> {
    for udf in functions() {
        ctx.register_udf(udf);
    }
    let buckets = ranges::buckets(ctx);
    params::register_tables(ctx, params)?;
    let values = params::values(params, calendar);
    let mut steps = Vec::new();
    for Step { table, sql, keys } in STEPS {
        let started = Instant::now();
        let mut values = values.clone();
        if let Some(keys) = keys {
            values.extend(
                ranges::parameters(ctx, keys, buckets)
                    .await
                    .map_err(|e| Error::internal(format!("ranging the keys of {table}: {e}")))?,
            );
        }
        let df = ctx
            .sql(sql)
            .await
            .and_then(|df| df.with_param_values(values))
            .map_err(|e| Error::internal(format!("planning sql/model step {table}: {e}")))?;
        let plan = write_table(ctx, table, df, scratch).await?;
        crate::memory::release_free_memory();
        steps.push(StepReport {
            table: table.to_string(),
            took: started.elapsed(),
            memory: watch.mark(),
            plan: DisplayableExecutionPlan::with_metrics(plan.as_ref())
                .indent(true)
                .to_string(),
        });
    }
    Ok(steps)
}

/// Writes a step's table as scratch Parquet and registers it; returns the
/// plan that ran. On this machine, a file for each partition of the plan,
/// written in parallel. On a cluster, the executors write it (a `COPY` to
/// the shared scratch), as one file under a fixed name: a task Ballista
/// runs again replaces it, where a folder would keep both attempts' files
/// (DataFusion names a folder's files anew on every attempt) and double
/// the table's rows.
async fn write_table(
    ctx: &SessionContext,
    table: &str,
    df: DataFrame,
    scratch: &Scratch,
) -> Result<Arc<dyn ExecutionPlan>> {
    if scratch.is_shared() {
        let options = scratch::table_options(df.schema().as_arrow());
        let url = scratch.url(&format!("model_{table}.parquet"))?;
        let format = Arc::new(ParquetFormatFactory::new_with_options(options));
        // The name's extension makes it one file: the plan's options do
        // not travel to the scheduler.
        let copy = LogicalPlanBuilder::copy_to(
            df.logical_plan().clone(),
            url.clone(),
            format_as_file_type(format),
            Default::default(),
            Vec::new(),
        )?
        .build()?;
        let plan = DataFrame::new(ctx.state(), copy)
            .create_physical_plan()
            .await?;
        datafusion::physical_plan::collect(Arc::clone(&plan), ctx.task_ctx()).await?;
        ctx.register_parquet(table, &url, ParquetReadOptions::default())
            .await?;
        return Ok(plan);
    }
    let folder = format!("model_{table}");
    let plan = df.create_physical_plan().await?;
    let props = scratch::writer_properties(&plan.schema());
    ctx.write_parquet(Arc::clone(&plan), scratch.url(&folder)?, Some(props))
        .await?;
    ctx.register_parquet(
        table,
        &scratch.url(&format!("{folder}/"))?,
        ParquetReadOptions::default(),
    )
    .await?;
    Ok(plan)
}
