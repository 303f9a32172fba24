//! Subscribers: open, close, churned, churn_rate and arpu per month
//! (docs/metrics.md#subscribers, #churn-rate, #arpu).

use super::world::*;

async fn all_rows(w: &World) -> Vec<Vec<String>> {
    w.run()
        .await
        .rows(
            "SELECT month, open_subscribers, close_subscribers, churned, churn_rate, arpu
             FROM arpu WHERE dimension = 'all' ORDER BY month",
        )
        .await
}

#[tokio::test]
async fn open_close_and_churned_follow_the_subscriber_definition() {
    let mut w = World::new("2026-03-31", 3);
    w.customer("C1", "2025-01-01", None)
        .customer("C3", "2025-06-01", Some("2026-02-01"))
        .customer("C4", "2026-03-31", None)
        .bill("C1", "2026-03-10", "30.00");
    assert_eq!(
        all_rows(&w).await,
        [
            row(&["2026-01", "2", "2", "0", "0.0", "0.0"]),
            row(&["2026-02", "2", "1", "1", "0.5", "0.0"]),
            row(&["2026-03", "1", "2", "0", "0.0", "20.0"]),
        ]
    );
}

#[tokio::test]
async fn a_sign_up_and_churn_in_one_month_is_churned_but_never_open() {
    let mut w = World::new("2026-03-31", 3);
    w.customer("C1", "2025-01-01", None)
        .customer("C2", "2026-02-03", Some("2026-02-20"));
    let rows = all_rows(&w).await;
    assert_eq!(rows[1][..4], row(&["2026-02", "1", "1", "1"]));
}

#[tokio::test]
async fn churn_rate_and_arpu_are_null_without_subscribers() {
    let mut w = World::new("2026-03-31", 3);
    w.customer("C1", "2026-03-05", Some("2026-03-06"));
    let rows = all_rows(&w).await;
    assert_eq!(rows[0], row(&["2026-01", "0", "0", "0", "NULL", "NULL"]));
}

#[tokio::test]
async fn an_empty_snapshot_still_has_an_all_row_per_month() {
    let w = World::new("2026-03-31", 3);
    let rows = all_rows(&w).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2], row(&["2026-03", "0", "0", "0", "NULL", "NULL"]));
}
