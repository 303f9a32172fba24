//! Who owns a partition (docs/publishing.md#who-owns-a-partition): a month
//! partition belongs to the latest as_of that published it; backfilling older
//! dates never replaces it, and for the latest date the snapshot and the month
//! tables add up.

use crate::support;

use std::path::Path;

use datafusion::prelude::*;
use support::{contents, manifests, marker, ok, partitions, run_sample};

const LATEST: &str = "2026-10-31";

/// Sums of revenue, cost and profit of a table's files matching `glob`.
async fn sums(root: &Path, glob: &str, columns: [&str; 3]) -> Vec<String> {
    let ctx = SessionContext::new();
    let path = root.join(glob);
    let sql = format!(
        "SELECT CAST(SUM({}) AS VARCHAR), CAST(SUM({}) AS VARCHAR), CAST(SUM({}) AS VARCHAR) FROM t",
        columns[0], columns[1], columns[2]
    );
    ctx.register_parquet("t", path.to_str().unwrap(), ParquetReadOptions::default())
        .await
        .unwrap();
    let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    text.lines().map(str::to_owned).collect()
}

/// The month partitions of customer_month over the latest date's window.
fn window_months(root: &Path) -> Vec<String> {
    partitions(root)
        .into_iter()
        .filter(|p| p.starts_with("customer_month/") && marker(root, p).1 == LATEST)
        .collect()
}

fn backfill(output: &Path, from: &str, to: &str) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args(["backfill", "pipelines/sample.yaml", "--output"])
        .arg(output)
        .args(["--from", from, "--to", to])
        .output()
        .unwrap();
    ok(o);
}

#[test]
fn backfilling_older_dates_leaves_the_later_dates_months_alone() {
    let out = tempfile::tempdir().unwrap();
    ok(run_sample(out.path(), &[]));
    let before = contents(out.path());
    // A range below an existing later date; their windows end in September.
    backfill(out.path(), "2026-10-29", "2026-10-30");
    let after = contents(out.path());
    for (partition, rows) in &before {
        if !partition.starts_with("rejected/") {
            assert_eq!(after.get(partition), Some(rows), "{partition} was replaced");
            let owner = marker(out.path(), partition).1;
            assert_eq!(owner, LATEST, "{partition}");
        }
    }
    // The month only the backfill's windows hold is the latest of them's.
    for table in ["customer_month", "arpu"] {
        let owner = marker(out.path(), &format!("{table}/month=2025-10")).1;
        assert_eq!(owner, "2026-10-30", "{table}");
    }
    // Each backfilled date says which months it left alone.
    for day in ["2026-10-29", "2026-10-30"] {
        let run = manifests(out.path(), day);
        let left: Vec<&str> = run.values().next().unwrap()["left_alone"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                assert_eq!(l["owner_as_of"], LATEST);
                l["partition"].as_str().unwrap()
            })
            .collect();
        assert_eq!(
            left.len(),
            22,
            "{day}: eleven months of two tables: {left:?}"
        );
        assert!(!left.iter().any(|p| p.contains("2025-10")), "{left:?}");
    }
}

#[test]
fn for_the_latest_date_the_snapshot_adds_up_to_the_month_table_over_its_window() {
    let out = tempfile::tempdir().unwrap();
    ok(run_sample(out.path(), &[]));
    ok(run_sample(out.path(), &["--as-of", "2026-09-30"]));
    let months = window_months(out.path());
    assert_eq!(months.len(), 12, "{months:?}");
    let month_sums = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut per_month = Vec::new();
        for m in &months {
            per_month.push(
                sums(
                    out.path(),
                    &format!("{m}/part-00000.parquet"),
                    ["revenue", "cost", "profit"],
                )
                .await,
            );
        }
        per_month
    });
    let total = |i: usize| -> rust_decimal::Decimal {
        month_sums
            .iter()
            .map(|lines| {
                let row = lines[3].split('|').map(str::trim).collect::<Vec<_>>();
                row[i + 1].parse::<rust_decimal::Decimal>().unwrap()
            })
            .sum()
    };
    let snapshot = tokio::runtime::Runtime::new().unwrap().block_on(sums(
        out.path(),
        &format!("customer_value/as_of={LATEST}/"),
        ["revenue_w", "cost_w", "profit_w"],
    ));
    let row: Vec<&str> = snapshot[3].split('|').map(str::trim).collect();
    for i in 0..3 {
        assert_eq!(
            row[i + 1].parse::<rust_decimal::Decimal>().unwrap(),
            total(i),
            "column {i}"
        );
    }
}
