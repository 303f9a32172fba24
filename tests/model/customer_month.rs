//! customer_month: one row per customer and month of W
//! (docs/metrics.md#customer_month).

use super::world::*;

#[tokio::test]
async fn a_subscriber_month_without_lines_is_a_row_of_zeros() {
    let mut w = World::new("2026-03-31", 3);
    w.customer("C1", "2025-01-01", None)
        .bill("C1", "2026-02-10", "10.00")
        .cost("C1", "2026-02-11", "2.50");
    let out = w.run().await;
    let rows = out
        .rows("SELECT month, revenue, cost, profit, billing_lines, is_subscriber FROM customer_month ORDER BY month")
        .await;
    assert_eq!(
        rows,
        [
            row(&["2026-01", "0.00", "0.00", "0.00", "0", "true"]),
            row(&["2026-02", "10.00", "2.50", "7.50", "1", "true"]),
            row(&["2026-03", "0.00", "0.00", "0.00", "0", "true"]),
        ]
    );
}

#[tokio::test]
async fn churn_on_the_first_is_not_a_subscriber_in_that_month() {
    let mut w = World::new("2026-03-31", 3);
    w.customer("C1", "2025-01-01", Some("2026-02-01"))
        .bill("C1", "2026-03-02", "0.00");
    let out = w.run().await;
    let rows = out
        .rows("SELECT month, billing_lines, is_subscriber FROM customer_month ORDER BY month")
        .await;
    assert_eq!(
        rows,
        [
            row(&["2026-01", "0", "true"]),
            row(&["2026-03", "1", "false"])
        ]
    );
}

#[tokio::test]
async fn a_refund_after_churn_keeps_the_customer_in_scope() {
    let mut w = World::new("2026-03-31", 3);
    w.customer("C1", "2025-01-01", None)
        .bill("C1", "2026-01-10", "10.00")
        .customer("C5", "2024-01-01", Some("2025-11-15"))
        .bill("C5", "2026-02-10", "-20.00");
    let out = w.run().await;
    let rows = out
        .rows("SELECT month, revenue, is_subscriber FROM customer_month WHERE customer_id = 'C5'")
        .await;
    assert_eq!(rows, [row(&["2026-02", "-20.00", "false"])]);
    let c5 = out
        .rows("SELECT profit_w, pyramid_tier FROM customer_value WHERE customer_id = 'C5'")
        .await;
    assert_eq!(c5, [row(&["-20.00", "BZ"])]);
}
