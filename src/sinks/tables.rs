//! The output tables (docs/outputs.md) and how each is partitioned. The columns
//! written are the model table's, less its partition columns and the
//! `_`-prefixed helpers that later steps use.

use chrono::NaiveDate;
use datafusion::prelude::{SessionContext, col, lit};
use datafusion::scalar::ScalarValue;

use super::partition;
use super::publish::{Rows, Staging};
use crate::calendar::Calendar;
use crate::calendar::date32;
use crate::domain::Tier;
use crate::error::Result;

/// How an output table is cut into partitions.
#[derive(Debug, Clone, Copy)]
pub enum PartitionBy {
    /// `month=YYYY-MM`, one per month of the window.
    Month,
    /// `as_of=YYYY-MM-DD`.
    AsOf,
    /// `as_of=YYYY-MM-DD/pyramid_tier=X`, one per tier, empty ones included.
    AsOfTier,
}

/// An output table the model computes.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub table: &'static str,
    pub by: PartitionBy,
    /// The columns its rows are written in order of, for the small tables
    /// whose rows come out of a hash aggregation in an order that changes
    /// from run to run: a rerun of them writes the same bytes. The customer
    /// tables are left in the engine's order; sorting them would cost a
    /// sort of the largest tables for an order nobody reads them in.
    pub order: &'static [&'static str],
}

/// The output tables (docs/outputs.md) that the model computes.
pub const OUTPUTS: &[Output] = &[
    Output::new("customer_month", PartitionBy::Month),
    Output {
        order: &["dimension", "dimension_value"],
        ..Output::new("arpu", PartitionBy::Month)
    },
    Output::new("customer_value", PartitionBy::AsOfTier),
    Output::new("churn_watchlist", PartitionBy::AsOf),
    Output {
        order: &["scenario", "population"],
        ..Output::new("retention_savings", PartitionBy::AsOf)
    },
];

impl Output {
    const fn new(table: &'static str, by: PartitionBy) -> Output {
        Output {
            table,
            by,
            order: &[],
        }
    }
}

/// One partition of a table: its path and the value of the column that
/// selects its rows.
struct Slice {
    path: String,
    filter: Option<Filter>,
}

struct Filter {
    column: &'static str,
    value: ScalarValue,
    /// The value as text, as the fan-out names it (a date as `2026-10-01`).
    text: String,
}

fn slices(by: PartitionBy, calendar: &Calendar) -> Vec<Slice> {
    let as_of = partition::segment("as_of", &calendar.as_of.to_string());
    match by {
        PartitionBy::Month => calendar
            .months()
            .into_iter()
            .map(|m: NaiveDate| Slice {
                path: partition::segment("month", &m.format("%Y-%m").to_string()),
                filter: Some(Filter {
                    column: "month",
                    value: ScalarValue::Date32(Some(date32(m))),
                    text: m.to_string(),
                }),
            })
            .collect(),
        PartitionBy::AsOf => vec![Slice {
            path: as_of,
            filter: None,
        }],
        PartitionBy::AsOfTier => Tier::ALL
            .iter()
            .map(|t| Slice {
                path: format!("{as_of}/{}", partition::segment("pyramid_tier", t.name())),
                filter: Some(Filter {
                    column: "pyramid_tier",
                    value: ScalarValue::Utf8(Some(t.name().to_owned())),
                    text: t.name().to_owned(),
                }),
            })
            .collect(),
    }
}

/// Stages every partition of every output table of the run. A table cut
/// into several partitions is read once and fanned out to them; the small
/// tables written in order are filtered and sorted a partition at a time.
pub async fn stage_outputs(
    ctx: &SessionContext,
    staging: &mut Staging,
    calendar: &Calendar,
) -> Result<()> {
    let mut parts = Vec::new();
    let mut partitions = 0;
    for &Output { table, by, order } in OUTPUTS {
        let df = ctx.table(table).await?;
        let names: Vec<String> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|name| !name.starts_with('_') && !is_partition_column(by, name))
            .collect();
        let columns: Vec<&str> = names.iter().map(String::as_str).collect();
        let slices = slices(by, calendar);
        partitions += slices.len();
        let fanned_by = slices
            .first()
            .and_then(|s| s.filter.as_ref())
            .map(|f| f.column);
        if let (Some(column), true) = (fanned_by, order.is_empty()) {
            let mut read = columns.clone();
            read.push(column);
            parts.push(Rows::Fanned {
                table: table.to_owned(),
                df: df.select_columns(&read)?,
                column: column.to_owned(),
                partitions: slices
                    .into_iter()
                    .filter_map(|s| Some((s.filter?.text, s.path)))
                    .collect(),
            });
            continue;
        }
        for slice in slices {
            let mut part = df.clone();
            if let Some(Filter { column, value, .. }) = slice.filter {
                part = part.filter(col(column).eq(lit(value)))?;
            }
            if !order.is_empty() {
                part = part.sort(order.iter().map(|c| col(*c).sort(true, true)).collect())?;
            }
            parts.push(Rows::Partition {
                table: table.to_owned(),
                partition: slice.path,
                df: part.select_columns(&columns)?,
            });
        }
    }
    crate::progress::start("writing outputs", partitions as u64, 0);
    let staged = staging.stage_all(parts).await;
    crate::progress::finish();
    staged
}

fn is_partition_column(by: PartitionBy, name: &str) -> bool {
    match by {
        PartitionBy::Month => name == "month",
        PartitionBy::AsOf => false,
        PartitionBy::AsOfTier => name == "pyramid_tier",
    }
}
