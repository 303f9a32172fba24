//! Typed inputs: Parquet and NDJSON (docs/inputs.md#parquet, #ndjson).

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Float64Array, Int64Array, NullArray, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::data_type::{ByteArray, ByteArrayType, Int96, Int96Type};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::common::*;

fn parquet_bytes(columns: Vec<(&str, ArrayRef)>) -> Vec<u8> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .unwrap();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

fn text(v: &[&str]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

/// One column's values for [`low_level_parquet`].
enum Values {
    Bytes(Vec<Vec<u8>>),
    Int96(Vec<Int96>),
}

fn utf8(v: &[&str]) -> Values {
    Values::Bytes(v.iter().map(|s| s.as_bytes().to_vec()).collect())
}

/// Midnight of a Julian day, as Spark and Hive write an INT96 timestamp.
fn int96_day(julian_day: u32) -> Int96 {
    Int96::from(vec![0, 0, julian_day])
}

/// A Parquet file of `message`, written column by column with the low-level
/// writer: ArrowWriter writes no INT96 and no string that is not UTF-8.
fn low_level_parquet(message: &str, columns: Vec<Values>) -> Vec<u8> {
    let schema = Arc::new(parse_message_type(message).unwrap());
    let mut out = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut out, schema, Default::default()).unwrap();
    let mut row_group = writer.next_row_group().unwrap();
    for values in columns {
        let mut column = row_group.next_column().unwrap().unwrap();
        match values {
            Values::Bytes(v) => {
                let v: Vec<ByteArray> = v.into_iter().map(ByteArray::from).collect();
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&v, None, None)
                    .unwrap();
            }
            Values::Int96(v) => {
                column
                    .typed::<Int96Type>()
                    .write_batch(&v, None, None)
                    .unwrap();
            }
        }
        column.close().unwrap();
    }
    row_group.close().unwrap();
    writer.close().unwrap();
    out
}

#[tokio::test]
async fn a_parquet_column_with_no_value_at_all_is_null() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.parquet",
        parquet_bytes(vec![
            ("invoice_id", text(&["I1"])),
            ("line_no", Arc::new(Int64Array::from(vec![1]))),
            ("customer_id", text(&["C1"])),
            ("invoice_date", text(&["2026-01-15"])),
            ("service", Arc::new(NullArray::new(1))),
            ("amount", text(&["1.00"])),
            ("currency", Arc::new(NullArray::new(1))),
        ]),
    );
    f.run_ok().await;
    let a = f.accepted().await;
    assert!(query(&a, "SELECT service FROM billing").await.is_empty());
    assert_eq!(
        f.reasons("billing").await,
        vec![("missing_field".into(), 1)]
    );
}

#[tokio::test]
async fn natively_typed_parquet_columns_are_read() {
    let f = Fixture::with_customers();
    let amounts = Decimal128Array::from(vec![150, -25])
        .with_precision_and_scale(18, 2)
        .unwrap();
    f.write(
        "billing/b.parquet",
        parquet_bytes(vec![
            ("invoice_id", text(&["I1", "I2"])),
            ("line_no", Arc::new(Int64Array::from(vec![1, 2]))),
            ("customer_id", text(&["C1", "C1"])),
            (
                "invoice_date",
                Arc::new(Date32Array::from(vec![20468, 20469])),
            ),
            ("amount", Arc::new(amounts)),
            ("currency", text(&["CNY", "CNY"])),
        ]),
    );
    let a = f.accepted().await;
    let rows = query(
        &a,
        "SELECT invoice_id, line_no, invoice_date, amount FROM billing ORDER BY invoice_id",
    )
    .await;
    assert_eq!(
        rows,
        vec![
            strings(&["I1", "1", "2026-01-15", "1.50"]),
            strings(&["I2", "2", "2026-01-16", "-0.25"])
        ]
    );
}

#[tokio::test]
async fn string_parquet_columns_are_checked_like_csv_text_and_lines_are_row_numbers() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.parquet",
        parquet_bytes(vec![
            ("invoice_id", text(&["I1", "I2", "I3"])),
            ("line_no", text(&["1", "01", "x"])),
            ("customer_id", text(&["C1", "C1", "C1"])),
            (
                "invoice_date",
                text(&["2026-01-15", "2026-1-15", "2026-01-15"]),
            ),
            ("amount", text(&["1.00", "1.00", "1.00"])),
            ("currency", text(&["CNY", "CNY", "CNY"])),
        ]),
    );
    f.run_ok().await;
    assert_eq!(
        f.reasons("billing").await,
        vec![("bad_date".into(), 2), ("bad_number".into(), 3)]
    );
}

