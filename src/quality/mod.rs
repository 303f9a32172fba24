//! Quality: the checks that need a whole source (duplicates, churn before
//! signup, unknown customers; `sql/quality/`), the accepted tables the
//! transforms read, the reconciliation rows_read = accepted + rejected, and
//! the gates (docs/inputs.md#the-gates).

mod doubled;

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type, UInt64Type};
use datafusion::common::JoinType;
use datafusion::dataframe::{DataFrame, DataFrameWriteOptions};
use datafusion::datasource::MemTable;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::prelude::*;
use datafusion::scalar::ScalarValue;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::calendar::Calendar;
use crate::calendar::date32;
use crate::domain::SourceName;
use crate::error::{Error, Result};
use crate::scratch::Scratch;
use crate::sources::{self, PartKind, SourceRead, spec};

/// The duplicate_key check of each source, in SQL.
fn duplicates_sql(source: SourceName) -> &'static str {
    match source {
        SourceName::Customers => include_str!("../../sql/quality/customers_duplicates.sql"),
        SourceName::Billing => include_str!("../../sql/quality/billing_duplicates.sql"),
        SourceName::Costs => include_str!("../../sql/quality/costs_duplicates.sql"),
    }
}

/// The checks of each source that need the whole source, in SQL: the
/// duplicates and the checks decided on the rows they keep.
fn quality_sql(source: SourceName) -> &'static str {
    match source {
        SourceName::Customers => include_str!("../../sql/quality/customers.sql"),
        SourceName::Billing => include_str!("../../sql/quality/billing.sql"),
        SourceName::Costs => include_str!("../../sql/quality/costs.sql"),
    }
}

/// The counts of one source, as the manifest records them.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct SourceCounts {
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub rows_out_of_scope: u64,
}

/// Runs the whole-source checks and registers `customers`, `billing` and
/// `costs` as the accepted tables. Sources are taken customers first.
pub async fn accept(
    ctx: &SessionContext,
    reads: &[SourceRead],
    calendar: &Calendar,
    scratch: &Scratch,
) -> Result<BTreeMap<SourceName, SourceCounts>> {
    let mut counts = BTreeMap::new();
    for read in reads {
        counts.insert(
            read.source,
            accept_source(ctx, read, calendar, scratch).await?,
        );
    }
    Ok(counts)
}

async fn accept_source(
    ctx: &SessionContext,
    read: &SourceRead,
    calendar: &Calendar,
    scratch: &Scratch,
) -> Result<SourceCounts> {
    let source = read.source;
    // A staged part names its file by its folder, `_file_id=<i>/`.
    let staged_schema = spec::staged_file_schema(source);
    let staged_options = ParquetReadOptions::default()
        .schema(&staged_schema)
        .table_partition_cols(vec![(spec::FILE_ID.to_owned(), DataType::Int32)]);
    let folder = |kind: PartKind| scratch.url(&format!("{}/", kind.folder(source)));
    ctx.register_parquet(
        format!("staged_{source}"),
        &folder(PartKind::Staged)?,
        staged_options,
    )
    .await?;
    // With its schema given: a source without files has no part.
    let rejected_schema = spec::rejected_schema();
    ctx.register_parquet(
        format!("row_rejected_{source}"),
        &folder(PartKind::Rejected)?,
        ParquetReadOptions::default().schema(&rejected_schema),
    )
    .await?;
    let files = MemTable::try_new(
        spec::files_schema(),
        vec![vec![sources::files_batch(read)?]],
    )?;
    ctx.register_table(format!("files_{source}"), Arc::new(files))?;
    register_doubled(ctx, source, scratch).await?;
    // Materialized, not a CTE: the later checks read the duplicates twice,
    // and a small table with exact statistics is what the planner holds in
    // memory for the joins.
    let duplicates = format!("duplicates_{source}");
    materialize(ctx, duplicates_sql(source), &duplicates, scratch).await?;
    let whole = format!("whole_rejected_{source}");
    let whole_rows = materialize(ctx, quality_sql(source), &whole, scratch).await?;
    register_raw(ctx, read, &whole, scratch).await?;

    // Accepted: every staged row the whole-source checks did not reject.
    let staged = ctx.table(format!("staged_{source}")).await?;
    let staged_rows = staged.clone().count().await? as u64;
    let kept: Vec<&str> = spec::kept_columns(source).map(|c| c.name).collect();
    let accepted = if whole_rows == 0 {
        staged
    } else {
        let rejected_keys = ctx
            .table(&whole)
            .await?
            .select_columns(&["_file_id", "_line"])?;
        staged.join(
            rejected_keys,
            JoinType::LeftAnti,
            &["_file_id", "_line"],
            &["_file_id", "_line"],
            None,
        )?
    }
    .select_columns(&kept)?;
    ctx.register_table(source.name(), accepted.into_view())?;

    let mut counts = SourceCounts {
        rows_read: read.rows_read,
        rejected_by_reason: read.rejected_by_reason.clone(),
        rows_out_of_scope: out_of_scope(ctx, source, calendar).await?,
        ..SourceCounts::default()
    };
    let mut whole_rejected = 0;
    for (reason, n) in whole_source_rejections(ctx, &whole).await? {
        whole_rejected += n;
        *counts.rejected_by_reason.entry(reason).or_default() += n;
    }
    counts.rows_accepted = staged_rows - whole_rejected;
    counts.rows_rejected = counts.rejected_by_reason.values().sum();
    reconcile(source, &counts)?;
    Ok(counts)
}

