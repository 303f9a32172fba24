//! Retention savings (docs/metrics.md#retention-savings), and the
//! 2,700,000-subscriber example scaled down
//! (docs/metrics.md#retention-example).

use super::world::*;

/// 2,700 subscribers whose March ARPU is 40.90.
fn seed_example() -> World {
    let mut w = World::new("2026-03-31", 3);
    w.set("acquisition_cost: 559")
        .set("churn_reduction_scenarios: [0.01, 0.10]");
    for i in 0..2700 {
        let id = format!("S{i:04}");
        w.customer(&id, "2025-01-01", None)
            .bill(&id, "2026-03-10", "40.90");
    }
    w
}

#[tokio::test]
async fn the_seed_example_of_the_spec_is_reproduced() {
    let out = seed_example().run().await;
    let rows = out
        .rows(
            "SELECT scenario, base_subscribers, arpu, customers_retained, acquisition_cost_avoided,
                    monthly_revenue_retained, annual_revenue_retained
             FROM retention_savings WHERE population = 'all' ORDER BY scenario",
        )
        .await;
    assert_eq!(
        rows,
        [
            row(&[
                "0.01", "2700", "40.9", "27.0", "15093.00", "1104.30", "13251.60"
            ]),
            row(&[
                "0.1",
                "2700",
                "40.9",
                "270.0",
                "150930.00",
                "11043.00",
                "132516.00"
            ]),
        ]
    );
}

#[tokio::test]
async fn every_scenario_has_five_populations_and_empty_ones_are_null() {
    let mut w = World::new("2026-03-31", 3);
    w.set("mgc_share: 0");
    w.customer("C1", "2025-01-01", None)
        .bill("C1", "2026-03-10", "10.00");
    let out = w.run().await;
    assert_eq!(
        out.value("SELECT COUNT(*) FROM retention_savings").await,
        "15"
    );
    let mgc = out
        .rows(
            "SELECT base_subscribers, arpu, avg_monthly_churn_rate, annual_churn_rate, customers_retained,
                    acquisition_cost_avoided, monthly_revenue_retained, annual_revenue_retained,
                    lifetime_value_retained, currency
             FROM retention_savings WHERE population = 'MGC' AND scenario = 0.01",
        )
        .await;
    assert_eq!(
        mgc,
        [row(&[
            "0", "NULL", "NULL", "NULL", "0.0", "0.00", "NULL", "NULL", "NULL", "CNY"
        ])]
    );
}

#[tokio::test]
async fn churn_rates_and_lifetime_value_follow_the_population() {
    let mut w = World::new("2026-03-31", 3);
    w.set("mvc_share: 0")
        .set("mgc_share: 0")
        .set("churn_reduction_scenarios: [0.5]");
    w.customer("C1", "2024-01-01", None)
        .bill("C1", "2026-01-10", "120.00")
        .bill("C1", "2026-03-10", "30.00");
    w.customer("C2", "2024-01-01", Some("2026-02-15"))
        .bill("C2", "2026-01-10", "60.00");
    let out = w.run().await;
    let lvc = out
        .rows(
            "SELECT base_subscribers, avg_monthly_churn_rate, customers_retained, monthly_revenue_retained,
                    lifetime_value_retained
             FROM retention_savings WHERE population = 'LVC'",
        )
        .await;
    // O = 5, C = 1; base = close(March) = 1; arpu(March) = 30 / 1; clv C1 = 150 × 4 / 3.15,
    // C2 = 60 × 4 / 3.15; mean = 105 × 4 / 3.15 = 133.333…; × 0.5 = 66.67.
    assert_eq!(lvc, [row(&["1", "0.2", "0.5", "15.00", "66.67"])]);
    let annual = out
        .value("SELECT annual_churn_rate FROM retention_savings WHERE population = 'LVC'")
        .await;
    // 1 − 0.8^12 = 1 − 0.068719476736 = 0.931280523264, exactly.
    assert_eq!(annual, "0.931280523264");
}

#[tokio::test]
async fn the_annual_churn_rate_is_the_nearest_double_of_the_exact_value() {
    let mut w = World::new("2026-03-31", 1);
    for i in 0..10 {
        let id = format!("C{i}");
        let churn = (i == 0).then_some("2026-03-15");
        w.customer(&id, "2025-01-01", churn)
            .bill(&id, "2026-03-01", "10.00");
    }
    let out = w.run().await;
    // 1 − 0.9^12 = 0.717570463519 exactly; the float formula gives 0.7175704635189999.
    let annual = out
        .value("SELECT DISTINCT annual_churn_rate FROM retention_savings WHERE population = 'all'")
        .await;
    assert_eq!(annual, "0.717570463519");
}

#[tokio::test]
async fn lifetime_value_is_rounded_once_from_the_exact_mean() {
    let mut w = World::new("2026-03-31", 3);
    w.set("monthly_discount_rate: 0")
        .set("mvc_share: 0")
        .set("mgc_share: 0")
        .set("churn_reduction_scenarios: [0.003]");
    // LVC: O = 3, C = 1: clv(C1) = 5 × 2 / (3 × 1) = 10/3, clv(C2) = 0; base 1.
    w.customer("C1", "2024-01-01", None)
        .bill("C1", "2026-01-10", "5.00");
    w.customer("C2", "2026-01-05", Some("2026-01-20"));
    let out = w.run().await;
    // 0.003 × (10/3 + 0) / 2 = 0.005 exactly → 0.01 (12-place intermediates give 0.00).
    let rows = out.column("SELECT lifetime_value_retained FROM retention_savings WHERE population IN ('all', 'LVC')").await;
    assert_eq!(rows, ["0.01", "0.01"]);
}

/// annual_revenue_retained is 12 × the unrounded monthly figure, rounded once.
#[tokio::test]
async fn annual_revenue_is_twelve_times_the_unrounded_monthly_figure() {
    let mut w = World::new("2026-03-31", 3);
    w.set("churn_reduction_scenarios: [0.5]");
    w.customer("C1", "2025-01-01", None)
        .bill("C1", "2026-03-10", "10.01");
    let out = w.run().await;
    // arpu = 10.01 / ((1 + 1) / 2); monthly = 0.5 × 10.01 = 5.005 → 5.01;
    // annual = 12 × 5.005 = 60.06, not 12 × 5.01 = 60.12.
    let rows = out
        .rows(
            "SELECT base_subscribers, arpu, customers_retained, monthly_revenue_retained, annual_revenue_retained
             FROM retention_savings WHERE population = 'all'",
        )
        .await;
    assert_eq!(rows, [row(&["1", "10.01", "0.5", "5.01", "60.06"])]);
}
