//! Parameters are exact (docs/metrics.md#conventions): shares, thresholds and
//! products evaluated in exact decimal arithmetic, where binary floating point
//! gets them wrong.

use super::world::*;

#[tokio::test]
async fn a_share_of_seven_hundredths_of_a_hundred_is_seven() {
    let mut w = World::new("2026-03-31", 3);
    w.set("mvc_share: 0.07");
    for i in 1..=100 {
        let id = format!("C{i:03}");
        w.customer(&id, "2025-01-01", None)
            .bill(&id, "2026-03-10", &format!("{}.00", 1000 - i));
    }
    let out = w.run().await;
    // 0.07 × 100 is 7.000000000000001 in binary, whose CEIL is 8.
    assert_eq!(
        out.value("SELECT COUNT(*) FROM customer_value WHERE pyramid_tier = 'MVC'")
            .await,
        "7"
    );
}

#[tokio::test]
async fn a_threshold_written_with_one_place_is_exact() {
    let mut w = World::new("2026-03-31", 3);
    w.set("growth_threshold: 0.1").set("trend_months: 1");
    w.customer("C", "2024-01-01", None)
        .bill("C", "2026-02-10", "100.00")
        .bill("C", "2026-03-10", "110.00");
    let out = w.run().await;
    assert_eq!(
        out.value("SELECT lifecycle_stage FROM customer_value")
            .await,
        "growth"
    );
}
