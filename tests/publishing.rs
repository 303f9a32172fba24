//! The publishing rules of docs/publishing.md, on the shipped sample, through
//! the real binary: reruns, failed runs, locks, crashes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;

use support::{contents, files, latest, marker, ok, partitions, published, run_sample_with};

const AS_OF: &str = "2026-10-31";

fn cvm_etl(output: &Path, extra: &[&str], crash_at: Option<u32>) -> Output {
    let env: Vec<(&str, String)> = crash_at
        .map(|n| ("CVM_ETL_CRASH_AT", n.to_string()))
        .into_iter()
        .collect();
    run_sample_with(output, extra, &env)
}

fn success_run(root: &Path, partition: &str) -> String {
    marker(root, partition).0
}

fn latest_run(root: &Path) -> String {
    latest(root, AS_OF).unwrap()
}

fn manifests(root: &Path) -> Vec<serde_json::Value> {
    support::manifests(root, AS_OF).into_values().collect()
}

#[test]
fn every_partition_holds_one_data_file_and_a_success_marker_naming_the_run() {
    let out = tempfile::tempdir().unwrap();
    ok(cvm_etl(out.path(), &[], None));
    let run = latest_run(out.path());
    let folders: Vec<PathBuf> = published(out.path())
        .iter()
        .filter(|f| f.ends_with("_SUCCESS"))
        .map(|f| PathBuf::from(f).parent().unwrap().to_path_buf())
        .collect();
    assert!(folders.len() > 30, "{folders:?}");
    for folder in &folders {
        let inside: Vec<String> = files(&out.path().join(folder));
        // A table's one Parquet file, or the report's one page.
        let data = match folder.starts_with("report") {
            true => "index.html",
            false => "part-00000.parquet",
        };
        assert_eq!(inside, ["_SUCCESS", data], "{}", folder.display());
        assert_eq!(success_run(out.path(), folder.to_str().unwrap()), run);
    }
    assert!(files(&out.path().join("_staging")).is_empty());
    assert!(!out.path().join("_locks/output.json").exists());
}

#[test]
fn a_rerun_replaces_exactly_the_partitions_it_owns() {
    let out = tempfile::tempdir().unwrap();
    // Partitions of other months and dates, not owned by this run.
    let foreign = [
        "customer_month/month=2020-01/data.txt",
        "churn_watchlist/as_of=2026-09-30/data.txt",
    ];
    for f in foreign {
        std::fs::create_dir_all(out.path().join(f).parent().unwrap()).unwrap();
        std::fs::write(out.path().join(f), b"not ours").unwrap();
    }
    ok(cvm_etl(out.path(), &[], None));
    let first = contents(out.path());
    let first_run = latest_run(out.path());
    ok(cvm_etl(out.path(), &[], None));
    let second_run = latest_run(out.path());
    assert_ne!(first_run, second_run);
    assert_eq!(
        contents(out.path()),
        first,
        "a rerun on the same inputs writes the same rows"
    );
    // Every partition the first run published was published again by the second.
    let owned = partitions(out.path());
    assert_eq!(
        owned.len(),
        first.len() + 1,
        "the tables' partitions and the report's"
    );
    for partition in &owned {
        assert_eq!(
            success_run(out.path(), partition),
            second_run,
            "{partition}"
        );
    }
    for f in foreign {
        assert_eq!(std::fs::read(out.path().join(f)).unwrap(), b"not ours");
    }
    assert_eq!(manifests(out.path()).len(), 2, "one manifest per run");
}

