//! `max_record_bytes` (docs/inputs.md#max_record_bytes): a record longer than
//! it (a CSV record, quoted lines and all, or an NDJSON line) is one
//! malformed_row whose raw is its first 1 KiB, and the records after it are
//! read as usual.

use super::common::*;

/// file, line, reason, detail, raw.
type Row = (String, i64, String, String, String);

fn row(file: &str, line: i64, reason: &str, detail: &str, raw: &str) -> Row {
    (file.into(), line, reason.into(), detail.into(), raw.into())
}

#[tokio::test]
async fn a_record_longer_than_max_record_bytes_is_one_malformed_row_with_its_first_kib() {
    let f = Fixture::with_customers().set("max_record_bytes: 1KiB");
    let long = "x".repeat(600);
    // A quoted record over lines 3 and 4, 1.2 KiB in all.
    let quoted = format!("I2,1,C1,2026-01-15,\"{long}\n{long}\",1.00,CNY");
    f.write(
        "billing/b.csv",
        format!("{BILLING_HEADER}I1,1,C1,2026-01-15,voice,1.00,CNY\n{quoted}\nI3,1,C1,2026-01-15,voice,x,CNY\n"),
    );
    // A quote never closed: the rest of the file is one record.
    let unclosed = format!("\"I4,{long}\n{long}\nI5,1,C1,2026-01-15,voice,1.00,CNY\n");
    f.write("billing/c.csv", format!("{BILLING_HEADER}{unclosed}"));
    let line = format!(r#"{{"invoice_id":"I6","service":"{long}{long}"}}"#);
    let good = r#"{"invoice_id":"I7","line_no":1,"customer_id":"C1","invoice_date":"2026-01-15","amount":"1.00","currency":"CNY"}"#;
    f.write("billing/d.ndjson", format!("{line}\n{good}\n"));
    f.write(
        "customers/more.csv",
        format!("{CUSTOMERS_HEADER}C9,{long}{long},555,north,consumer,2025-01-01,,,,\n"),
    );
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_read, 6);
    let too_long = "record longer than max_record_bytes";
    let got: Vec<Row> = f
        .rejected("billing")
        .await
        .into_iter()
        .map(|r| (r.file, r.line, r.reason, r.detail, r.raw))
        .collect();
    assert_eq!(
        got,
        vec![
            row("b.csv", 3, "malformed_row", too_long, &quoted[..1024]),
            row(
                "b.csv",
                5,
                "bad_number",
                "amount 'x'",
                "I3,1,C1,2026-01-15,voice,x,CNY"
            ),
            row(
                "c.csv",
                2,
                "malformed_row",
                "quote never closed",
                &unclosed[..1024]
            ),
            row("d.ndjson", 1, "malformed_row", too_long, &line[..1024]),
        ]
    );
    let customers = f.rejected("customers").await;
    assert_eq!(
        (customers[0].reason.as_str(), customers[0].raw.as_str()),
        ("malformed_row", "<withheld>")
    );
}
