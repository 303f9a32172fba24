//! The calendar: M_last, the window W and its periods
//! (docs/metrics.md#calendar).

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

/// W at the bound of window_months: 120 months, each once, ending with M_last.
#[tokio::test]
async fn a_window_of_120_months_holds_each_month_once() {
    let mut w = World::new("2026-03-31", 120);
    w.customer("C1", "2000-01-01", None)
        .bill("C1", "2016-03-31", "1000.00");
    // 1.00 on the 15th of each month from 2016-04 to 2026-03.
    for month in 0..120 {
        let date = format!("{}-{:02}-15", 2016 + (month + 3) / 12, (month + 3) % 12 + 1);
        w.bill("C1", &date, "1.00");
    }
    let out = w.run().await;
    assert_eq!(
        out.rows("SELECT COUNT(*), MIN(month), MAX(month) FROM customer_month")
            .await,
        [row(&["120", "2016-04", "2026-03"])]
    );
    // A month missing from the calendar, or in it twice, would change the sum.
    assert_eq!(
        out.value("SELECT revenue_w FROM customer_value").await,
        "120.00"
    );
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

/// With w < 2t the previous period starts before W; its months before W
/// count as 0, whatever lines they hold.
#[tokio::test]
async fn months_before_the_window_count_as_zero() {
    // w = 3, t = 2: W = Jan-Mar, recent = Feb-Mar, previous = Dec-Jan (partly outside).
    let mut w = World::new("2026-03-31", 3);
    w.set("trend_months: 2");
    w.customer("C1", "2024-01-01", None)
        .bill("C1", "2025-12-10", "100.00")
        .bill("C1", "2026-01-10", "40.00")
        .bill("C1", "2026-03-10", "50.00");
    let out = w.run().await;
    // previous = 40 (December counts as 0): growth_rate = 10 / 40; 50 ≥ 1.1 × 40 is growth.
    // Counting December would give previous 140 and decline.
    assert_eq!(
        out.rows("SELECT previous_revenue, recent_revenue, growth_rate, lifecycle_stage FROM customer_value")
            .await,
        [row(&["40.00", "50.00", "0.25", "growth"])]
    );

    // w = 1, t = 1: W = Mar, previous = Feb (wholly outside).
    let mut w = World::new("2026-03-31", 1);
    w.set("trend_months: 1");
    w.customer("C1", "2024-01-01", None)
        .bill("C1", "2026-02-10", "100.00")
        .bill("C1", "2026-03-10", "100.00");
    let out = w.run().await;
    // previous = 0, so growth_rate is null and revenue from nothing is growth.
    assert_eq!(
        out.rows("SELECT previous_revenue, recent_revenue, growth_rate, lifecycle_stage FROM customer_value")
            .await,
        [row(&["0.00", "100.00", "NULL", "growth"])]
    );
}
