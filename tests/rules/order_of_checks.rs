//! The value rules (docs/inputs.md#value-rules) and the order of checks
//! (docs/inputs.md#order-of-checks): a row gets the first reason that applies,
//! reason by reason, column by column.

use super::common::*;

/// Billing rows after the header, each checked against the expected (reason, detail).
async fn billing_cases(rows: &[(&str, &str, &str)]) {
    source_cases("billing", BILLING_HEADER, rows).await;
}

/// Rows of one source after its header, each checked against the expected
/// (reason, detail); an empty reason is a row accepted.
async fn source_cases(source: &str, header: &str, rows: &[(&str, &str, &str)]) {
    let f = Fixture::with_customers();
    let body: String = rows.iter().map(|(row, _, _)| format!("{row}\n")).collect();
    f.write(&format!("{source}/x.csv"), format!("{header}{body}"));
    f.run_ok().await;
    let rejected = f.rejected(source).await;
    let got: Vec<(String, String)> = rejected
        .iter()
        .map(|r| (r.reason.clone(), r.detail.clone()))
        .collect();
    let want: Vec<(String, String)> = rows
        .iter()
        .filter(|(_, reason, _)| !reason.is_empty())
        .map(|(_, r, d)| (r.to_string(), d.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn billing_checks_run_missing_then_date_then_numbers_then_currency_then_future() {
    billing_cases(&[
        (
            "I1,1,,2026-99-99,voice,x,RMB",
            "missing_field",
            "missing customer_id",
        ),
        (
            "I2,x,C1,2026-99-99,voice,x,RMB",
            "bad_date",
            "invoice_date '2026-99-99'",
        ),
        (
            "I3,x,C1,2026-01-15,voice,x,RMB",
            "bad_number",
            "line_no 'x'",
        ),
        ("I4,1,C1,2026-01-15,voice,x,RMB", "bad_number", "amount 'x'"),
        (
            "I5,1,C1,2026-04-01,voice,1.00,RMB",
            "bad_currency",
            "currency 'RMB'",
        ),
        (
            "I6,1,C1,2026-04-01,voice,1.00,CNY",
            "future_date",
            "invoice_date 2026-04-01 is after as_of 2026-03-31",
        ),
        ("I7,1,C1,2026-03-31,voice,1.00,CNY", "", ""),
    ])
    .await;
}

#[tokio::test]
async fn costs_checks_run_missing_then_date_then_amount_then_currency_then_future() {
    source_cases(
        "costs",
        COSTS_HEADER,
        &[
            (
                ",,2026-99-99,support,x,RMB",
                "missing_field",
                "missing cost_id",
            ),
            (
                "K2,C1,2026-99-99,support,x,RMB",
                "bad_date",
                "cost_date '2026-99-99'",
            ),
            ("K3,C1,2026-01-15,support,x,RMB", "bad_number", "amount 'x'"),
            (
                "K4,C1,2026-04-01,support,1.00,RMB",
                "bad_currency",
                "currency 'RMB'",
            ),
            (
                "K5,C1,2026-04-01,support,1.00,CNY",
                "future_date",
                "cost_date 2026-04-01 is after as_of 2026-03-31",
            ),
            ("K6,C1,2026-03-31,support,1.00,CNY", "", ""),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_required_field_of_only_whitespace_is_missing() {
    billing_cases(&[(
        "  ,1,C1,2026-01-15,voice,1.00,CNY",
        "missing_field",
        "missing invoice_id",
    )])
    .await;
}

#[tokio::test]
async fn amounts_follow_the_exact_pattern() {
    billing_cases(&[
        (
            "A1,1,C1,2026-01-15,,10.005,CNY",
            "bad_number",
            "amount '10.005'",
        ),
        (
            "A2,1,C1,2026-01-15,,\"1,234.00\",CNY",
            "bad_number",
            "amount '1,234.00'",
        ),
        ("A3,1,C1,2026-01-15,,1e3,CNY", "bad_number", "amount '1e3'"),
        ("A4,1,C1,2026-01-15,, 5,CNY", "bad_number", "amount ' 5'"),
        ("A5,1,C1,2026-01-15,,.5,CNY", "", ""),
        ("A6,1,C1,2026-01-15,,+5.00,CNY", "", ""),
        ("A7,1,C1,2026-01-15,,10.,CNY", "", ""),
    ])
    .await;
}

#[tokio::test]
async fn currency_must_match_byte_for_byte() {
    billing_cases(&[
        (
            "C1,1,C1,2026-01-15,,1,cny",
            "bad_currency",
            "currency 'cny'",
        ),
        (
            "C2,1,C1,2026-01-15,,1, CNY",
            "bad_currency",
            "currency ' CNY'",
        ),
    ])
    .await;
}

#[tokio::test]
async fn an_invalid_optional_field_rejects_a_customer_and_a_later_churn_date_is_valid() {
    let f = Fixture::new();
    f.write(
        "customers/c.csv",
        format!(
            "{CUSTOMERS_HEADER}\
             K1,n,p,r,s,2025-01-01,2026/05/01,,,\n\
             K2,n,p,r,s,2025-01-01,,,NaN,\n\
             K3,n,p,r,s,2026-04-01,,,,\n\
             K4,n,p,r,s,2025-01-01,2026-05-01,,1e3,\n\
             K5,n,p,r,s,2025-02-01,2025-01-31,,,\n\
             K6,n,p,r,s,2025-02-01,2025-02-01,,,\n"
        ),
    );
    f.run_ok().await;
    let got: Vec<(String, String)> = f
        .rejected("customers")
        .await
        .into_iter()
        .map(|r| (r.reason, r.detail))
        .collect();
    assert_eq!(
        got,
        vec![
            ("bad_date".into(), "churn_date '2026/05/01'".into()),
            ("bad_number".into(), "receivables_turnover 'NaN'".into()),
            (
                "future_date".into(),
                "signup_date 2026-04-01 is after as_of 2026-03-31".into()
            ),
            (
                "churn_before_signup".into(),
                "churn_date 2025-01-31 is before signup_date 2025-02-01".into()
            ),
        ]
    );
    let a = f.accepted().await;
    let rows = query(&a, "SELECT customer_id, receivables_turnover, cooperation_score FROM customers ORDER BY customer_id").await;
    assert_eq!(
        rows,
        vec![strings(&["K4", "1000.0", ""]), strings(&["K6", "", ""])]
    );
}

#[tokio::test]
async fn an_optional_text_field_of_only_whitespace_is_null() {
    let f = Fixture::new();
    f.write(
        "customers/c.csv",
        format!("{CUSTOMERS_HEADER}K1,n,p,  ,business,2025-01-01,,AM 1,,\n"),
    );
    let a = f.accepted().await;
    let rows = query(
        &a,
        "SELECT region IS NULL, segment, account_manager FROM customers",
    )
    .await;
    assert_eq!(rows, vec![strings(&["true", "business", "AM 1"])]);
}

#[tokio::test]
async fn an_optional_date_or_number_of_only_whitespace_is_bad_not_null() {
    let f = Fixture::new();
    f.write(
        "customers/c.csv",
        format!("{CUSTOMERS_HEADER}K1,n,p,r,s,2025-01-01,  ,,,\nK2,n,p,r,s,2025-01-01,,,,\" \"\nK3,n,p,r,s,2025-01-01,,,,\n"),
    );
    f.run_ok().await;
    assert_eq!(
        f.reasons("customers").await,
        vec![("bad_date".into(), 2), ("bad_number".into(), 3)]
    );
}

#[tokio::test]
async fn trailing_empty_header_names_are_not_doubled_columns() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        "invoice_id,line_no,customer_id,invoice_date,service,amount,currency,,\nI1,1,C1,2026-01-15,,1.00,CNY,,\n",
    );
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_accepted, 1);
}
