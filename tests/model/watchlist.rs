//! SPEC §4.7 Churn watchlist, with w = 6 and t = 2: previous = Dec-Jan,
//! recent = Feb-Mar, baseline = Jan-Feb.

use super::world::*;

fn monthly(w: &mut World, id: &str, churn: Option<&str>, amounts: [&str; 5]) {
    w.customer(id, "2024-01-01", churn);
    for (month, amount) in ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
        .iter()
        .zip(amounts)
    {
        w.bill(id, &format!("{month}-10"), amount);
    }
}

async fn watchlist() -> Outputs {
    let mut w = World::new("2026-03-31", 6);
    w.set("trend_months: 2").set("mvc_share: 1");
    monthly(
        &mut w,
        "W1",
        None,
        ["100.00", "100.00", "100.00", "100.00", "40.00"],
    );
    monthly(
        &mut w,
        "W2",
        None,
        ["100.00", "100.00", "100.00", "100.00", "70.00"],
    );
    monthly(
        &mut w,
        "W3",
        None,
        ["100.00", "100.00", "100.00", "60.00", "100.00"],
    );
    monthly(
        &mut w,
        "W4",
        None,
        ["100.00", "100.00", "100.00", "100.00", "100.00"],
    );
    monthly(
        &mut w,
        "W5",
        Some("2026-03-20"),
        ["100.00", "100.00", "100.00", "100.00", "0.00"],
    );
    w.run().await
}

#[tokio::test]
async fn watchlist_reasons_follow_the_drop_and_the_stage() {
    let out = watchlist().await;
    let rows = out
        .rows(
            "SELECT customer_id, pyramid_tier, lifecycle_stage, last_month_revenue, baseline_revenue, drop_ratio, reason
             FROM churn_watchlist ORDER BY customer_id",
        )
        .await;
    assert_eq!(
        rows,
        [
            row(&[
                "W1",
                "MVC",
                "decline",
                "40.00",
                "100.00",
                "0.6",
                "revenue_drop+declining"
            ]),
            // 70 × 2 ≤ (1 − 0.30) × 200 holds exactly.
            row(&[
                "W2",
                "MVC",
                "maturity",
                "70.00",
                "100.00",
                "0.3",
                "revenue_drop"
            ]),
            // 160 ≤ (1 − 0.20) × 200: decline; 100 × 2 > 0.7 × 160: no drop.
            row(&[
                "W3",
                "MVC",
                "decline",
                "100.00",
                "80.00",
                "-0.25",
                "declining"
            ]),
        ]
    );
}

#[tokio::test]
async fn exit_customers_are_never_watched() {
    let out = watchlist().await;
    assert_eq!(
        out.value("SELECT lifecycle_stage FROM customer_value WHERE customer_id = 'W5'")
            .await,
        "exit"
    );
    assert_eq!(
        out.value("SELECT COUNT(*) FROM churn_watchlist WHERE customer_id = 'W5'")
            .await,
        "0"
    );
}