#[tokio::test]
async fn a_double_amount_is_taken_by_its_shortest_decimal_text() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.parquet",
        parquet_bytes(vec![
            ("invoice_id", text(&["I1", "I2"])),
            ("line_no", Arc::new(Int64Array::from(vec![1, 1]))),
            ("customer_id", text(&["C1", "C1"])),
            ("invoice_date", text(&["2026-01-15", "2026-01-15"])),
            ("amount", Arc::new(Float64Array::from(vec![0.1, 1.005]))),
            ("currency", text(&["CNY", "CNY"])),
        ]),
    );
    f.run_ok().await;
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT amount FROM billing").await,
        vec![strings(&["0.10"])]
    );
    let rejected = f.rejected("billing").await;
    assert_eq!(
        (rejected[0].reason.as_str(), rejected[0].detail.as_str()),
        ("bad_number", "amount '1.005'")
    );
}

#[tokio::test]
async fn a_parquet_file_without_a_required_column_is_a_configuration_error() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.parquet",
        parquet_bytes(vec![("invoice_id", text(&["I1"]))]),
    );
    let failure = f.run().await.unwrap_err();
    assert_eq!(failure.error.exit_code(), 2);
    assert!(failure.error.to_string().contains("'line_no'"));
}

#[tokio::test]
async fn ndjson_numbers_are_taken_by_their_source_text() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.ndjson",
        concat!(
            r#"{"invoice_id":"I1","line_no":1,"customer_id":"C1","invoice_date":"2026-01-15","amount":12.50,"currency":"CNY"}"#, "\n",
            "\n",
            r#"{"invoice_id":"I2","line_no":1,"customer_id":"C1","invoice_date":"2026-01-15","amount":1.005,"currency":"CNY"}"#, "\n",
            r#"{"invoice_id":"I3","line_no":1,"customer_id":"C1","invoice_date":"2026-01-15","amount":1e3,"currency":"CNY"}"#, "\n",
            "not json\n",
        ),
    );
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_read, 4);
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT amount FROM billing").await,
        vec![strings(&["12.50"])]
    );
    assert_eq!(
        f.reasons("billing").await,
        vec![
            ("bad_number".into(), 3),
            ("bad_number".into(), 4),
            ("malformed_row".into(), 5)
        ]
    );
}

#[tokio::test]
async fn an_ndjson_file_whose_records_never_name_a_required_column_is_a_configuration_error() {
    let f = Fixture::with_customers();
    f.write(
        "costs/k.ndjson",
        "{\"cost_id\":\"K1\",\"customer_id\":\"C1\",\"cost_date\":\"2026-01-15\",\"amount\":1.00}\n",
    );
    let failure = f.run().await.unwrap_err();
    assert_eq!(failure.error.exit_code(), 2);
    let message = failure.error.to_string();
    assert!(
        message.contains("k.ndjson") && message.contains("currency"),
        "{message}"
    );
}

#[tokio::test]
async fn int96_timestamps_are_read_without_wrapping() {
    let f = Fixture::new();
    // Julian days of 1600-01-01, 2025-01-01 and 9999-12-31: outside the
    // 1677..2262 of nanoseconds but the first and the last.
    let (y1600, y2025, y9999) = (2_305_448, 2_460_677, 5_373_484);
    f.write(
        "customers/c.parquet",
        low_level_parquet(
            "message m { required binary customer_id (UTF8); required int96 signup_date; required int96 churn_date; }",
            vec![
                utf8(&["C1", "C2"]),
                Values::Int96(vec![int96_day(y1600), int96_day(y2025)]),
                Values::Int96(vec![int96_day(y9999), int96_day(y9999)]),
            ],
        ),
    );
    let a = f.accepted().await;
    let rows = query(
        &a,
        "SELECT customer_id, signup_date, churn_date FROM customers ORDER BY customer_id",
    )
    .await;
    assert_eq!(
        rows,
        vec![
            strings(&["C1", "1600-01-01", "9999-12-31"]),
            strings(&["C2", "2025-01-01", "9999-12-31"])
        ]
    );
}

