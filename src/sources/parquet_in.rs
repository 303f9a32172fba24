//! Parquet files into records for a [`RecordSink`]. Typed columns (DATE, TIMESTAMP,
//! DECIMAL, INT64, DOUBLE) are written as text and then checked exactly like
//! CSV text, so one set of rules decides every row (docs/inputs.md#parquet).
//!
//! Values are turned into text one by one, so that a bad value rejects its
//! row and never the file: a date out of 0001-01-01..9999-12-31 becomes a
//! text that is no date (bad_date), and a string that is not UTF-8 makes
//! its row malformed. For that, the file is read with two changes to the
//! types parquet-rs would give it: INT96 timestamps in seconds (in
//! nanoseconds, its default, they wrap outside 1677..2262), and text columns
//! as bytes (parquet-rs checks UTF-8 a page at a time and fails the batch).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::temporal_conversions::{as_datetime, as_datetime_with_timezone};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Field, Float32Type, Float64Type, Schema,
    TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::arrow::record_batch::RecordBatch;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::basic::Type as PhysicalType;
use parquet::schema::types::{SchemaDescriptor, Type, TypePtr};

use super::csv::REDACTED;
use super::header::{NamedIn, map_columns, normalise};
use super::object_reader::ObjectReader;
use super::record::{BATCH_ROWS, RecordSink};
use super::spec::Column;
use crate::error::{Error, Result, storage_cause};

/// What reading a Parquet file found.
#[derive(Default)]
pub struct ParquetStats {
    pub records: u64,
    pub extra_columns: BTreeSet<String>,
}

/// Reads every row group of a Parquet object, in batches; with `if_match`,
/// every read fails once the object is no longer that version.
pub async fn read_parquet(
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    if_match: Option<String>,
    columns: &'static [Column],
    label: &str,
    sink: &mut impl RecordSink,
) -> Result<ParquetStats> {
    let mut reader = ObjectReader::new(store, path, size, if_match);
    // A store that fails (or a re-read that finds the file replaced) is not
    // a file that cannot be read.
    let unreadable = |e: parquet::errors::ParquetError| match storage_cause(&e) {
        Some(_) => Error::Parquet(e),
        None => Error::config(format!("{label}: not a readable Parquet file: {e}")),
    };
    // The file's own types decide which columns can be read at all.
    let plain = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new())
        .await
        .map_err(unreadable)?;
    let schema = Arc::clone(plain.schema());
    let names: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| normalise(f.name()))
        .collect();
    let map = map_columns(columns, &names, label, NamedIn::Schema)?;
    let mapping = map.fields;
    for (column, index) in columns.iter().zip(&mapping) {
        if let Some(i) = index {
            check_type(schema.field(*i).data_type(), column.name, label)?;
        }
    }
    let mut stats = ParquetStats {
        records: 0,
        extra_columns: map.extra,
    };

    // The footer is read again with the types changed (see the module docs);
    // the reader still holds its bytes, so that costs no request.
    let options = exact_options(&plain).map_err(unreadable)?;
    let hinted = ArrowReaderMetadata::load_async(&mut reader, options)
        .await
        .map_err(unreadable)?;
    let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, hinted);
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

/// Options that read `plain`'s file with INT96 timestamps in seconds, which
/// cannot wrap, and its top-level text columns as bytes, unchecked: a Parquet
/// schema whose text columns have no String annotation, and the Arrow schema
/// that matches it. Every other column keeps the type `plain` gives it.
fn exact_options(plain: &ArrowReaderMetadata) -> parquet::errors::Result<ArrowReaderOptions> {
    let root = plain.parquet_schema().root_schema();
    let mut types: Vec<TypePtr> = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    for (t, field) in root.get_fields().iter().zip(plain.schema().fields()) {
        let mut t = Arc::clone(t);
        let physical = t.is_primitive().then(|| t.get_physical_type());
        let hinted = match (physical, field.data_type()) {
            (Some(PhysicalType::INT96), DataType::Timestamp(_, tz)) => {
                Some(DataType::Timestamp(TimeUnit::Second, tz.clone()))
            }
            (Some(PhysicalType::BYTE_ARRAY), data_type) if is_text(data_type) => {
                t = Arc::new(unannotated(&t)?);
                Some(DataType::Binary)
            }
            _ => None,
        };
        let field = field.as_ref().clone();
        types.push(t);
        fields.push(match hinted {
            Some(data_type) => field.with_data_type(data_type),
            None => field,
        });
    }
    let root = Type::group_type_builder(root.name())
        .with_fields(types)
        .build()?;
    let schema = Schema::new_with_metadata(fields, plain.schema().metadata().clone());
    Ok(ArrowReaderOptions::new()
        .with_parquet_schema(Arc::new(SchemaDescriptor::new(Arc::new(root))))
        .with_schema(Arc::new(schema)))
}

/// An Arrow type that parquet-rs reads from an annotated (UTF-8 checked) string.
fn is_text(data_type: &DataType) -> bool {
    use DataType::*;
    match data_type {
        Utf8 | LargeUtf8 | Utf8View => true,
        Dictionary(_, value) => is_text(value),
        _ => false,
    }
}

