//! SPEC §4.1 Calendar.

use super::world::*;

#[tokio::test]
async fn a_month_end_as_of_closes_its_own_month() {
    let mut w = World::new("2026-03-31", 3);
    w.customer("C1", "2025-01-01", None);
    let out = w.run().await;
    let months = out
        .column("SELECT DISTINCT month FROM arpu ORDER BY month")
        .await;
    assert_eq!(months, ["2026-01", "2026-02", "2026-03"]);
}

#[tokio::test]
async fn a_mid_month_as_of_closes_the_month_before() {
    let mut w = World::new("2026-03-15", 3);
    w.customer("C1", "2025-01-01", None);
    let out = w.run().await;
    let months = out
        .column("SELECT DISTINCT month FROM customer_month ORDER BY month")
        .await;
    assert_eq!(months, ["2025-12", "2026-01", "2026-02"]);
}

#[tokio::test]
async fn only_lines_inside_the_window_count() {
    let mut w = World::new("2026-03-15", 2);
    w.customer("C1", "2025-01-01", None)
        .bill("C1", "2025-12-31", "100.00")
        .bill("C1", "2026-01-01", "10.00")
        .bill("C1", "2026-03-01", "1000.00");
    let out = w.run().await;
    assert_eq!(
        out.value("SELECT revenue_w FROM customer_value").await,
        "10.00"
    );
}