/// Registers `doubled_{source}`: the key hashes that occur more than once
/// among the staged rows of `source`. On this machine, a merge of the
/// sorted runs of hashes ([`doubled`]), which needs no table of all the
/// keys; on a cluster, a count by hash, which the executors split between
/// them by hash.
async fn register_doubled(
    ctx: &SessionContext,
    source: SourceName,
    scratch: &Scratch,
) -> Result<()> {
    let name = format!("doubled_{source}");
    let keys = PartKind::Keys.folder(source);
    if scratch.is_shared() {
        let schema = spec::keys_schema();
        let options = ParquetReadOptions::default().schema(&schema);
        let doubled = ctx
            .read_parquet(scratch.url(&format!("{keys}/"))?, options)
            .await?
            .aggregate(vec![col(spec::KEY_HASH)], vec![count(lit(1)).alias("n")])?
            .filter(col("n").gt(lit(1)))?
            .select_columns(&[spec::KEY_HASH])?;
        materialize_df(ctx, doubled, &name, scratch).await?;
        return Ok(());
    }
    let file = format!("{name}.parquet");
    doubled::write_doubled(ctx, &scratch.location(&keys)?, &scratch.local.join(&file)).await?;
    ctx.register_parquet(&name, &scratch.url(&file)?, ParquetReadOptions::default())
        .await?;
    Ok(())
}

/// Runs `sql` into a scratch Parquet file registered as `name` (written
/// where the query runs: on a cluster, by an executor); returns its row
/// count.
async fn materialize(
    ctx: &SessionContext,
    sql: &str,
    name: &str,
    scratch: &Scratch,
) -> Result<u64> {
    materialize_df(ctx, ctx.sql(sql).await?, name, scratch).await
}

/// [`materialize`] for a query already planned.
async fn materialize_df(
    ctx: &SessionContext,
    df: DataFrame,
    name: &str,
    scratch: &Scratch,
) -> Result<u64> {
    let url = scratch.url(&format!("{name}.parquet"))?;
    let written = df
        .write_parquet(
            &url,
            DataFrameWriteOptions::new().with_single_file_output(true),
            None,
        )
        .await?;
    ctx.register_parquet(name, &url, ParquetReadOptions::default())
        .await?;
    // The writer answers with one row: the count of rows written.
    let count = written
        .first()
        .and_then(|b| b.column(0).as_primitive_opt::<UInt64Type>())
        .map(|c| c.value(0));
    count.ok_or_else(|| Error::internal(format!("writing {name}: no row count")))
}

