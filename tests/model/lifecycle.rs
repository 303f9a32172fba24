//! Lifecycle stages, the first that holds (docs/metrics.md#lifecycle-stage),
//! and lifetime value (docs/metrics.md#clv).

use super::world::*;

/// w = 3, t = 1: previous = February, recent = March; dormant_months = 2.
fn stages_world() -> World {
    let mut w = World::new("2026-03-31", 3);
    w.set("trend_months: 1");
    w
}

async fn stage_of(w: &World, id: &str) -> String {
    w.run()
        .await
        .value(&format!(
            "SELECT lifecycle_stage FROM customer_value WHERE customer_id = '{id}'"
        ))
        .await
}

fn feb_mar(w: &mut World, id: &str, feb: &str, mar: &str) {
    w.customer(id, "2024-01-01", None)
        .bill(id, "2026-02-10", feb)
        .bill(id, "2026-03-10", mar);
}

#[tokio::test]
async fn churned_by_the_run_date_is_exit() {
    let mut w = stages_world();
    w.customer("C", "2024-01-01", Some("2026-03-10"))
        .bill("C", "2026-03-01", "100.00");
    assert_eq!(stage_of(&w, "C").await, "exit");
}

#[tokio::test]
async fn a_churn_scheduled_after_the_run_date_is_not_exit() {
    let mut w = stages_world();
    w.customer("C", "2024-01-01", Some("2026-04-15"))
        .bill("C", "2026-02-01", "100.00")
        .bill("C", "2026-03-01", "100.00");
    assert_eq!(stage_of(&w, "C").await, "maturity");
}

#[tokio::test]
async fn a_subscriber_who_pays_nothing_for_dormant_months_is_exit() {
    let mut w = stages_world();
    w.customer("C", "2024-01-01", None)
        .bill("C", "2026-01-10", "100.00")
        .bill("C", "2026-03-10", "0.00");
    assert_eq!(stage_of(&w, "C").await, "exit");
}

/// The dormant exit needs tenure_months ≥ dormant_months: a newcomer who has
/// not paid yet is not `exit`.
#[tokio::test]
async fn the_dormant_exit_needs_a_tenure_of_dormant_months() {
    let mut w = stages_world();
    // No revenue in Feb-Mar (the last 2 months); tenures 0, 1 and 2 months to March.
    w.customer("N0", "2026-03-05", None)
        .customer("N1", "2026-02-10", None)
        .customer("N2", "2026-01-10", None);
    let out = w.run().await;
    assert_eq!(
        out.rows("SELECT customer_id, tenure_months, lifecycle_stage FROM customer_value ORDER BY customer_id")
            .await,
        [
            row(&["N0", "0", "acquisition"]),
            row(&["N1", "1", "acquisition"]),
            row(&["N2", "2", "exit"])
        ]
    );
}

#[tokio::test]
async fn tenure_below_new_customer_months_is_acquisition() {
    let mut w = stages_world();
    w.customer("C", "2026-01-20", None)
        .bill("C", "2026-02-10", "10.00")
        .bill("C", "2026-03-10", "100.00");
    assert_eq!(stage_of(&w, "C").await, "acquisition");
}

#[tokio::test]
async fn growth_by_exactly_the_threshold_is_growth() {
    let mut w = stages_world();
    // 110.00 ≥ (1 + 0.10) × 100.00 exactly; in binary floating point it is not.
    feb_mar(&mut w, "C", "100.00", "110.00");
    assert_eq!(stage_of(&w, "C").await, "growth");
}

#[tokio::test]
async fn revenue_from_nothing_is_growth() {
    let mut w = stages_world();
    w.customer("C", "2024-01-01", None)
        .bill("C", "2026-02-10", "-5.00")
        .bill("C", "2026-03-10", "20.00");
    assert_eq!(stage_of(&w, "C").await, "growth");
}

#[tokio::test]
async fn a_fall_by_exactly_the_threshold_is_decline() {
    let mut w = stages_world();
    feb_mar(&mut w, "C", "100.00", "80.00");
    assert_eq!(stage_of(&w, "C").await, "decline");
}

#[tokio::test]
async fn anything_else_is_maturity() {
    let mut w = stages_world();
    feb_mar(&mut w, "C", "100.00", "109.99");
    assert_eq!(stage_of(&w, "C").await, "maturity");
}

