//! The CSV dialect (docs/inputs.md#csv).

use super::common::*;

#[tokio::test]
async fn a_record_line_is_where_it_starts_and_blank_lines_are_not_rows() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        format!("{BILLING_HEADER}\nA,1,C1,2026-01-15,\"multi\nline\",x,CNY\n\nB,1,C1,2026-01-15,voice,y,CNY\n"),
    );
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_read, 2);
    assert_eq!(
        f.reasons("billing").await,
        vec![("bad_number".into(), 3), ("bad_number".into(), 6)]
    );
}

#[tokio::test]
async fn header_names_are_trimmed_and_matched_case_insensitively_in_any_order() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        "Currency , AMOUNT,customer_id,Invoice_Date,line_no,invoice_id,extra\nCNY,2.50,C1,2026-01-15,1,I1,zzz\n",
    );
    let report = f.run_ok().await;
    let a = f.accepted().await;
    let rows = query(
        &a,
        "SELECT invoice_id, line_no, amount, service FROM billing",
    )
    .await;
    assert_eq!(rows, vec![strings(&["I1", "1", "2.50", ""])]);
    assert!(report.manifest.warnings.iter().any(|w| w.contains("extra")));
}

#[tokio::test]
async fn a_header_naming_a_column_twice_is_a_configuration_error() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        "invoice_id,line_no,customer_id,invoice_date,amount,currency,AMOUNT\n",
    );
    let failure = f.run().await.unwrap_err();
    assert_eq!(failure.error.exit_code(), 2);
    let message = failure.error.to_string();
    assert!(
        message.contains("b.csv") && message.contains("amount"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_required_column_is_an_error_naming_the_file_and_the_column() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        "invoice_id,line_no,customer_id,invoice_date,currency\n",
    );
    let failure = f.run().await.unwrap_err();
    assert_eq!(failure.error.exit_code(), 2);
    let message = failure.error.to_string();
    assert!(
        message.contains("billing/b.csv") && message.contains("'amount'"),
        "{message}"
    );
}

#[tokio::test]
async fn values_are_not_trimmed() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        format!("{BILLING_HEADER}I1,1, C1,2026-01-15,voice,1.00,CNY\n"),
    );
    f.run_ok().await;
    assert_eq!(
        f.reasons("billing").await,
        vec![("unknown_customer".into(), 2)]
    );
}

#[tokio::test]
async fn a_byte_order_mark_is_dropped_and_crlf_ends_lines() {
    let f = Fixture::with_customers();
    let text = format!(
        "\u{FEFF}{}I1,1,C1,2026-01-15,voice,1.00,CNY\r\nI2,1,C1,2026-01-15,\"a\r\nb\",2.00,CNY\r\n",
        BILLING_HEADER.replace('\n', "\r\n")
    );
    f.write("billing/b.csv", text);
    let a = f.accepted().await;
    let rows = query(
        &a,
        "SELECT invoice_id, service, amount FROM billing ORDER BY invoice_id",
    )
    .await;
    assert_eq!(
        rows,
        vec![
            strings(&["I1", "voice", "1.00"]),
            strings(&["I2", "a\r\nb", "2.00"])
        ]
    );
}

#[tokio::test]
async fn gb18030_customers_are_decoded() {
    let f = Fixture::new().set("sources: {customers: {encoding: gb18030}}");
    let text = format!("{CUSTOMERS_HEADER}C1,张伟,138,北京,consumer,2025-01-01,,,,\n");
    f.write("customers/c.csv", encoding_rs::GB18030.encode(&text).0);
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT region FROM customers").await,
        vec![strings(&["北京"])]
    );
}

#[tokio::test]
async fn a_lone_cr_ends_a_line_outside_quotes_and_is_data_inside() {
    let f = Fixture::with_customers();
    let text = format!(
        "{}I1,1,C1,2026-01-15,voice,1.00,CNY\rI2,1,C1,2026-01-15,\"a\rb\",2.00,CNY\rI3,1,C1,2026-01-15,voice,x,CNY\r",
        BILLING_HEADER.replace('\n', "\r")
    );
    f.write("billing/b.csv", text);
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_read, 3);
    // I2 starts on line 3 and ends on line 4: its quoted `\r` is data, and a line end.
    assert_eq!(f.reasons("billing").await, vec![("bad_number".into(), 5)]);
    let a = f.accepted().await;
    let rows = query(
        &a,
        "SELECT invoice_id, service FROM billing ORDER BY invoice_id",
    )
    .await;
    assert_eq!(
        rows,
        vec![strings(&["I1", "voice"]), strings(&["I2", "a\rb"])]
    );
}

#[tokio::test]
async fn a_header_line_with_broken_quoting_is_a_configuration_error_naming_the_file() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        "invoice_id,\"line_no,customer_id,invoice_date,amount,currency\nI1,1,C1,2026-01-15,1.00,CNY\n",
    );
    let failure = f.run().await.unwrap_err();
    assert_eq!(failure.error.exit_code(), 2);
    let message = failure.error.to_string();
    assert!(
        message.contains("billing/b.csv") && message.contains("line 1"),
        "{message}"
    );
}