#[test]
fn a_failed_run_publishes_only_its_rejected_rows_and_leaves_the_outputs_as_they_were() {
    let out = tempfile::tempdir().unwrap();
    ok(cvm_etl(out.path(), &[], None));
    let good = latest_run(out.path());
    let failed = cvm_etl(out.path(), &["--set", "max_reject_ratio=0"], None);
    assert_eq!(failed.status.code(), Some(3));
    assert_eq!(latest_run(out.path()), good);
    assert_eq!(
        success_run(
            out.path(),
            "customer_value/as_of=2026-10-31/pyramid_tier=MVC"
        ),
        good
    );
    let rejected = success_run(out.path(), "rejected/as_of=2026-10-31/source=billing");
    assert_ne!(
        rejected, good,
        "the failed run's rejected rows are published"
    );
    let statuses: Vec<String> = manifests(out.path())
        .iter()
        .map(|m| m["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| *s == "failed").count(),
        1,
        "{statuses:?}"
    );
    assert!(files(&out.path().join("_staging")).is_empty());
}

#[test]
fn a_second_run_for_the_same_date_exits_6_naming_the_holder() {
    let out = tempfile::tempdir().unwrap();
    let lock = out.path().join("_locks/output.json");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let holder = serde_json::json!({
        "run_id": "20261101T000000Z-holder01", "host": "batch-7", "pid": 4242,
        "started_at": "2026-11-01T00:00:00.000Z", "expires_at": "2999-01-01T00:00:00.000Z",
    });
    std::fs::write(&lock, holder.to_string()).unwrap();
    let refused = cvm_etl(out.path(), &[], None);
    assert_eq!(refused.status.code(), Some(6));
    let message = String::from_utf8_lossy(&refused.stderr);
    for part in [
        "20261101T000000Z-holder01",
        "batch-7",
        "2026-11-01T00:00:00",
    ] {
        assert!(message.contains(part), "{message}");
    }
    assert!(lock.exists(), "the holder keeps its lock");
    assert!(
        !out.path().join("customer_value").exists(),
        "nothing published"
    );
}

#[test]
fn a_lock_whose_lease_ran_out_is_taken_over_and_released() {
    let out = tempfile::tempdir().unwrap();
    let lock = out.path().join("_locks/output.json");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let holder = serde_json::json!({
        "run_id": "old", "host": "batch-7", "pid": 4242,
        "started_at": "2026-11-01T00:00:00.000Z", "expires_at": "2026-11-01T06:00:00.000Z",
    });
    std::fs::write(&lock, holder.to_string()).unwrap();
    ok(cvm_etl(out.path(), &[], None));
    assert!(!lock.exists());
}

#[test]
fn a_run_killed_at_any_point_is_finished_or_undone_by_the_next_run() {
    let clean = tempfile::tempdir().unwrap();
    ok(cvm_etl(clean.path(), &[], None));
    let expected = contents(clean.path());
    let expected_files = published(clean.path())
        .into_iter()
        .filter(|f| !f.starts_with("_locks/"))
        .collect::<Vec<_>>();

    let mut killed = 0;
    for point in [
        1, 2, 3, 4, 6, 9, 12, 16, 20, 25, 30, 33, 34, 36, 40, 48, 56, 64, 72, 80, 88, 96, 100, 102,
        104,
    ] {
        let out = tempfile::tempdir().unwrap();
        // A previous good run, so that a crash has outputs to protect.
        ok(cvm_etl(out.path(), &[], None));
        let crashed = cvm_etl(out.path(), &[], Some(point));
        if crashed.status.success() {
            continue; // the run has fewer points than that
        }
        assert_eq!(
            crashed.status.code(),
            None,
            "point {point}: killed by a signal, not an exit"
        );
        killed += 1;
        ok(cvm_etl(out.path(), &[], None));
        assert_eq!(
            published(out.path()),
            expected_files,
            "point {point}: stray or missing files"
        );
        assert!(
            files(&out.path().join("_staging")).is_empty(),
            "point {point}: staging left behind"
        );
        assert_eq!(
            contents(out.path()),
            expected,
            "point {point}: outputs differ from a clean run"
        );
        let statuses: Vec<String> = manifests(out.path())
            .iter()
            .map(|m| m["status"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            statuses.len(),
            3,
            "point {point}: one manifest per run: {statuses:?}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| ["succeeded", "interrupted", "rolled_forward"].contains(&s.as_str())),
            "point {point}: {statuses:?}"
        );
    }
    assert!(killed >= 20, "only {killed} crash points were reached");
}

#[test]
fn a_reader_listing_partitions_during_a_rerun_sees_one_complete_file_each() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let out = tempfile::tempdir().unwrap();
    ok(cvm_etl(out.path(), &[], None));
    // Each partition folder with its row count: the rerun, on the same
    // inputs, writes the same rows.
    let folders: Vec<(PathBuf, usize)> = published(out.path())
        .iter()
        .filter(|f| f.ends_with("_SUCCESS") && !f.starts_with("report/"))
        .map(|f| {
            let folder = out.path().join(f).parent().unwrap().to_path_buf();
            let rows = row_count(&folder.join("part-00000.parquet"));
            (folder, rows)
        })
        .collect();
    assert!(folders.iter().any(|(_, rows)| *rows > 0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut looks = 0;
            while !stop.load(Ordering::SeqCst) {
                for (folder, expected) in &folders {
                    // What a glob like `**/*.parquet` (DuckDB, Spark) matches.
                    let data: Vec<PathBuf> = std::fs::read_dir(folder)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                        .collect();
                    assert_eq!(data.len(), 1, "{}: {data:?}", folder.display());
                    assert_eq!(row_count(&data[0]), *expected, "{}", folder.display());
                    looks += 1;
                }
            }
            looks
        })
    };
    ok(cvm_etl(out.path(), &[], None));
    stop.store(true, Ordering::SeqCst);
    let looks = reader
        .join()
        .expect("the reader saw a half-written or doubled partition");
    assert!(looks > 0);
}

