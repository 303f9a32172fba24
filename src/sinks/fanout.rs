//! One read of a table, fanned out to one file per partition: each batch's
//! rows go, by the value of the partition column, to the writer of their
//! partition. A table cut into the twelve months of the window is read
//! once, instead of filtered twelve times.
//!
//! ```text
//!  plan partition 0 ─┐                   ┌─► writer month=2026-10 ─► .../part-00000.parquet
//!  plan partition 1 ─┼─ rows by value ───┼─► writer month=2026-09 ─► ...
//!        ...        ─┘  (a channel each) └─► ...
//! ```
//!
//! Every writer runs on its own task, so encoding and compressing still use
//! every core, and each writes its file even when no row comes (empty
//! partitions are written). A row whose value has no partition is an
//! error, never a drop. The writers hold their row groups until they
//! fill: the engine's pool counts them, so that they are inside the limit.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{cast, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::dataframe::DataFrame;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use futures::StreamExt;
use object_store::buffered::BufWriter;
use parquet::arrow::AsyncArrowWriter;
use tokio::sync::mpsc;

use super::parquet::{WrittenFile, writer_properties};
use crate::error::{Error, Result};
use crate::storage::Location;

/// One file of the fan-out: the rows whose column has `value` (as text, a
/// date as `2026-10-01`) go to `relative` under the root.
#[derive(Debug, Clone)]
pub struct Target {
    pub value: String,
    pub relative: String,
}

type Senders = Arc<HashMap<String, mpsc::Sender<RecordBatch>>>;

/// Writes every row of `df` to the target of its `column`'s value, without
/// the column; returns the files in the order of `targets`.
pub async fn write_fanned(
    df: DataFrame,
    column: &str,
    root: &Location,
    targets: &[Target],
) -> Result<Vec<WrittenFile>> {
    let task = Arc::new(df.task_ctx());
    let plan = df.create_physical_plan().await?;
    let index = plan.schema().index_of(column)?;
    let mut fields = plan.schema().fields().to_vec();
    fields.remove(index);
    let file_schema = Arc::new(Schema::new(fields));

    let mut senders = HashMap::new();
    let mut writers = Vec::new();
    for target in targets {
        let (sender, receiver) = mpsc::channel(2);
        senders.insert(target.value.clone(), sender);
        let pool = task.memory_pool().clone();
        let file = write_file(
            receiver,
            root.clone(),
            target.clone(),
            file_schema.clone(),
            pool,
        );
        writers.push(tokio::spawn(file));
    }
    let senders: Senders = Arc::new(senders);
    let readers: Vec<_> = (0..plan.output_partitioning().partition_count())
        .map(|p| {
            let read = read_partition(plan.clone(), p, task.clone(), index, senders.clone());
            tokio::spawn(read)
        })
        .collect();
    // The readers hold the only senders now: when they end, the writers
    // see their channels close and finish their files.
    drop(senders);
    let read = join(readers).await;
    // A writer's error first: it is why a reader found its channel closed.
    let files = join(writers).await?;
    read?;
    Ok(files)
}

async fn join<T>(tasks: Vec<tokio::task::JoinHandle<Result<T>>>) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(tasks.len());
    let mut first_error = None;
    for done in futures::future::join_all(tasks).await {
        match done.map_err(|e| Error::internal(format!("fan-out task: {e}")))? {
            Ok(value) => out.push(value),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(out), Err)
}

/// One partition of the plan, each batch's rows sent to their writers.
async fn read_partition(
    plan: Arc<dyn ExecutionPlan>,
    partition: usize,
    task: Arc<TaskContext>,
    column: usize,
    senders: Senders,
) -> Result<()> {
    let mut stream = plan.execute(partition, task)?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        for (value, rows) in rows_by_value(&batch, column)? {
            let sender = senders.get(&value).ok_or_else(|| {
                Error::internal(format!("a row of {value:?}, which has no partition"))
            })?;
            let mut rows = take_record_batch(&batch, &rows)?;
            rows.remove_column(column);
            sender
                .send(rows)
                .await
                .map_err(|_| Error::internal(format!("the writer of {value:?} stopped")))?;
        }
    }
    Ok(())
}

