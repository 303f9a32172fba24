//! A model table written in the folders its output is cut into: one folder
//! per value of a column (`pyramid_tier=MVC/`, hive style), so that each
//! partition of the output reads its own rows rather than filtering the
//! whole table once per partition.
//!
//! DataFusion's own partitioned writer is not used: it funnels the plan's
//! partitions into one task and formats each row's key as a string. Here
//! every partition of the plan is split on its own task, a batch at a time.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use parquet::arrow::AsyncArrowWriter;

use crate::error::{Error, Result};

/// Where a table is split: the folder column and its type.
#[derive(Debug, Clone)]
struct SplitBy {
    column: String,
    data_type: DataType,
    /// The table's columns less the folder column: what each file holds.
    file_schema: SchemaRef,
}

impl SplitBy {
    fn of(schema: &Schema, column: &str) -> Result<SplitBy> {
        let index = schema.index_of(column)?;
        let mut fields = schema.fields().to_vec();
        let field = fields.remove(index);
        Ok(SplitBy {
            column: column.to_owned(),
            data_type: field.data_type().clone(),
            file_schema: Arc::new(Schema::new(fields)),
        })
    }
}

/// Writes every row of `plan` under `dir`, split by `column`, and registers
/// the folder as `table` with `column` read back from the folder names.
pub async fn write_and_register(
    ctx: &SessionContext,
    table: &str,
    plan: Arc<dyn ExecutionPlan>,
    dir: &str,
    column: &str,
) -> Result<()> {
    let by = SplitBy::of(&plan.schema(), column)?;
    write_split(plan, ctx.task_ctx(), Path::new(dir), &by).await?;
    // The schema is given, not inferred: a table with no rows has no files.
    let options = ParquetReadOptions::default()
        .schema(&by.file_schema)
        .table_partition_cols(vec![(by.column.clone(), by.data_type.clone())]);
    ctx.register_parquet(table, dir, options).await?;
    Ok(())
}

/// Writes every row of `plan` under `dir`, in `column=value/part-P.parquet`.
async fn write_split(
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
    dir: &Path,
    split: &SplitBy,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let partitions = plan.output_partitioning().partition_count();
    let tasks = (0..partitions).map(|p| {
        let (plan, task, dir, split) = (plan.clone(), task.clone(), dir.to_owned(), split.clone());
        tokio::spawn(async move { write_partition(plan, p, task, dir, split).await })
    });
    for written in futures::future::join_all(tasks).await {
        written.map_err(|e| Error::internal(format!("split writer: {e}")))??;
    }
    Ok(())
}

/// One partition of the plan into one file per folder it has rows for.
async fn write_partition(
    plan: Arc<dyn ExecutionPlan>,
    partition: usize,
    task: Arc<TaskContext>,
    dir: PathBuf,
    split: SplitBy,
) -> Result<()> {
    // The writers hold their row groups until they fill: the pool counts
    // them, so the steps that spill leave them room.
    let mut reservation =
        MemoryConsumer::new(format!("SplitWriter[{partition}]")).register(task.memory_pool());
    let mut stream = plan.execute(partition, task)?;
    let column = stream.schema().index_of(&split.column)?;
    let mut writers: HashMap<String, AsyncArrowWriter<tokio::fs::File>> = HashMap::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        for (value, rows) in rows_by_value(&batch, column)? {
            let mut rows = take_record_batch(&batch, &rows)?;
            rows.remove_column(column);
            let writer = match writers.entry(value) {
                Entry::Occupied(open_writer) => open_writer.into_mut(),
                Entry::Vacant(slot) => {
                    let writer = open(&dir, &split, slot.key(), partition).await?;
                    slot.insert(writer)
                }
            };
            writer.write(&rows).await?;
        }
        track(&mut reservation, &writers)?;
    }
    for (_, writer) in writers {
        writer.close().await?;
    }
    reservation.free();
    Ok(())
}