/// A BYTE_ARRAY column like `t` without its annotation (String, UTF8, JSON).
fn unannotated(t: &Type) -> parquet::errors::Result<Type> {
    let info = t.get_basic_info();
    Type::primitive_type_builder(info.name(), PhysicalType::BYTE_ARRAY)
        .with_repetition(info.repetition())
        .with_id(info.has_id().then(|| info.id()))
        .build()
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
            None => Ok(TextColumn::from(StringArray::new_null(rows))),
        })
        .collect::<Result<Vec<_>>>()?;
    for row in 0..rows {
        let line = rows_before as i64 + row as i64 + 1;
        let not_utf8 = columns
            .iter()
            .zip(&fields)
            .find(|(_, f)| f.is_not_utf8(row));
        if let Some((c, _)) = not_utf8 {
            let detail = format!("{} is not valid UTF-8", c.name);
            sink.malformed(line, &raw_json(columns, &fields, row), &detail)?;
            continue;
        }
        let field = |i: usize| {
            fields[i]
                .text
                .is_valid(row)
                .then(|| fields[i].text.value(row))
        };
        let raw = || Cow::Owned(raw_json(columns, &fields, row));
        sink.record(line, field, raw)?;
    }
    Ok(())
}

/// A row's text as a JSON object of its columns, personal data redacted.
fn raw_json(columns: &[Column], fields: &[TextColumn], row: usize) -> String {
    let mut object = serde_json::Map::new();
    for (c, f) in columns.iter().zip(fields) {
        let value = if c.personal {
            serde_json::Value::String(REDACTED.to_owned())
        } else if f.text.is_null(row) {
            continue;
        } else {
            serde_json::Value::String(f.text.value(row).to_owned())
        };
        object.insert(c.name.to_owned(), value);
    }
    serde_json::Value::Object(object).to_string()
}

/// A column as the text a CSV would have held.
struct TextColumn {
    text: StringArray,
    /// Rows whose bytes are not UTF-8 (their `text`, for `raw`, has U+FFFD
    /// in their place); empty when there are none.
    not_utf8: Vec<bool>,
}

impl TextColumn {
    fn is_not_utf8(&self, row: usize) -> bool {
        self.not_utf8.get(row).copied().unwrap_or(false)
    }
}

impl From<StringArray> for TextColumn {
    fn from(text: StringArray) -> Self {
        TextColumn {
            text,
            not_utf8: Vec::new(),
        }
    }
}

fn to_text(array: &ArrayRef) -> Result<TextColumn> {
    use DataType::*;
    let text: StringArray = match array.data_type() {
        Binary => return Ok(utf8_text(array.as_binary::<i32>())),
        Float64 => array
            .as_primitive::<Float64Type>()
            .iter()
            .map(|v| v.map(|v| v.to_string()))
            .collect(),
        Float32 => array
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(|v| v.to_string()))
            .collect(),
        Date32 => days::<Date32Type>(array, None, "days"),
        Date64 => days::<Date64Type>(array, None, "ms"),
        Timestamp(unit, tz) => {
            let tz = tz.as_deref().map(str::parse::<Tz>).transpose()?;
            match unit {
                TimeUnit::Second => days::<TimestampSecondType>(array, tz, "s"),
                TimeUnit::Millisecond => days::<TimestampMillisecondType>(array, tz, "ms"),
                TimeUnit::Microsecond => days::<TimestampMicrosecondType>(array, tz, "µs"),
                TimeUnit::Nanosecond => days::<TimestampNanosecondType>(array, tz, "ns"),
            }
        }
        Decimal32(_, s) | Decimal64(_, s) | Decimal128(_, s) | Decimal256(_, s) if *s > 2 => {
            cast_text(array)?
                .iter()
                .map(|v| v.map(trim_extra_decimals))
                .collect()
        }
        _ => cast_text(array)?,
    };
    Ok(TextColumn::from(text))
}

/// Text from a string column read as bytes; values that are not UTF-8 are
/// marked, not refused (docs/inputs.md#parquet: malformed_row for that row).
fn utf8_text(bytes: &BinaryArray) -> TextColumn {
    if let Ok(text) = StringArray::try_from_binary(bytes.clone()) {
        return TextColumn::from(text);
    }
    let mut not_utf8 = vec![false; bytes.len()];
    let text = bytes
        .iter()
        .enumerate()
        .map(|(row, value)| {
            value.map(|b| match std::str::from_utf8(b) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => {
                    not_utf8[row] = true;
                    String::from_utf8_lossy(b)
                }
            })
        })
        .collect();
    TextColumn { text, not_utf8 }
}

/// The day of each value of a date or timestamp column (in the column's time
/// zone, if it has one) as a date's text; `unit` names what the values count.
fn days<T>(array: &ArrayRef, tz: Option<Tz>, unit: &str) -> StringArray
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    array
        .as_primitive::<T>()
        .iter()
        .map(|value| {
            value.map(|value| {
                let value: i64 = value.into();
                let day = as_datetime::<T>(value).and_then(|utc| match tz {
                    // Only far from chrono's limits, where an offset cannot overflow.
                    Some(tz) if (1..=9999).contains(&utc.year()) => {
                        as_datetime_with_timezone::<T>(value, tz).map(|t| t.date_naive())
                    }
                    _ => Some(utc.date()),
                });
                day_text(day, value, unit)
            })
        })
        .collect()
}

/// A day as CSV text when it lies within 0001-01-01..9999-12-31; otherwise
/// a text that is no date, so that its row is bad_date and says why.
fn day_text(day: Option<NaiveDate>, value: i64, unit: &str) -> String {
    match day {
        Some(d) if (1..=9999).contains(&d.year()) => d.to_string(),
        Some(d) => format!("{d} (out of range)"),
        None => format!("{value} {unit} from 1970-01-01 (out of range)"),
    }
}

/// Arrow's text of a column whose every value has one (numbers, booleans).
fn cast_text(array: &ArrayRef) -> Result<StringArray> {
    let text = cast(array, &DataType::Utf8)?;
    text.as_any()
        .downcast_ref::<StringArray>()
        .cloned()
        .ok_or_else(|| Error::internal("cast to Utf8 did not give a string array"))
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