/// The writer of one target: the batches that come, into one Parquet
/// object, until the channel closes.
async fn write_file(
    mut batches: mpsc::Receiver<RecordBatch>,
    root: Location,
    target: Target,
    schema: SchemaRef,
    pool: Arc<dyn MemoryPool>,
) -> Result<WrittenFile> {
    let reservation =
        MemoryConsumer::new(format!("FanoutWriter[{}]", target.value)).register(&pool);
    let object = BufWriter::new(root.store.clone(), root.path_of(&target.relative));
    let props = writer_properties(&schema);
    let mut writer = AsyncArrowWriter::try_new(object, schema, Some(props))?;
    let mut rows = 0u64;
    while let Some(batch) = batches.recv().await {
        rows += batch.num_rows() as u64;
        writer.write(&batch).await?;
        reservation.try_resize(writer.memory_size())?;
    }
    writer.close().await?;
    reservation.free();
    Ok(WrittenFile {
        path: target.relative,
        rows,
    })
}

/// The rows of `batch` for each value of its `column`, as the value's text
/// (a date as `2026-10-01`). A null is an error: no partition holds it.
fn rows_by_value(batch: &RecordBatch, column: usize) -> Result<Vec<(String, UInt32Array)>> {
    let text = cast(batch.column(column), &DataType::Utf8)?;
    let mut rows: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, value) in text.as_string::<i32>().iter().enumerate() {
        let value = value.ok_or_else(|| Error::internal("a null in a partition column"))?;
        let row = u32::try_from(i).map_err(|_| Error::internal("a batch of 4 Gi rows"))?;
        rows.entry(value).or_default().push(row);
    }
    let rows = rows.into_iter();
    Ok(rows
        .map(|(v, r)| (v.to_owned(), UInt32Array::from(r)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;
    use object_store::memory::InMemory;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn memory() -> Location {
        Location {
            store: Arc::new(InMemory::new()),
            base: url::Url::parse("memory://").expect("a URL"),
            prefix: object_store::path::Path::from("out"),
        }
    }

    fn targets(months: &[&str]) -> Vec<Target> {
        let target = |m: &&str| Target {
            value: format!("{m}-01"),
            relative: format!("month={m}/part-00000.parquet"),
        };
        months.iter().map(target).collect()
    }

    /// The file's columns and its rows, each as its values joined by ','.
    async fn read_back(root: &Location, relative: &str) -> (Vec<String>, Vec<String>) {
        let bytes = root.read(relative).await.unwrap().expect("the file");
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let columns = reader.schema().fields().iter().map(|f| f.name().clone());
        let columns = columns.collect();
        let mut rows = Vec::new();
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            let text = datafusion::arrow::util::display::ArrayFormatter::try_new;
            let options = Default::default();
            let cols: Vec<_> = batch
                .columns()
                .iter()
                .map(|c| text(c.as_ref(), &options).unwrap())
                .collect();
            for i in 0..batch.num_rows() {
                let values: Vec<String> = cols.iter().map(|c| c.value(i).to_string()).collect();
                rows.push(values.join(","));
            }
        }
        rows.sort();
        (columns, rows)
    }

    const ROWS: &str = "SELECT * FROM (VALUES ('c1', DATE '2026-01-01', 10), \
        ('c2', DATE '2026-02-01', 20), ('c1', DATE '2026-02-01', 30)) AS v(customer_id, month, revenue)";

    #[tokio::test(flavor = "multi_thread")]
    async fn every_row_goes_to_the_file_of_its_value_and_a_value_without_rows_gets_an_empty_file() {
        let root = memory();
        let df = SessionContext::new().sql(ROWS).await.unwrap();
        let targets = targets(&["2026-01", "2026-02", "2026-03"]);
        let files = write_fanned(df, "month", &root, &targets).await.unwrap();
        let rows: Vec<u64> = files.iter().map(|f| f.rows).collect();
        assert_eq!(rows, [1, 2, 0]);
        let january = read_back(&root, &targets[0].relative).await;
        assert_eq!(january.0, ["customer_id", "revenue"]);
        assert_eq!(january.1, ["c1,10"]);
        assert_eq!(
            read_back(&root, &targets[1].relative).await.1,
            ["c1,30", "c2,20"]
        );
        assert!(read_back(&root, &targets[2].relative).await.1.is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_row_whose_value_has_no_file_is_an_error_not_a_drop() {
        let df = SessionContext::new().sql(ROWS).await.unwrap();
        let error = write_fanned(df, "month", &memory(), &targets(&["2026-01"]))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("2026-02-01"), "{error}");
    }
}
