//! The commit protocol (docs/publishing.md#a-run-step-by-step, #recovery),
//! across generations: a good run, then a run with other parameters that fails
//! (an injected storage failure) or is killed (SIGKILL) at a step of the
//! protocol, then a run for another date, which must finish or undo it first.
//! Every partition is then entirely one run's, its `_SUCCESS` names that run,
//! nothing but `part-00000.parquet` and `_SUCCESS` lies in it (on the
//! filesystem itself), and the manifests and `latest.json` say what is live.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;

use support::{
    contents, files, latest, manifests, marker, ok, partitions, run_sample, run_sample_with,
};

const D: &str = "2026-10-31";
const OTHER: &str = "2026-09-30";
const B_PARAMS: [&str; 2] = ["--set", "acquisition_cost=600"];

/// The last points of a run: its cleanup, whose failure is only a warning
/// (the next run removes what is left).
const CLEANUP: &[u32] = &[109, 110];

/// The points a run passes, sampled so that every step of the protocol is
/// tried: the manifest, recovery, staging, the commit point, publishing a
/// partition (copy and marker), the report (staged, copied, marked), the
/// final manifest, latest.json, cleanup (staged files, then the commit
/// record).
const POINTS: &[u32] = &[
    1, 2, 3, 5, 6, 20, 35, 36, 37, 38, 39, 40, 71, 103, 104, 105, 106, 107, 108, 109, 110,
];

struct References {
    /// The good run's partitions (D) and the other date's.
    a_then_other: BTreeMap<String, Vec<String>>,
    /// The crashed run's partitions, had it succeeded.
    b: BTreeMap<String, Vec<String>>,
}

fn references() -> References {
    let r1 = tempfile::tempdir().unwrap();
    ok(run_sample(r1.path(), &[]));
    ok(run_sample(r1.path(), &["--as-of", OTHER]));
    let r2 = tempfile::tempdir().unwrap();
    ok(run_sample(r2.path(), &B_PARAMS));
    References {
        a_then_other: contents(r1.path()),
        b: contents(r2.path()),
    }
}

/// The run ids of the manifests of `as_of`, oldest first.
fn run_ids(root: &Path, as_of: &str) -> Vec<String> {
    manifests(root, as_of).into_keys().collect()
}

fn check_generations(root: &Path, refs: &References, a: &str, b: &str, point: u32) {
    let live = contents(root);
    for (partition, rows) in &live {
        let (run, _) = marker(root, partition);
        let expected = if run == b {
            &refs.b[partition]
        } else {
            &refs.a_then_other[partition]
        };
        assert_eq!(
            rows, expected,
            "point {point}: {partition} is not run {run}'s"
        );
        assert_eq!(
            files(&root.join(partition)),
            ["_SUCCESS", "part-00000.parquet"],
            "point {point}: stray files in {partition}"
        );
    }
    // All of the date's model partitions are one run's: the good one, or
    // the crashed one rolled forward in full.
    let d_owned: Vec<(String, String)> = partitions(root)
        .into_iter()
        .filter(|p| !p.starts_with("rejected/"))
        .map(|p| marker(root, &p))
        .filter(|(run, _)| run == a || run == b)
        .collect();
    let runs: std::collections::BTreeSet<&String> = d_owned.iter().map(|(r, _)| r).collect();
    assert_eq!(runs.len(), 1, "point {point}: a mix of {runs:?}");
    let winner = runs.into_iter().next().unwrap().clone();
    assert_eq!(
        latest(root, D).as_deref(),
        Some(winner.as_str()),
        "point {point}"
    );
    assert!(
        files(&root.join("_staging")).is_empty(),
        "point {point}: staging left"
    );
    for (run, m) in manifests(root, D) {
        let status = m["status"].as_str().unwrap();
        assert!(
            !["running", "committed"].contains(&status),
            "point {point}: run {run} left {status}"
        );
        if run == b && winner == b {
            assert!(
                ["rolled_forward", "succeeded"].contains(&status),
                "point {point}: {status}"
            );
        }
    }
}

