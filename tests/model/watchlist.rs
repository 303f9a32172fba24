//! The churn watchlist (docs/metrics.md#churn-watchlist), with w = 6 and t = 2:
//! previous = Dec-Jan, recent = Feb-Mar, baseline = Jan-Feb.

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

/// A customer watched only for being in class A (LVC, neither MVC nor MGC) is
/// listed; the same fall in class C is not watched.
#[tokio::test]
async fn a_class_a_customer_outside_mvc_and_mgc_is_watched() {
    let mut w = World::new("2026-03-31", 3);
    w.set("trend_months: 1")
        .set("mvc_share: 0")
        .set("mgc_share: 0");
    // n = 2: a = CEIL(0.2 × 2) = 1 (A1), ab = CEIL(0.5 × 2) = 1, so C1 is C.
    // Each bills the same in January and February and half of it in March: a
    // drop against the February baseline (t = 1), and decline.
    for (id, feb, mar) in [("A1", "100.00", "50.00"), ("C1", "10.00", "5.00")] {
        w.customer(id, "2024-01-01", None)
            .bill(id, "2026-01-10", feb)
            .bill(id, "2026-02-10", feb)
            .bill(id, "2026-03-10", mar);
    }
    let out = w.run().await;
    let rows = out
        .rows(
            "SELECT customer_id, pyramid_tier, abc_class, lifecycle_stage, last_month_revenue, baseline_revenue, drop_ratio, reason
             FROM churn_watchlist",
        )
        .await;
    assert_eq!(
        rows,
        [row(&[
            "A1",
            "LVC",
            "A",
            "decline",
            "50.00",
            "100.00",
            "0.5",
            "revenue_drop+declining"
        ])]
    );
}

/// The watchlist row of one MVC customer billed Nov-Mar (w = 6, t = 2).
async fn watched_alone(amounts: [&str; 5]) -> Vec<Vec<String>> {
    let mut w = World::new("2026-03-31", 6);
    w.set("trend_months: 2").set("mvc_share: 1");
    monthly(&mut w, "W", None, amounts);
    w.run()
        .await
        .rows(
            "SELECT lifecycle_stage, last_month_revenue, baseline_revenue, drop_ratio, reason
             FROM churn_watchlist",
        )
        .await
}

/// drop_ratio is null when the baseline is ≤ 0, and no drop is tested then.
#[tokio::test]
async fn drop_ratio_is_null_when_the_baseline_is_not_positive() {
    // previous (Dec-Jan) = 50, recent (Feb-Mar) = 20 ≤ 0.8 × 50: decline; the
    // last 2 months sum to 20 > 0, so not exit. baseline = (−50 + 30) / 2 = −10.
    // Without the guard: drop_ratio 1 − (−10 / −10) = 0, and −10 × 2 ≤ 0.7 × (−20)
    // would add revenue_drop.
    let rows = watched_alone(["0.00", "100.00", "-50.00", "30.00", "-10.00"]).await;
    assert_eq!(
        rows,
        [row(&["decline", "-10.00", "-10.00", "NULL", "declining"])]
    );
}

/// baseline_revenue is the exact mean, rounded once half away from zero to cents.
#[tokio::test]
async fn the_baseline_is_rounded_half_away_from_zero_to_cents() {
    // baseline = (64.00 + 64.17) / 2 = 64.085 → 64.09, half away from zero.
    // In binary floating point 128.17 / 2 is 64.08499…, and × 100 is
    // 6408.499999999999, which rounds to 64.08 (half to even would too).
    // 10 × 2 ≤ 0.7 × 128.17: drop; recent 74.17 ≤ 0.8 × 164: decline.
    // drop_ratio = 1 − 10 / 64.085 = 108.17 / 128.17 = 10817 / 12817.
    let rows = watched_alone(["100.00", "100.00", "64.00", "64.17", "10.00"]).await;
    let ratio = (10817.0f64 / 12817.0).to_string();
    assert_eq!(
        rows,
        [row(&[
            "decline",
            "10.00",
            "64.09",
            &ratio,
            "revenue_drop+declining"
        ])]
    );
}
