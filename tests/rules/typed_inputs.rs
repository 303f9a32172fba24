//! SPEC §2 "Rule — typed inputs": Parquet and NDJSON.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Float64Array, Int64Array, NullArray, StringArray,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;

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
