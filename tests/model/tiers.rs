//! Tiers: ABC classes, b_rising and the value pyramid
//! (docs/metrics.md#abc-classes, #b_rising, #value-pyramid).

use super::world::*;

/// Five customers ranked by revenue; R1 has the most revenue and a loss.
/// With w = 3 and t = 1, only March is recent: R3's revenue is all in January.
fn ranked_by_revenue() -> World {
    let mut w = World::new("2026-03-31", 3);
    w.set("trend_months: 1").set("score_weights: {revenue: 1}");
    for (id, date, amount) in [
        ("R1", "2026-03-05", "500.00"),
        ("R2", "2026-03-05", "400.00"),
        ("R3", "2026-01-05", "300.00"),
        ("R4", "2026-03-05", "200.00"),
        ("R5", "2026-03-05", "100.00"),
    ] {
        w.customer(id, "2025-01-01", None).bill(id, date, amount);
    }
    w.cost("R1", "2026-03-06", "600.00");
    w
}

#[tokio::test]
async fn a_loss_in_the_top_ranks_is_never_a_nor_b() {
    let out = ranked_by_revenue().run().await;
    let rows = out.rows("SELECT customer_id, value_rank, abc_class, b_rising FROM customer_value ORDER BY value_rank").await;
    // a = CEIL(0.2 × 5) = 1, ab = CEIL(0.5 × 5) = 3: rank 1 makes a loss, so A is empty.
    assert_eq!(
        rows,
        [
            row(&["R1", "1", "C", "false"]),
            row(&["R2", "2", "B", "true"]),
            row(&["R3", "3", "B", "false"]),
            row(&["R4", "4", "C", "false"]),
            row(&["R5", "5", "C", "false"]),
        ]
    );
}

#[tokio::test]
async fn the_pyramid_is_bz_then_mvc_then_mgc_by_uplift() {
    let out = ranked_by_revenue().run().await;
    let rows = out
        .rows("SELECT customer_id, pyramid_tier, uplift FROM customer_value ORDER BY value_rank")
        .await;
    // MVC = CEIL(0.05 × 5) = 1 rank, held by R1's loss: skipped, so no MVC.
    // MGC = CEIL(0.15 × 5) = 1: the largest uplift (R2: 400 × 3 − 400).
    assert_eq!(
        rows,
        [
            row(&["R1", "BZ", "-200.00"]),
            row(&["R2", "MGC", "800.00"]),
            row(&["R3", "LVC", "-300.00"]),
            row(&["R4", "LVC", "400.00"]),
            row(&["R5", "LVC", "200.00"]),
        ]
    );
}

#[tokio::test]
async fn mvc_skips_ranks_without_profit_rather_than_replacing_them() {
    let mut w = ranked_by_revenue();
    w.set("mvc_share: 0.4").set("mgc_share: 0");
    let out = w.run().await;
    let mvc = out
        .column("SELECT customer_id FROM customer_value WHERE pyramid_tier = 'MVC'")
        .await;
    assert_eq!(mvc, ["R2"]);
}

#[tokio::test]
async fn a_zero_profit_is_neither_bz_nor_mvc() {
    let mut w = World::new("2026-03-31", 3);
    w.set("score_weights: {revenue: 1}")
        .set("mvc_share: 1")
        .set("mgc_share: 0");
    w.customer("Z", "2025-01-01", None)
        .bill("Z", "2026-03-05", "50.00")
        .cost("Z", "2026-03-06", "50.00");
    let out = w.run().await;
    assert_eq!(
        out.rows("SELECT pyramid_tier, abc_class FROM customer_value")
            .await,
        [row(&["LVC", "C"])]
    );
}

#[tokio::test]
async fn b_rising_is_the_top_share_of_b_by_value_rank() {
    let mut w = World::new("2026-03-31", 3);
    w.set("a_share: 0")
        .set("b_share: 1")
        .set("b_rising_share: 0.28");
    for i in 1..=25 {
        let id = format!("B{i:02}");
        w.customer(&id, "2025-01-01", None)
            .bill(&id, "2026-03-05", &format!("{}.00", 100 - i));
    }
    let out = w.run().await;
    // n_B = 25: CEIL(0.28 × 25) = 7, exactly; in binary floating point
    // 0.28 × 25 is 7.000000000000001, whose CEIL is 8.
    let rising = out
        .column("SELECT customer_id FROM customer_value WHERE b_rising ORDER BY value_rank")
        .await;
    assert_eq!(rising, ["B01", "B02", "B03", "B04", "B05", "B06", "B07"]);
}

/// ab = CEIL((a_share + b_share) × n), the sum and the product both exact.
#[tokio::test]
async fn the_b_cut_off_is_the_exact_ceiling_of_the_summed_shares() {
    let mut w = World::new("2026-03-31", 3);
    w.set("a_share: 0.05").set("b_share: 0.55");
    for (id, amount) in [
        ("T1", "500.00"),
        ("T2", "400.00"),
        ("T3", "300.00"),
        ("T4", "200.00"),
        ("T5", "100.00"),
    ] {
        w.customer(id, "2025-01-01", None)
            .bill(id, "2026-03-05", amount);
    }
    let out = w.run().await;
    // a = CEIL(0.05 × 5) = 1; ab = CEIL((0.05 + 0.55) × 5) = CEIL(3) = 3. In binary
    // floating point (0.05 + 0.55) × 5 is 3.0000000000000004 (CEIL 4), and
    // CEIL(0.05 × 5) + CEIL(0.55 × 5) is 1 + 3 = 4.
    let classes = out
        .column("SELECT abc_class FROM customer_value ORDER BY value_rank")
        .await;
    assert_eq!(classes, ["A", "B", "B", "C", "C"]);
}

/// MGC: equal uplifts are ordered by customer_id ascending, not by value_rank.
#[tokio::test]
async fn mgc_ties_on_uplift_go_to_the_smaller_customer_id() {
    let mut w = World::new("2026-03-31", 3);
    w.set("trend_months: 1")
        .set("mvc_share: 0")
        .set("mgc_share: 0.5");
    // M2: profit_w 25, recent 15, uplift 15 × 3 − 25 = 20 (value_rank 1);
    // M1: profit_w 10, recent 10, uplift 10 × 3 − 10 = 20. MGC = CEIL(0.5 × 2) = 1.
    w.customer("M2", "2025-01-01", None)
        .bill("M2", "2026-01-05", "10.00")
        .bill("M2", "2026-03-05", "15.00");
    w.customer("M1", "2025-01-01", None)
        .bill("M1", "2026-03-05", "10.00");
    let out = w.run().await;
    assert_eq!(
        out.rows("SELECT customer_id, value_rank, uplift, pyramid_tier FROM customer_value ORDER BY customer_id")
            .await,
        [
            row(&["M1", "2", "20.00", "MGC"]),
            row(&["M2", "1", "20.00", "LVC"])
        ]
    );
}