/// Reads again the text of every row the whole-source checks rejected, file
/// by file, and registers it as `whole_raw_{source}` ([`spec::raw_schema`]).
async fn register_raw(
    ctx: &SessionContext,
    read: &SourceRead,
    whole: &str,
    scratch: &Scratch,
) -> Result<()> {
    let name = format!("whole_raw_{}", read.source);
    let scratch_file = format!("{name}.parquet");
    let path = scratch.local.join(&scratch_file);
    let schema = spec::raw_schema();
    let props = crate::scratch::writer_properties(&schema);
    let mut writer = ArrowWriter::try_new(File::create(&path)?, schema, Some(props))?;
    let mut keys = ctx
        .table(whole)
        .await?
        .select_columns(&["_file_id", "_line"])?
        .sort(vec![col("_file_id").sort(true, false)])?
        .execute_stream()
        .await?;
    let mut file: Option<(i32, HashSet<i64>)> = None;
    while let Some(batch) = keys.next().await {
        let batch = batch?;
        let ids = batch.column(0).as_primitive::<Int32Type>();
        let lines = batch.column(1).as_primitive::<Int64Type>();
        for (id, line) in ids.values().iter().zip(lines.values()) {
            match &mut file {
                Some((current, wanted)) if current == id => {
                    wanted.insert(*line);
                }
                _ => {
                    if let Some((done, wanted)) = file.take() {
                        writer.write(&sources::raw_records(read, done, &wanted).await?)?;
                    }
                    file = Some((*id, HashSet::from([*line])));
                }
            }
        }
    }
    if let Some((done, wanted)) = file {
        writer.write(&sources::raw_records(read, done, &wanted).await?)?;
    }
    writer.close()?;
    scratch.share(&scratch_file).await?;
    ctx.register_parquet(
        &name,
        &scratch.url(&scratch_file)?,
        ParquetReadOptions::default(),
    )
    .await?;
    Ok(())
}

async fn whole_source_rejections(ctx: &SessionContext, whole: &str) -> Result<Vec<(String, u64)>> {
    let batches = ctx
        .table(whole)
        .await?
        .aggregate(vec![col("_reason")], vec![count(lit(1)).alias("n")])?
        .collect()
        .await?;
    let mut out = Vec::new();
    for batch in batches {
        let reasons = batch.column(0).as_string::<i32>();
        let n = batch.column(1).as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            out.push((reasons.value(i).to_owned(), n.value(i) as u64));
        }
    }
    Ok(out)
}

/// Accepted lines dated outside the window W (docs/metrics.md#calendar).
async fn out_of_scope(
    ctx: &SessionContext,
    source: SourceName,
    calendar: &Calendar,
) -> Result<u64> {
    let date_column = match source {
        SourceName::Customers => return Ok(0),
        SourceName::Billing => "invoice_date",
        SourceName::Costs => "cost_date",
    };
    let start = lit(ScalarValue::Date32(Some(date32(calendar.window_start))));
    let end = lit(ScalarValue::Date32(Some(date32(calendar.window_end))));
    let n = ctx
        .table(source.name())
        .await?
        .filter(col(date_column).between(start, end).not())?
        .count()
        .await?;
    Ok(n as u64)
}

/// rows_read = rows_accepted + rows_rejected, or the run has a bug.
fn reconcile(source: SourceName, c: &SourceCounts) -> Result<()> {
    if c.rows_read != c.rows_accepted + c.rows_rejected {
        return Err(Error::internal(format!(
            "{source}: {} rows read but {} accepted + {} rejected",
            c.rows_read, c.rows_accepted, c.rows_rejected
        )));
    }
    Ok(())
}

/// Every rejected row of a source, in the columns of the `rejected` table.
pub async fn rejected_rows(ctx: &SessionContext, source: SourceName) -> Result<DataFrame> {
    let row_level = ctx.table(format!("row_rejected_{source}")).await?;
    let raws = ctx.table(format!("whole_raw_{source}")).await?.alias("r")?;
    let whole_source = ctx
        .table(format!("whole_rejected_{source}"))
        .await?
        .alias("w")?
        .join_on(
            raws,
            JoinType::Inner,
            [
                col("w._file_id").eq(col("r._file_id")),
                col("w._line").eq(col("r._line")),
            ],
        )?
        .select(vec![
            col("r._file").alias("file"),
            col("w._line").alias("line"),
            col("w._reason").alias("reason"),
            col("w._detail").alias("detail"),
            col("r._raw").alias("raw"),
        ])?;
    Ok(row_level.union(whole_source)?.sort(vec![
        col("file").sort(true, false),
        col("line").sort(true, false),
    ])?)
}

