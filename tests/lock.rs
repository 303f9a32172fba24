//! The output's lock (docs/publishing.md#the-lock): one lock per output
//! location, held by a run id under a lease the run renews; a run never deletes
//! a lock it does not hold, a run that lost its lock does not commit, and of N
//! runs racing for one stale lock exactly one wins.

use std::time::Duration;

use cvm_etl::lock::{self, LOCK};
use cvm_etl::storage::{Location, Storage};

fn output(dir: &std::path::Path) -> Location {
    Storage::new(Default::default())
        .location(dir.to_str().unwrap())
        .unwrap()
}

fn write_holder(dir: &std::path::Path, run_id: &str, expires_at: &str) {
    let path = dir.join(LOCK);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let holder = serde_json::json!({
        "run_id": run_id, "as_of": "2026-10-31", "host": "batch-7", "pid": 4242,
        "started_at": "2026-11-01T00:00:00.000Z", "expires_at": expires_at,
    });
    std::fs::write(path, holder.to_string()).unwrap();
}

fn holder_of(dir: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(LOCK)).unwrap()).unwrap()
}

const LEASE: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_n_runs_racing_for_one_stale_lock_exactly_one_wins() {
    for round in 0..25 {
        let dir = tempfile::tempdir().unwrap();
        write_holder(dir.path(), "dead", "2026-11-01T06:00:00.000Z");
        let out = output(dir.path());
        let racers = (0..8).map(|i| {
            let out = out.clone();
            tokio::spawn(async move {
                lock::acquire(&out, &format!("racer-{i}"), "2026-10-31", LEASE).await
            })
        });
        let results = futures::future::join_all(racers).await;
        let mut winners = Vec::new();
        for result in results {
            match result.unwrap() {
                Ok((held, replaced)) => {
                    assert_eq!(replaced.unwrap().run_id, "dead");
                    winners.push(held);
                }
                Err(e) => assert_eq!(e.exit_code(), 6, "{e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {} winners", winners.len());
        let winner = winners.pop().unwrap();
        let name = winner.holder().unwrap().run_id;
        assert_eq!(holder_of(dir.path())["run_id"], name.as_str());
        winner.release().await.unwrap();
        assert!(!dir.path().join(LOCK).exists());
    }
}

#[tokio::test]
async fn a_live_lock_is_refused_with_exit_6_naming_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    write_holder(dir.path(), "holder01", "2999-01-01T00:00:00.000Z");
    let Err(refused) = lock::acquire(&output(dir.path()), "us", "2026-10-31", LEASE).await else {
        panic!("a live lock was taken");
    };
    assert_eq!(refused.exit_code(), 6);
    assert!(refused.to_string().contains("holder01"), "{refused}");
    assert_eq!(holder_of(dir.path())["run_id"], "holder01");
}

#[tokio::test]
async fn a_run_never_deletes_a_lock_it_does_not_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (held, _) = lock::acquire(&output(dir.path()), "us", "2026-10-31", LEASE)
        .await
        .unwrap();
    // Another run took it over (our lease ran out while we were stopped).
    write_holder(dir.path(), "them", "2999-01-01T00:00:00.000Z");
    held.release().await.unwrap();
    assert_eq!(holder_of(dir.path())["run_id"], "them");
}

#[tokio::test]
async fn a_run_that_lost_its_lock_does_not_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (held, _) = lock::acquire(&output(dir.path()), "us", "2026-10-31", LEASE)
        .await
        .unwrap();
    assert!(held.ensure_held().await.is_ok());
    write_holder(dir.path(), "them", "2999-01-01T00:00:00.000Z");
    let fenced = held.ensure_held().await.unwrap_err();
    assert_eq!(fenced.exit_code(), 6, "{fenced}");
    held.release().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_run_renews_its_lease() {
    let dir = tempfile::tempdir().unwrap();
    let out = output(dir.path());
    let lease = Duration::from_secs(2);
    let (held, _) = lock::acquire(&out, "long", "2026-10-31", lease)
        .await
        .unwrap();
    let first = holder_of(dir.path())["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    // Past the first lease: still ours, renewed, and refused to others.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let renewed = holder_of(dir.path())["expires_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(renewed > first, "{renewed} <= {first}");
    assert!(held.ensure_held().await.is_ok());
    let other = lock::acquire(&out, "other", "2026-10-31", lease).await;
    assert_eq!(other.err().map(|e| e.exit_code()), Some(6));
    held.release().await.unwrap();
}
