//! `cvm-etl backfill`: dates in order, each its own run and manifest; live
//! dates skipped unless --force; the first failure stops the backfill.

use std::process::{Command, Output};

fn backfill(output: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args(["backfill", "pipelines/sample.yaml", "--output"])
        .arg(output)
        .args(extra)
        .output()
        .unwrap()
}

fn manifests(output: &std::path::Path, day: &str) -> usize {
    std::fs::read_dir(output.join(format!("_runs/as_of={day}")))
        .map(|d| {
            d.filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("latest")
            })
            .count()
        })
        .unwrap_or(0)
}

#[test]
fn backfill_runs_each_date_once_and_skips_live_dates_unless_forced() {
    let out = tempfile::tempdir().unwrap();
    let range = ["--from", "2026-10-30", "--to", "2026-10-31"];
    let first = backfill(out.path(), &range);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("2026-10-30: succeeded") && stdout.contains("2026-10-31: succeeded"),
        "{stdout}"
    );
    assert_eq!(
        (
            manifests(out.path(), "2026-10-30"),
            manifests(out.path(), "2026-10-31")
        ),
        (1, 1)
    );

    let again = backfill(out.path(), &range);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("2 skipped"), "{stdout}");
    assert_eq!(manifests(out.path(), "2026-10-31"), 1);

    let forced = backfill(out.path(), &[&range[..], &["--force"]].concat());
    assert!(forced.status.success());
    assert_eq!(manifests(out.path(), "2026-10-31"), 2);
}

#[test]
fn backfill_stops_at_the_first_failure_with_its_exit_code() {
    let out = tempfile::tempdir().unwrap();
    // No customers snapshot on or before 2025-01-01: inputs not ready (exit 4).
    let failed = backfill(out.path(), &["--from", "2025-01-01", "--to", "2025-01-03"]);
    assert_eq!(failed.status.code(), Some(4));
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert!(stdout.contains("2025-01-01: failed"), "{stdout}");
    assert!(stdout.contains("2 not run"), "{stdout}");
    assert_eq!(manifests(out.path(), "2025-01-02"), 0);
}