#[test]
fn a_panic_becomes_exit_1_with_a_failed_manifest_and_the_lock_released() {
    let out = tempfile::tempdir().unwrap();
    ok(cvm_etl(out.path(), &[], None));
    let good = latest_run(out.path());
    // Point 20: while staging the model's outputs.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cvm-etl"));
    cmd.args(["run", "pipelines/sample.yaml", "--output"])
        .arg(out.path())
        .env("CVM_ETL_PANIC_AT", "20");
    let panicked = cmd.output().unwrap();
    assert_eq!(panicked.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&panicked.stderr);
    assert!(stderr.contains("internal error"), "{stderr}");
    assert!(
        !out.path().join("_locks/output.json").exists(),
        "the lock is released"
    );
    let failed: Vec<serde_json::Value> = manifests(out.path())
        .into_iter()
        .filter(|m| m["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["exit_code"], 1);
    assert_eq!(latest_run(out.path()), good);
    // What it staged is rolled back by the next run.
    ok(cvm_etl(out.path(), &[], None));
    assert!(files(&out.path().join("_staging")).is_empty());
}

#[test]
fn a_truncated_delivery_fails_the_volume_check_naming_both_counts() {
    let input = tempfile::tempdir().unwrap();
    support::copy_dir(Path::new("examples/sample"), input.path());
    let out = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
            .args(["run", "pipelines/sample.yaml", "--input"])
            .arg(input.path())
            .arg("--output")
            .arg(out.path())
            .args(extra)
            .output()
            .unwrap()
    };
    ok(run(&["--as-of", "2026-09-30"]));
    // October's run finds most of the year's billing gone.
    for entry in std::fs::read_dir(input.path().join("billing")).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().contains("dt=2026-1") {
            std::fs::remove_dir_all(path).unwrap();
        }
    }
    let truncated = run(&[]);
    assert_eq!(truncated.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&truncated.stderr);
    let before = support::manifests(out.path(), "2026-09-30")
        .into_values()
        .next()
        .unwrap()["sources"]["billing"]["rows_accepted"]
        .as_u64()
        .unwrap();
    for part in [
        "max_volume_drop",
        "billing",
        &before.to_string(),
        "2026-09-30",
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    assert!(!out.path().join("customer_value/as_of=2026-10-31").exists());
    ok(run(&["--set", "max_volume_drop=1"]));
}

/// The rows of a Parquet file, read to the end.
fn row_count(file: &Path) -> usize {
    let file = std::fs::File::open(file).unwrap();
    parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 1024)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum()
}

#[test]
fn a_panic_after_the_commit_point_is_finished_by_the_next_run() {
    let out = tempfile::tempdir().unwrap();
    ok(cvm_etl(out.path(), &[], None));
    // Point 40: the second partition's copy is published.
    let panicked = run_sample_with(out.path(), &[], &[("CVM_ETL_PANIC_AT", "40".to_owned())]);
    assert_eq!(panicked.status.code(), Some(1));
    assert!(
        !files(&out.path().join("_staging")).is_empty(),
        "committed staging kept"
    );
    ok(cvm_etl(out.path(), &["--as-of", "2026-09-30"], None));
    let statuses: Vec<String> = manifests(out.path())
        .iter()
        .map(|m| m["status"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        statuses.contains(&"rolled_forward".to_owned()),
        "{statuses:?}"
    );
    let rolled = manifests(out.path())
        .into_iter()
        .find(|m| m["status"] == "rolled_forward")
        .unwrap();
    assert_eq!(latest_run(out.path()), rolled["run_id"].as_str().unwrap());
    assert_eq!(
        success_run(
            out.path(),
            "customer_value/as_of=2026-10-31/pyramid_tier=MVC"
        ),
        rolled["run_id"].as_str().unwrap()
    );
}

#[test]
fn the_shared_scratch_of_a_run_that_died_is_removed_by_the_next_run() {
    let out = tempfile::tempdir().unwrap();
    let dead = out
        .path()
        .join("_scratch/20261101T000000Z-deadbeef/staged_billing");
    std::fs::create_dir_all(&dead).unwrap();
    std::fs::write(dead.join("part.parquet"), b"left by a killed run").unwrap();
    ok(cvm_etl(out.path(), &[], None));
    assert!(files(&out.path().join("_scratch")).is_empty());
    assert!(!dead.exists(), "its folders go too");
}