fn across_generations(hook: &str) {
    let refs = references();
    for &point in POINTS {
        let out = tempfile::tempdir().unwrap();
        ok(run_sample(out.path(), &[]));
        let a = run_ids(out.path(), D).pop().unwrap();
        let broken = run_sample_with(out.path(), &B_PARAMS, &[(hook, point.to_string())]);
        let expected = match hook {
            "CVM_ETL_CRASH_AT" => None,
            _ if CLEANUP.contains(&point) => Some(0),
            _ => Some(5),
        };
        assert_eq!(
            broken.status.code(),
            expected,
            "point {point}: {}",
            String::from_utf8_lossy(&broken.stderr)
        );
        let b = run_ids(out.path(), D)
            .into_iter()
            .find(|r| *r != a)
            .unwrap_or_default();
        // Another date's run finishes or undoes it before its own work.
        ok(run_sample(out.path(), &["--as-of", OTHER]));
        check_generations(out.path(), &refs, &a, &b, point);
        // And a rerun of the date gives a clean run's outputs.
        ok(run_sample(out.path(), &[]));
        let rerun = contents(out.path());
        for (partition, rows) in &rerun {
            assert_eq!(
                rows, &refs.a_then_other[partition],
                "point {point}: {partition}"
            );
        }
    }
}

#[test]
fn a_failure_at_any_step_is_finished_or_undone_by_the_next_run_of_any_date() {
    across_generations("CVM_ETL_FAIL_AT");
}

#[test]
fn a_kill_at_any_step_is_finished_or_undone_by_the_next_run_of_any_date() {
    across_generations("CVM_ETL_CRASH_AT");
}

#[test]
fn a_failure_after_the_commit_point_keeps_the_commit_record_and_the_staged_files() {
    let out = tempfile::tempdir().unwrap();
    ok(run_sample(out.path(), &[]));
    // Point 40: the second partition's copy is published, the rest not.
    let failed = run_sample_with(
        out.path(),
        &B_PARAMS,
        &[("CVM_ETL_FAIL_AT", "40".to_owned())],
    );
    assert_eq!(failed.status.code(), Some(5));
    let staged = files(&out.path().join("_staging"));
    assert!(
        staged.iter().any(|f| f.ends_with("_COMMIT.json")),
        "{staged:?}"
    );
    assert!(
        staged.iter().filter(|f| f.ends_with(".parquet")).count() > 30,
        "{staged:?}"
    );
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("next run"), "{stderr}");
    let statuses: Vec<String> = manifests(out.path(), D)
        .values()
        .map(|m| m["status"].as_str().unwrap().to_owned())
        .collect();
    assert!(statuses.contains(&"committed".to_owned()), "{statuses:?}");
}

#[test]
fn a_hidden_temporary_left_in_a_partition_is_removed_by_the_next_run() {
    let out = tempfile::tempdir().unwrap();
    ok(run_sample(out.path(), &[]));
    let month = out.path().join("customer_month/month=2026-10");
    std::fs::write(month.join("part-00000.parquet#0"), b"half a copy").unwrap();
    std::fs::write(
        out.path().join(format!("_runs/as_of={D}/latest.json#1")),
        b"{",
    )
    .unwrap();
    ok(run_sample(out.path(), &[]));
    assert_eq!(files(&month), ["_SUCCESS", "part-00000.parquet"]);
    assert!(
        !files(&out.path().join("_runs"))
            .iter()
            .any(|f| f.contains('#'))
    );
}

#[test]
fn the_work_folder_of_a_run_that_died_is_swept() {
    let out = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    // No process has this id (above Linux's largest pid_max).
    let dead = temp.path().join("cvm-etl-4194305-abcdef");
    std::fs::create_dir_all(dead.join("staged_billing")).unwrap();
    let alive = temp
        .path()
        .join(format!("cvm-etl-{}-abcdef", std::process::id()));
    std::fs::create_dir_all(&alive).unwrap();
    ok(run_sample(
        out.path(),
        &["--temp-dir", temp.path().to_str().unwrap()],
    ));
    assert!(!dead.exists());
    assert!(alive.exists(), "a live process's folder is left alone");
}