/// A source over its `max_reject_ratio` (strictly; a source with no rows passes).
pub fn gate(
    counts: &BTreeMap<SourceName, SourceCounts>,
    max_ratio: Decimal,
    rejected_at: &str,
) -> Result<()> {
    let failed: Vec<String> = counts
        .iter()
        .filter(|(_, c)| Decimal::from(c.rows_rejected) > max_ratio * Decimal::from(c.rows_read))
        .map(|(source, c)| describe_failure(*source, c, max_ratio, rejected_at))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::QualityGate(failed.join("\n")))
    }
}

/// The accepted rows of each source in an earlier run: where they come
/// from (for the message) and how many.
pub struct Previous {
    /// e.g. `the run for 2026-09-30`.
    pub described: String,
    pub accepted: BTreeMap<String, u64>,
}

/// The volume gate (docs/inputs.md#max_volume_drop): a source whose accepted
/// rows are fewer than (1 − max_volume_drop) × those of the previous successful
/// run fails the gate (exit 3), so that an empty or truncated delivery does not
/// replace good outputs; max_volume_drop = 1, or no previous run, skips it. The
/// comparison is exact: accepted × 10^s < (10^s − m) × previous for
/// max_volume_drop = m / 10^s.
pub fn volume_gate(
    counts: &BTreeMap<SourceName, SourceCounts>,
    previous: Option<&Previous>,
    max_drop: Decimal,
) -> Result<()> {
    let Some(previous) = previous else {
        return Ok(());
    };
    if max_drop >= Decimal::ONE {
        return Ok(());
    }
    let (m, scale) = (max_drop.mantissa(), max_drop.scale());
    let one = 10_i128.pow(scale);
    let failed: Vec<String> = counts
        .iter()
        .filter_map(|(source, c)| {
            let before = *previous.accepted.get(source.name())?;
            let too_few = i128::from(c.rows_accepted) * one < (one - m) * i128::from(before);
            too_few.then(|| {
                format!(
                    "volume check failed for {source}: {} rows accepted, fewer than (1 - max_volume_drop {max_drop}) x {before} accepted by {}; a missing or truncated delivery? If the drop is real, run with --set max_volume_drop=1",
                    c.rows_accepted, previous.described
                )
            })
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::QualityGate(failed.join("\n")))
    }
}