#[tokio::test]
async fn a_date_out_of_range_or_unrepresentable_is_bad_date_for_its_row() {
    let f = Fixture::new();
    // i32::MAX days is no date at all; day -719163 is 0000-12-31.
    let churn = Date32Array::from(vec![Some(i32::MAX), Some(-719_163), None]);
    f.write(
        "customers/a.parquet",
        parquet_bytes(vec![
            ("customer_id", text(&["C1", "C2", "C3"])),
            (
                "signup_date",
                Arc::new(Date32Array::from(vec![20089, 20089, 20089])),
            ),
            ("churn_date", Arc::new(churn)),
        ]),
    );
    // A TIMESTAMP "infinity".
    f.write(
        "customers/b.parquet",
        parquet_bytes(vec![
            ("customer_id", text(&["C4"])),
            ("signup_date", text(&["2025-01-01"])),
            (
                "churn_date",
                Arc::new(TimestampMicrosecondArray::from(vec![i64::MAX])),
            ),
        ]),
    );
    f.run_ok().await;
    let got: Vec<(String, i64, String, String)> = f
        .rejected("customers")
        .await
        .into_iter()
        .map(|r| (r.file, r.line, r.reason, r.detail))
        .collect();
    let bad = |file: &str, line: i64, detail: &str| {
        (
            file.to_owned(),
            line,
            "bad_date".to_owned(),
            detail.to_owned(),
        )
    };
    assert_eq!(
        got,
        vec![
            bad(
                "a.parquet",
                1,
                "churn_date '2147483647 days from 1970-01-01 (out of range)'"
            ),
            bad("a.parquet", 2, "churn_date '0000-12-31 (out of range)'"),
            bad(
                "b.parquet",
                1,
                "churn_date '9223372036854775807 µs from 1970-01-01 (out of range)'"
            ),
        ]
    );
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT customer_id FROM customers").await,
        vec![strings(&["C3"])]
    );
}

#[tokio::test]
async fn a_parquet_string_that_is_not_utf8_is_a_malformed_row() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.parquet",
        low_level_parquet(
            "message m { required binary invoice_id (UTF8); required binary line_no (UTF8); required binary customer_id (UTF8); required binary invoice_date (UTF8); required binary service (UTF8); required binary amount (UTF8); required binary currency (UTF8); }",
            vec![
                utf8(&["I1", "I2", "I3"]),
                utf8(&["1", "1", "1"]),
                utf8(&["C1", "C1", "C1"]),
                utf8(&["2026-01-15", "2026-01-15", "2026-01-15"]),
                Values::Bytes(vec![b"voice".to_vec(), b"v\xFFice".to_vec(), b"data".to_vec()]),
                utf8(&["1.00", "2.00", "3.00"]),
                utf8(&["CNY", "CNY", "CNY"]),
            ],
        ),
    );
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_read, 3);
    let rejected = f.rejected("billing").await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        (
            rejected[0].line,
            rejected[0].reason.as_str(),
            rejected[0].detail.as_str()
        ),
        (2, "malformed_row", "service is not valid UTF-8")
    );
    assert!(
        rejected[0].raw.contains("v\u{FFFD}ice"),
        "{}",
        rejected[0].raw
    );
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT invoice_id FROM billing ORDER BY invoice_id").await,
        vec![strings(&["I1"]), strings(&["I3"])]
    );
}

#[tokio::test]
async fn an_ndjson_line_that_is_json_but_not_an_object_is_a_malformed_row() {
    let f = Fixture::with_customers();
    f.write(
        "costs/k.ndjson",
        concat!(
            r#"{"cost_id":"K1","customer_id":"C1","cost_date":"2026-01-15","amount":1.00,"currency":"CNY"}"#, "\n",
            "\"K2\"\n",
            "[1,2]\n",
            "7\n",
        ),
    );
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["costs"].rows_read, 4);
    let got: Vec<(i64, String, String, String)> = f
        .rejected("costs")
        .await
        .into_iter()
        .map(|r| (r.line, r.reason, r.detail, r.raw))
        .collect();
    let malformed = |line: i64, detail: &str, raw: &str| {
        (
            line,
            "malformed_row".to_owned(),
            detail.to_owned(),
            raw.to_owned(),
        )
    };
    assert_eq!(
        got,
        vec![
            malformed(2, "not a JSON object but a string", "\"K2\""),
            malformed(3, "not a JSON object but an array", "[1,2]"),
            malformed(4, "not a JSON object but a number", "7"),
        ]
    );
}
