//! `rejected.raw` (docs/outputs.md#rejected) for the checks that need a whole
//! source (duplicate_key, churn_before_signup, unknown_customer): the record's
//! text as it was read, personal data redacted, like a row-check rejection.

use super::common::*;

#[tokio::test]
async fn whole_source_rejections_carry_the_text_of_their_record() {
    let f = Fixture::new();
    f.write(
        "customers/c.csv",
        format!("{CUSTOMERS_HEADER}C1,Ann,555,north,consumer,2025-01-01,,,,\nC1,Ann B,556,north,consumer,2025-01-01,,,,\nC3,Cy,557,south,consumer,2025-02-01,2025-01-01,,,\n"),
    );
    f.write(
        "billing/b.csv",
        format!("{BILLING_HEADER}I1,1,C1,2026-01-15,\"two\nlines\",1.00,CNY\nI1,1,C1,2026-01-15,voice,2.00,CNY\nI2,1,C9,2026-01-15,voice,3.00,CNY\n"),
    );
    f.run_ok().await;
    let billing: Vec<(String, i64, String)> = f
        .rejected("billing")
        .await
        .into_iter()
        .map(|r| (r.reason, r.line, r.raw))
        .collect();
    assert_eq!(
        billing,
        vec![
            (
                "duplicate_key".into(),
                2,
                "I1,1,C1,2026-01-15,\"two\nlines\",1.00,CNY".into()
            ),
            (
                "unknown_customer".into(),
                5,
                "I2,1,C9,2026-01-15,voice,3.00,CNY".into()
            ),
        ]
    );
    let customers: Vec<(String, String)> = f
        .rejected("customers")
        .await
        .into_iter()
        .map(|r| (r.reason, r.raw))
        .collect();
    assert_eq!(
        customers,
        vec![
            (
                "duplicate_key".into(),
                "C1,<redacted>,<redacted>,north,consumer,2025-01-01,,,,".into()
            ),
            (
                "churn_before_signup".into(),
                "C3,<redacted>,<redacted>,south,consumer,2025-02-01,2025-01-01,,,".into()
            ),
        ]
    );
}