fn describe_failure(
    source: SourceName,
    c: &SourceCounts,
    max_ratio: Decimal,
    rejected_at: &str,
) -> String {
    let mut reasons: Vec<(&String, &u64)> = c.rejected_by_reason.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = reasons
        .iter()
        .take(3)
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    let share = 100.0 * c.rows_rejected as f64 / c.rows_read as f64;
    format!(
        "quality gate failed for {source}: {} of {} rows rejected ({share:.2}% > max_reject_ratio {max_ratio}); top reasons: {}; see {rejected_at}/source={source}/",
        c.rows_rejected,
        c.rows_read,
        top.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(read: u64, rejected: u64) -> BTreeMap<SourceName, SourceCounts> {
        let c = SourceCounts {
            rows_read: read,
            rows_accepted: read - rejected,
            rows_rejected: rejected,
            rejected_by_reason: BTreeMap::from([("bad_number".to_owned(), rejected)]),
            rows_out_of_scope: 0,
        };
        BTreeMap::from([(SourceName::Billing, c)])
    }

    #[test]
    fn the_gate_fails_only_strictly_above_the_ratio() {
        let ratio = Decimal::new(1, 2);
        assert!(gate(&counts(100, 1), ratio, "x").is_ok());
        assert!(matches!(
            gate(&counts(100, 2), ratio, "x"),
            Err(Error::QualityGate(_))
        ));
        assert!(gate(&counts(0, 0), ratio, "x").is_ok());
    }

    fn previous(billing: u64) -> Previous {
        Previous {
            described: "the run for 2026-09-30".to_owned(),
            accepted: BTreeMap::from([("billing".to_owned(), billing)]),
        }
    }

    #[test]
    fn volume_fails_strictly_below_one_minus_the_drop_and_names_both_counts() {
        let half = Decimal::new(5, 1);
        assert!(volume_gate(&counts(50, 0), Some(&previous(100)), half).is_ok());
        let Err(Error::QualityGate(message)) =
            volume_gate(&counts(49, 0), Some(&previous(100)), half)
        else {
            panic!("49 of 100 passed the volume check");
        };
        for part in ["49", "100", "max_volume_drop", "2026-09-30", "billing"] {
            assert!(message.contains(part), "{message}");
        }
    }

    #[test]
    fn volume_is_not_checked_without_a_previous_run_or_with_a_drop_of_one() {
        assert!(volume_gate(&counts(0, 0), None, Decimal::new(5, 1)).is_ok());
        assert!(volume_gate(&counts(0, 0), Some(&previous(100)), Decimal::ONE).is_ok());
        assert!(volume_gate(&counts(0, 0), Some(&previous(0)), Decimal::ZERO).is_ok());
    }
}

#[cfg(test)]
mod duplicate_tests {
    use datafusion::arrow::array::{Date32Array, Int32Array, Int64Array, StringArray, UInt64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;

    use super::*;

    /// Billing rows (invoice_id, line_no, _line) of one file, no dt, all
    /// with the same key hash.
    fn staged(rows: &[(&str, i64, i64)]) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("invoice_id", DataType::Utf8, false),
            Field::new("line_no", DataType::Int64, false),
            Field::new("_dt", DataType::Date32, true),
            Field::new("_file_id", DataType::Int32, false),
            Field::new("_line", DataType::Int64, false),
            Field::new(spec::KEY_HASH, DataType::UInt64, false),
        ]);
        let ids: StringArray = rows.iter().map(|r| Some(r.0)).collect();
        let line_nos: Int64Array = rows.iter().map(|r| r.1).collect();
        let lines: Int64Array = rows.iter().map(|r| r.2).collect();
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(ids),
                Arc::new(line_nos),
                Arc::new(Date32Array::new_null(rows.len())),
                Arc::new(Int32Array::from_value(0, rows.len())),
                Arc::new(lines),
                Arc::new(UInt64Array::from_value(7, rows.len())),
            ],
        )
        .unwrap()
    }

    #[tokio::test]
    async fn keys_that_only_share_a_hash_are_not_duplicates() {
        let ctx = SessionContext::new();
        // Every key collides: only the exact step can tell them apart.
        let rows = staged(&[("I1", 1, 2), ("I1", 2, 3), ("I2", 1, 4), ("I1", 1, 5)]);
        let table = MemTable::try_new(rows.schema(), vec![vec![rows]]).unwrap();
        ctx.register_table("staged_billing", Arc::new(table))
            .unwrap();
        let doubled = RecordBatch::try_new(
            spec::keys_schema(),
            vec![Arc::new(UInt64Array::from(vec![7]))],
        )
        .unwrap();
        let doubled = MemTable::try_new(spec::keys_schema(), vec![vec![doubled]]).unwrap();
        ctx.register_table("doubled_billing", Arc::new(doubled))
            .unwrap();
        let files = RecordBatch::try_new(
            spec::files_schema(),
            vec![
                Arc::new(Int32Array::from(vec![0])),
                Arc::new(StringArray::from(vec!["b.csv"])),
            ],
        )
        .unwrap();
        let files = MemTable::try_new(spec::files_schema(), vec![vec![files]]).unwrap();
        ctx.register_table("files_billing", Arc::new(files))
            .unwrap();
        let batches = ctx
            .sql(duplicates_sql(SourceName::Billing))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let rejected: Vec<(i64, String)> = batches
            .iter()
            .flat_map(|b| {
                let lines = b.column(1).as_primitive::<Int64Type>();
                let details = datafusion::arrow::compute::cast(b.column(3), &DataType::Utf8);
                let details = details.unwrap();
                let details = details.as_string::<i32>();
                (0..b.num_rows())
                    .map(|i| (lines.value(i), details.value(i).to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(
            rejected,
            vec![(
                2,
                "invoice_id 'I1' line_no 1 is kept from b.csv line 5".to_owned()
            )]
        );
    }
}
