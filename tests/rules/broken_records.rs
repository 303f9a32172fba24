//! Broken records (malformed_row in docs/inputs.md#the-reasons) and the `raw`
//! column of `rejected` (docs/outputs.md#rejected).

use super::common::*;

#[tokio::test]
async fn a_wrong_field_count_is_a_malformed_row() {
    let f = Fixture::with_customers();
    f.write("billing/b.csv", format!("{BILLING_HEADER}I1,1,C1,2026-01-15,voice,1.00\nI2,1,C1,2026-01-15,voice,1.00,CNY,extra\n"));
    f.run_ok().await;
    let rejected = f.rejected("billing").await;
    assert_eq!(rejected.len(), 2);
    assert!(rejected.iter().all(|r| r.reason == "malformed_row"));
    assert_eq!(rejected[0].detail, "expected 7 fields, found 6");
    assert_eq!(rejected[0].raw, "I1,1,C1,2026-01-15,voice,1.00");
}

#[tokio::test]
async fn text_after_a_closing_quote_is_a_malformed_row() {
    let f = Fixture::with_customers();
    f.write("billing/b.csv", format!("{BILLING_HEADER}\"I1\"x,1,C1,2026-01-15,voice,1.00,CNY\nI2,1,C1,2026-01-15,voice,1.00,CNY\n"));
    let report = f.run_ok().await;
    assert_eq!(
        f.reasons("billing").await,
        vec![("malformed_row".into(), 2)]
    );
    assert_eq!(report.manifest.sources["billing"].rows_accepted, 1);
}

#[tokio::test]
async fn a_quote_never_closed_runs_to_the_end_of_the_file_as_one_malformed_row() {
    let f = Fixture::with_customers();
    f.write("billing/b.csv", format!("{BILLING_HEADER}I1,1,C1,2026-01-15,voice,1.00,CNY\n\"I2,1,C1\nI3,1,C1,2026-01-15,voice,1.00,CNY\n"));
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_read, 2);
    assert_eq!(
        f.reasons("billing").await,
        vec![("malformed_row".into(), 3)]
    );
}

#[tokio::test]
async fn a_quote_inside_an_unquoted_field_is_an_ordinary_character() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        format!("{BILLING_HEADER}I\"1,1,C1,2026-01-15,voice,1.00,CNY\n"),
    );
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT invoice_id FROM billing").await,
        vec![strings(&["I\"1"])]
    );
}

#[tokio::test]
async fn undecodable_bytes_reject_only_their_record() {
    let f = Fixture::with_customers();
    let mut bytes = format!("{BILLING_HEADER}I1,1,C1,2026-01-15,voice,1.00,CNY\n").into_bytes();
    bytes.extend_from_slice(
        b"I2,1,C1,2026-01-15,v\xFFice,1.00,CNY\nI3,1,C1,2026-01-15,voice,1.00,CNY\n",
    );
    f.write("billing/b.csv", bytes);
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_accepted, 2);
    let rejected = f.rejected("billing").await;
    assert_eq!(
        (rejected[0].reason.as_str(), rejected[0].line),
        ("malformed_row", 3)
    );
    assert!(rejected[0].raw.contains('\u{FFFD}'), "{}", rejected[0].raw);
}

#[tokio::test]
async fn customers_raw_has_name_and_phone_redacted() {
    let f = Fixture::new();
    f.write(
        "customers/c.csv",
        format!("{CUSTOMERS_HEADER}C1,\"Lee, Ann\",13800000000,north,consumer,2025-13-01,,,,\n"),
    );
    let _ = f.run().await;
    let rejected = f.rejected("customers").await;
    assert_eq!(rejected[0].reason, "bad_date");
    assert_eq!(
        rejected[0].raw,
        "C1,<redacted>,<redacted>,north,consumer,2025-13-01,,,,"
    );
}

#[tokio::test]
async fn a_customers_record_that_cannot_be_split_into_fields_is_withheld() {
    let f = Fixture::with_customers();
    f.write(
        "customers/more.csv",
        format!("{CUSTOMERS_HEADER}C9,Ann,13800000000,north\n"),
    );
    f.run_ok().await;
    let rejected = f.rejected("customers").await;
    assert_eq!(rejected[0].reason, "malformed_row");
    assert_eq!(rejected[0].raw, "<withheld>");
}