async fn open(
    dir: &Path,
    split: &SplitBy,
    value: &str,
    partition: usize,
) -> Result<AsyncArrowWriter<tokio::fs::File>> {
    let folder = dir.join(format!("{}={value}", split.column));
    tokio::fs::create_dir_all(&folder).await?;
    let file = tokio::fs::File::create(folder.join(format!("part-{partition}.parquet"))).await?;
    let props = crate::scratch::writer_properties(&split.file_schema);
    Ok(AsyncArrowWriter::try_new(
        file,
        split.file_schema.clone(),
        Some(props),
    )?)
}

fn track(
    reservation: &mut MemoryReservation,
    writers: &HashMap<String, AsyncArrowWriter<tokio::fs::File>>,
) -> Result<()> {
    let held: usize = writers.values().map(|w| w.memory_size()).sum();
    reservation.try_resize(held)?;
    Ok(())
}

/// The rows of `batch` for each value of its `column`, as the value's text
/// (its folder name). A null or a value that is not a plain folder name is
/// an error: the tables split here have neither.
fn rows_by_value(batch: &RecordBatch, column: usize) -> Result<Vec<(String, UInt32Array)>> {
    let text = cast(batch.column(column), &DataType::Utf8)?;
    let text = text.as_string::<i32>();
    let mut rows: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, value) in text.iter().enumerate() {
        let value = value.ok_or_else(|| Error::internal("a null in a split column"))?;
        let row = u32::try_from(i).map_err(|_| Error::internal("a batch of 4 Gi rows"))?;
        rows.entry(value).or_default().push(row);
    }
    rows.into_iter()
        .map(|(value, rows)| {
            if value.is_empty() || value.contains(['/', '\\', '=']) || value.starts_with('.') {
                return Err(Error::internal(format!(
                    "{value:?} in a split column is not a folder name"
                )));
            }
            Ok((value.to_owned(), UInt32Array::from(rows)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits the rows of `sql` by `column` into a new folder and reads the
    /// table back: (the folders written, the table's rows as text, sorted).
    async fn split_and_read(sql: &str, column: &str) -> Result<(Vec<String>, Vec<String>)> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("t");
        let path = path.to_str().expect("a UTF-8 temp path");
        let ctx = SessionContext::new();
        let plan = ctx.sql(sql).await?.create_physical_plan().await?;
        write_and_register(&ctx, "t", plan, path, column).await?;
        let mut folders: Vec<String> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()?;
        folders.sort();
        let batches = ctx.sql("SELECT * FROM t").await?.collect().await?;
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string();
        let mut rows: Vec<String> = text
            .lines()
            .skip(3)
            .filter(|l| l.starts_with('|'))
            .map(|l| {
                l.split('|')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        rows.sort();
        Ok((folders, rows))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_split_table_has_one_folder_per_value_and_reads_back_every_row() {
        let (folders, rows) = split_and_read(
            "SELECT * FROM (VALUES ('c1', DATE '2026-01-01', 10), ('c2', DATE '2026-02-01', 20), \
             ('c1', DATE '2026-02-01', 30)) AS v(customer_id, month, revenue)",
            "month",
        )
        .await
        .unwrap();
        assert_eq!(folders, ["month=2026-01-01", "month=2026-02-01"]);
        assert_eq!(
            rows,
            ["c1,10,2026-01-01", "c1,30,2026-02-01", "c2,20,2026-02-01"]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_split_table_without_rows_reads_back_empty() {
        let (folders, rows) = split_and_read(
            "SELECT 'c1' AS customer_id, 'MVC' AS pyramid_tier WHERE FALSE",
            "pyramid_tier",
        )
        .await
        .unwrap();
        assert!(folders.is_empty() && rows.is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_null_or_a_path_in_a_split_column_is_an_error() {
        for value in ["CAST(NULL AS VARCHAR)", "'a/b'", "'..'"] {
            let sql = format!("SELECT 'c1' AS customer_id, {value} AS pyramid_tier");
            let error = split_and_read(&sql, "pyramid_tier").await.unwrap_err();
            assert!(error.to_string().contains("split"), "{value}: {error}");
        }
    }
}
