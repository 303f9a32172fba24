//! Parquet files into records for a [`RecordSink`]. Typed columns (DATE, TIMESTAMP,
//! DECIMAL, INT64, DOUBLE) are written as text and then checked exactly like
//! CSV text, so one set of rules decides every row (SPEC §2 "typed inputs").

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float32Array, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;

use super::csv::REDACTED;
use super::object_reader::ObjectReader;
use super::raw::{BATCH_ROWS, RecordSink};
use super::spec::Column;
use crate::error::{Error, Result};

/// What reading a Parquet file found.
#[derive(Default)]
pub struct ParquetStats {
    pub records: u64,
    pub extra_columns: BTreeSet<String>,
}

/// Reads every row group of a Parquet object, in batches.
pub async fn read_parquet(
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    columns: &'static [Column],
    label: &str,
    sink: &mut impl RecordSink,
) -> Result<ParquetStats> {
    let reader = ObjectReader::new(store, path, size);
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| Error::config(format!("{label}: not a readable Parquet file: {e}")))?;
    let schema = Arc::clone(builder.schema());
    let names: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().trim().to_lowercase())
        .collect();
    let mapping = map_columns(columns, &names, label)?;
    for (column, index) in columns.iter().zip(&mapping) {
        if let Some(i) = index {
            check_type(schema.field(*i).data_type(), column.name, label)?;
        }
    }
    let mut stats = ParquetStats::default();
    let known: BTreeSet<&str> = columns.iter().map(|c| c.name).collect();
    stats.extra_columns = names
        .iter()
        .filter(|n| !known.contains(n.as_str()))
        .cloned()
        .collect();

    let wanted: Vec<usize> = mapping.iter().flatten().copied().collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.clone());
    let mut stream = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()?;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let projected: Vec<Option<usize>> = mapping
            .iter()
            .map(|m| m.map(|i| wanted.iter().filter(|&&w| w < i).count()))
            .collect();
        send_rows(&batch, columns, &projected, stats.records, sink)?;
        stats.records += batch.num_rows() as u64;
    }
    Ok(stats)
}

/// For each source column, the file column that holds it.
fn map_columns(columns: &[Column], names: &[String], label: &str) -> Result<Vec<Option<usize>>> {
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(Error::config(format!(
                "{label}: the file names column '{name}' twice"
            )));
        }
    }
    let mapping: Vec<Option<usize>> = columns
        .iter()
        .map(|c| names.iter().position(|n| n == c.name))
        .collect();
    if let Some((c, _)) = columns
        .iter()
        .zip(&mapping)
        .find(|(c, m)| c.required && m.is_none())
    {
        return Err(Error::config(format!(
            "{label}: missing required column '{}'",
            c.name
        )));
    }
    Ok(mapping)
}

fn check_type(data_type: &DataType, name: &str, label: &str) -> Result<()> {
    use DataType::*;
    let readable = match data_type {
        // Null: a column pyarrow wrote with no value at all.
        Null | Utf8 | LargeUtf8 | Utf8View | Date32 | Date64 | Timestamp(_, _) | Boolean => true,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => true,
        Float32
        | Float64
        | Decimal32(_, _)
        | Decimal64(_, _)
        | Decimal128(_, _)
        | Decimal256(_, _) => true,
        Dictionary(_, value) => matches!(value.as_ref(), Utf8 | LargeUtf8),
        _ => false,
    };
    if readable {
        Ok(())
    } else {
        Err(Error::config(format!(
            "{label}: column '{name}' has type {data_type}, which cannot hold a {name}"
        )))
    }
}

/// Hands on each row of `batch` as text; a row's line is its number in
/// the file, from 1.
fn send_rows(
    batch: &RecordBatch,
    columns: &[Column],
    projected: &[Option<usize>],
    rows_before: u64,
    sink: &mut impl RecordSink,
) -> Result<()> {
    let rows = batch.num_rows();
    let fields = projected
        .iter()
        .map(|p| match p {
            Some(i) => to_text(batch.column(*i)),
            None => Ok(StringArray::new_null(rows)),
        })
        .collect::<Result<Vec<_>>>()?;
    for row in 0..rows {
        let field = |i: usize| fields[i].is_valid(row).then(|| fields[i].value(row));
        let raw = || Cow::Owned(raw_json(columns, &fields, row));
        sink.record(rows_before as i64 + row as i64 + 1, field, raw)?;
    }
    Ok(())
}

/// A row's text as a JSON object of its columns, personal data redacted.
fn raw_json(columns: &[Column], fields: &[StringArray], row: usize) -> String {
    let mut object = serde_json::Map::new();
    for (c, f) in columns.iter().zip(fields) {
        let value = if c.personal {
            serde_json::Value::String(REDACTED.to_owned())
        } else if f.is_null(row) {
            continue;
        } else {
            serde_json::Value::String(f.value(row).to_owned())
        };
        object.insert(c.name.to_owned(), value);
    }
    serde_json::Value::Object(object).to_string()
}

/// A column as the text a CSV would have held.
fn to_text(array: &ArrayRef) -> Result<StringArray> {
    use DataType::*;
    let text = match array.data_type() {
        Float64 => shortest(
            array
                .as_any()
                .downcast_ref::<Float64Array>()
                .map(|a| a.iter().map(|v| v.map(|v| v.to_string())).collect()),
        ),
        Float32 => shortest(
            array
                .as_any()
                .downcast_ref::<Float32Array>()
                .map(|a| a.iter().map(|v| v.map(|v| v.to_string())).collect()),
        ),
        Timestamp(_, _) | Date64 => cast(&cast(array, &Date32)?, &Utf8)?,
        Decimal32(_, s) | Decimal64(_, s) | Decimal128(_, s) | Decimal256(_, s) if *s > 2 => {
            let text = cast(array, &Utf8)?;
            let text = text
                .as_any()
                .downcast_ref::<StringArray>()
                .cloned()
                .unwrap_or_else(|| StringArray::new_null(array.len()));
            Arc::new(
                text.iter()
                    .map(|v| v.map(trim_extra_decimals))
                    .collect::<StringArray>(),
            )
        }
        _ => cast(array, &Utf8)?,
    };
    text.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| Error::internal("cast to Utf8 did not give a string array"))
}

fn shortest(values: Option<StringArray>) -> ArrayRef {
    Arc::new(values.unwrap_or_else(|| StringArray::new_null(0)))
}

/// `10.500` → `10.50`: a wider decimal scale with zeros is the same amount;
/// non-zero digits past the second stay and fail the amount rule.
fn trim_extra_decimals(text: &str) -> String {
    let Some(point) = text.find('.') else {
        return text.to_owned();
    };
    let keep = point + 3;
    let mut end = text.len();
    while end > keep && text.as_bytes()[end - 1] == b'0' {
        end -= 1;
    }
    text[..end].to_owned()
}
