//! The outputs are Hive-partitioned Parquet (docs/outputs.md) that other
//! engines read with no glue. DuckDB (Python package) reads the sample run
//! back.

use crate::support;

use std::process::Command;

use support::{manifest_of, run_sample, script_json};

fn duckdb_available() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn duckdb_reads_every_table_back_with_the_spec_types() {
    if !duckdb_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install the duckdb Python package"
        );
        eprintln!("skipped: python3 -c 'import duckdb' fails here (pip install duckdb)");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let run = run_sample(out.path(), &[]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let report = script_json(
        Command::new("python3")
            .arg("tests/readback.py")
            .arg(out.path()),
    );

    let manifest = manifest_of(out.path());
    for table in [
        "customer_month",
        "arpu",
        "customer_value",
        "churn_watchlist",
        "retention_savings",
        "rejected",
    ] {
        let written: u64 = manifest["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["table"] == table)
            .map(|o| o["rows"].as_u64().unwrap())
            .sum();
        assert_eq!(report[table]["rows"].as_u64().unwrap(), written, "{table}");
    }
    let types = |table: &str, column: &str| {
        report[table]["types"][column]
            .as_str()
            .unwrap_or("missing")
            .to_owned()
    };
    assert_eq!(types("customer_month", "revenue"), "DECIMAL(38,2)");
    assert_eq!(types("customer_month", "billing_lines"), "BIGINT");
    assert_eq!(types("customer_month", "is_subscriber"), "BOOLEAN");
    assert_eq!(types("customer_value", "signup_date"), "DATE");
    assert_eq!(types("customer_value", "score"), "DOUBLE");
    assert_eq!(types("customer_value", "clv"), "DECIMAL(38,2)");
    assert_eq!(types("customer_value", "pyramid_tier"), "VARCHAR");
    assert_eq!(types("arpu", "open_subscribers"), "BIGINT");
    assert_eq!(types("retention_savings", "customers_retained"), "DOUBLE");
    assert_eq!(types("rejected", "line"), "BIGINT");
    // The views of docs/duckdb.sql: every row, the files' types, and the
    // partition columns typed rather than guessed.
    for table in report.as_object().unwrap().keys() {
        let t = &report[table];
        assert_eq!(t["view_rows"], t["rows"], "{table}");
        let mut expected = t["types"].as_object().unwrap().clone();
        for (column, kind) in t["view_types"].as_object().unwrap() {
            if matches!(
                column.as_str(),
                "as_of" | "month" | "pyramid_tier" | "source"
            ) {
                expected.insert(column.clone(), kind.clone());
            }
        }
        assert_eq!(
            &t["view_types"],
            &serde_json::Value::Object(expected),
            "{table}"
        );
    }
    let view = |table: &str, column: &str| report[table]["view_types"][column].clone();
    assert_eq!(view("customer_value", "as_of"), "DATE");
    assert_eq!(view("arpu", "month"), "VARCHAR");
    assert_eq!(view("rejected", "source"), "VARCHAR");
    let retained = report["retention_savings"]["rows"].as_u64().unwrap();
    assert_eq!(retained, 3 * 5, "three scenarios by five populations");
}
