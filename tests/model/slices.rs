//! ARPU slices by region, segment and pyramid tier
//! (docs/metrics.md#arpu-slices).

use super::world::*;

async fn sliced() -> Outputs {
    let mut w = World::new("2026-03-31", 3);
    w.customer_in("C1", "north", "consumer", "2025-01-01", None)
        .bill("C1", "2026-01-10", "30.00");
    w.customer_in("C2", "南方", "business", "2025-01-01", Some("2026-02-10"))
        .bill("C2", "2026-01-10", "50.00");
    w.customer_in("C3", "", "", "2025-01-01", None)
        .bill("C3", "2026-03-10", "-5.00");
    // Churned before the window, no lines: counted nowhere but held by the snapshot.
    w.customer_in("C4", "west", "consumer", "2024-01-01", Some("2025-06-01"));
    w.run().await
}

#[tokio::test]
async fn every_dimension_sums_to_all() {
    let out = sliced().await;
    let mismatches = out
        .rows(
            "SELECT d.month, d.dimension FROM arpu AS d JOIN arpu AS a ON a.month = d.month AND a.dimension = 'all'
             GROUP BY d.month, d.dimension, a.revenue, a.open_subscribers, a.close_subscribers, a.churned
             HAVING SUM(d.revenue) <> a.revenue OR SUM(d.open_subscribers) <> a.open_subscribers
                 OR SUM(d.close_subscribers) <> a.close_subscribers OR SUM(d.churned) <> a.churned",
        )
        .await;
    assert!(mismatches.is_empty(), "{mismatches:?}");
    assert_eq!(
        out.value("SELECT COUNT(DISTINCT dimension) FROM arpu")
            .await,
        "4"
    );
}

#[tokio::test]
async fn every_value_held_by_a_customer_has_a_row_per_month() {
    let out = sliced().await;
    let regions = out
        .column("SELECT DISTINCT dimension_value FROM arpu WHERE dimension = 'region' ORDER BY 1")
        .await;
    assert_eq!(regions, ["UNKNOWN", "north", "west", "南方"]);
    let west = out
        .rows("SELECT revenue, open_subscribers, arpu FROM arpu WHERE dimension_value = 'west'")
        .await;
    assert_eq!(west, vec![row(&["0.00", "0", "NULL"]); 3]);
    let segments = out
        .column("SELECT DISTINCT dimension_value FROM arpu WHERE dimension = 'segment' ORDER BY 1")
        .await;
    assert_eq!(segments, ["UNKNOWN", "business", "consumer"]);
}

#[tokio::test]
async fn customers_out_of_scope_are_unranked() {
    let out = sliced().await;
    let tiers = out
        .column(
            "SELECT DISTINCT dimension_value FROM arpu WHERE dimension = 'pyramid_tier' ORDER BY 1",
        )
        .await;
    assert!(
        tiers.contains(&"UNRANKED".to_owned()) && tiers.contains(&"BZ".to_owned()),
        "{tiers:?}"
    );
    assert_eq!(out.value("SELECT COUNT(*) FROM arpu WHERE dimension = 'pyramid_tier' AND dimension_value = 'UNRANKED'").await, "3");
}

/// Only a null, empty or whitespace-only value becomes `UNKNOWN`; nothing
/// else is trimmed, folded to one case or read as null.
#[tokio::test]
async fn no_value_is_normalised_beyond_unknown() {
    let mut w = World::new("2026-03-31", 1);
    for (id, region) in [
        ("C1", "north"),
        ("C2", "North"),
        ("C3", " north"),
        ("C4", "null"),
        ("C5", ""),
        ("C6", "  "),
    ] {
        w.customer_in(id, region, "consumer", "2025-01-01", None);
    }
    let out = w.run().await;
    // Ordered by bytes: ' ' < 'N' < 'U' < 'n'; every customer is open in March.
    let rows = out
        .rows(
            "SELECT dimension_value, open_subscribers FROM arpu WHERE dimension = 'region' ORDER BY 1",
        )
        .await;
    assert_eq!(
        rows,
        [
            row(&[" north", "1"]),
            row(&["North", "1"]),
            row(&["UNKNOWN", "2"]),
            row(&["north", "1"]),
            row(&["null", "1"])
        ]
    );
}