/// Everyone LVC (no MVC, no MGC): C1 and C2 in one tier with O = 5, C = 1.
fn clv_world() -> World {
    let mut w = World::new("2026-03-31", 3);
    w.set("mvc_share: 0").set("mgc_share: 0");
    w.customer("C1", "2024-01-01", None)
        .bill("C1", "2026-01-10", "120.00");
    w.customer("C2", "2024-01-01", Some("2026-02-15"))
        .bill("C2", "2026-01-10", "60.00");
    w
}

#[tokio::test]
async fn clv_uses_the_churn_of_the_customers_tier() {
    let out = clv_world().run().await;
    // r = 1 − 1/5 = 0.8; clv = (profit_w / 3) × 0.8 / (1.01 − 0.8).
    let rows = out
        .rows("SELECT customer_id, clv, points_multiplier, action FROM customer_value ORDER BY 1")
        .await;
    assert_eq!(
        rows,
        [
            row(&["C1", "152.38", "1", "upgrade"]),
            row(&["C2", "76.19", "1", "upgrade"])
        ]
    );
}

#[tokio::test]
async fn clv_is_null_when_the_tier_never_opened() {
    let mut w = clv_world();
    // Signs up in March and makes a loss: BZ, a tier with no open subscriber in W.
    w.customer("C3", "2026-03-05", None)
        .cost("C3", "2026-03-06", "50.00");
    let out = w.run().await;
    assert_eq!(
        out.rows("SELECT pyramid_tier, clv FROM customer_value WHERE customer_id = 'C3'")
            .await,
        [row(&["BZ", "NULL"])]
    );
}

#[tokio::test]
async fn clv_is_null_when_nothing_churns_and_nothing_is_discounted() {
    let mut w = World::new("2026-03-31", 3);
    w.set("mvc_share: 0")
        .set("mgc_share: 0")
        .set("monthly_discount_rate: 0");
    w.customer("C1", "2024-01-01", None)
        .bill("C1", "2026-01-10", "120.00");
    let out = w.run().await;
    assert_eq!(out.value("SELECT clv FROM customer_value").await, "NULL");
}

/// One customer per pyramid tier, w = 3, t = 1, n = 4: V is MVC (rank 1 of
/// CEIL(0.05 × 4) = 1), Z is BZ (a loss), G is MGC (uplift 50 × 3 − 50 = 100,
/// the only one above 0), L is LVC.
fn one_per_tier() -> World {
    let mut w = World::new("2026-03-31", 3);
    w.set("trend_months: 1");
    w.customer("V", "2024-01-01", None)
        .bill("V", "2026-01-10", "100.00")
        .bill("V", "2026-03-10", "100.00");
    w.customer("G", "2024-01-01", None)
        .bill("G", "2026-03-10", "50.00");
    w.customer("L", "2024-01-01", None)
        .bill("L", "2026-01-10", "30.00");
    w.customer("Z", "2024-01-01", None)
        .cost("Z", "2026-03-10", "10.00");
    w
}

const POLICY: &str = "SELECT customer_id, pyramid_tier, points_multiplier, action FROM customer_value ORDER BY customer_id";

/// Without tier_policy: MVC ×3 retain, MGC ×2 cultivate, LVC ×1 upgrade, BZ ×0 phase_out.
#[tokio::test]
async fn the_default_tier_policy_is_written_per_tier() {
    let out = one_per_tier().run().await;
    assert_eq!(
        out.rows(POLICY).await,
        [
            row(&["G", "MGC", "2", "cultivate"]),
            row(&["L", "LVC", "1", "upgrade"]),
            row(&["V", "MVC", "3", "retain"]),
            row(&["Z", "BZ", "0", "phase_out"])
        ]
    );
}

/// A tier_policy of the pipeline replaces the default for every tier.
#[tokio::test]
async fn a_custom_tier_policy_is_written_per_tier() {
    let mut w = one_per_tier();
    w.set(
        "tier_policy: {MVC: {points_multiplier: 5, action: vip_care}, MGC: {points_multiplier: 4, action: grow}, \
         LVC: {points_multiplier: 7, action: nudge}, BZ: {points_multiplier: 1, action: review}}",
    );
    let out = w.run().await;
    assert_eq!(
        out.rows(POLICY).await,
        [
            row(&["G", "MGC", "4", "grow"]),
            row(&["L", "LVC", "7", "nudge"]),
            row(&["V", "MVC", "5", "vip_care"]),
            row(&["Z", "BZ", "1", "review"])
        ]
    );
}
