//! unknown_customer (docs/inputs.md#order-of-checks) is decided last, among the
//! kept rows, against the accepted customers, so a rejected customer takes its
//! lines with it.

use super::common::*;

#[tokio::test]
async fn lines_of_a_rejected_customer_are_unknown_customer() {
    let f = Fixture::new();
    f.write(
        "customers/c.csv",
        format!("{CUSTOMERS_HEADER}C1,n,p,r,s,2025-01-01,,,,\nC2,n,p,r,s,not-a-date,,,,\n"),
    );
    f.write(
        "billing/b.csv",
        format!("{BILLING_HEADER}I1,1,C1,2026-01-15,,1.00,CNY\nI2,1,C2,2026-01-15,,1.00,CNY\nI3,1,C9,2026-01-15,,1.00,CNY\n"),
    );
    f.write(
        "costs/k.csv",
        format!(
            "{COSTS_HEADER}K1,C2,2026-01-15,support,1.00,CNY\nK2,C1,2026-01-15,support,1.00,CNY\n"
        ),
    );
    let report = f.run_ok().await;
    assert_eq!(
        f.reasons("billing").await,
        vec![
            ("unknown_customer".into(), 3),
            ("unknown_customer".into(), 4)
        ]
    );
    assert_eq!(
        f.reasons("costs").await,
        vec![("unknown_customer".into(), 2)]
    );
    let billing = &report.manifest.sources["billing"];
    assert_eq!(
        (
            billing.rows_read,
            billing.rows_accepted,
            billing.rows_rejected
        ),
        (3, 1, 2)
    );
}

#[tokio::test]
async fn a_duplicate_is_a_duplicate_even_when_its_customer_is_unknown() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        format!("{BILLING_HEADER}I1,1,C9,2026-01-15,,1.00,CNY\nI1,1,C9,2026-01-15,,1.00,CNY\n"),
    );
    f.run_ok().await;
    assert_eq!(
        f.reasons("billing").await,
        vec![("duplicate_key".into(), 2), ("unknown_customer".into(), 3)]
    );
}

#[tokio::test]
async fn lines_outside_the_window_are_accepted_and_counted_out_of_scope() {
    let f = Fixture::with_customers();
    f.write(
        "billing/b.csv",
        format!("{BILLING_HEADER}I1,1,C1,2025-12-31,,1.00,CNY\nI2,1,C1,2026-01-01,,1.00,CNY\n"),
    );
    let report = f.run_ok().await;
    let billing = &report.manifest.sources["billing"];
    assert_eq!((billing.rows_accepted, billing.rows_out_of_scope), (2, 1));
    assert_eq!(report.manifest.sources["customers"].rows_out_of_scope, 0);
}
