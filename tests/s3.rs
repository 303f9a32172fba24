//! The whole job against a real S3 server (moto's, on 127.0.0.1) through
//! object_store's S3 client: inputs on s3://, outputs on s3://, the lock's
//! conditional create, and a store that fails now and then.

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

pub const BUCKET: &str = "cvm-test";

/// A moto S3 server on a free port, stopped on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_moto() -> Option<Moto> {
    let port = support::free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    moto_started(child, port)
}

/// moto serving one request at a time. Its threaded server checks a
/// precondition (If-None-Match, If-Match) and writes the object in two
/// steps, so two racing conditional writes can both pass; S3 itself checks
/// and writes atomically, which one thread reproduces.
fn start_moto_single_threaded() -> Option<Moto> {
    let port = support::free_port();
    let serve = "import sys\n\
from werkzeug.serving import run_simple\n\
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app\n\
run_simple('127.0.0.1', int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False)\n";
    let child = Command::new("python3")
        .args(["-c", serve, &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    moto_started(child, port)
}

fn moto_started(child: std::io::Result<Child>, port: u16) -> Option<Moto> {
    let Ok(child) = child else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install moto[server]"
        );
        eprintln!("skipped: moto_server not found (pip install 'moto[server]')");
        return None;
    };
    let moto = Moto { child, port };
    support::wait_listening(port, Duration::from_secs(30), || "moto_server".to_owned());
    http(
        port,
        &format!(
            "PUT /{BUCKET} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    Some(moto)
}

fn http(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}

pub fn store(endpoint: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_bucket_name(BUCKET)
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .unwrap(),
    )
}

pub async fn upload_sample(store: &Arc<dyn ObjectStore>) {
    for file in walk(std::path::Path::new("examples/sample")) {
        let relative = file
            .strip_prefix("examples/sample")
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let bytes = std::fs::read(&file).unwrap();
        store
            .put(
                &Path::from(format!("in/{relative}")),
                PutPayload::from(bytes),
            )
            .await
            .unwrap();
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub fn pipeline(dir: &std::path::Path, endpoint: &str) -> std::path::PathBuf {
    let text = format!(
        "name: s3\ninput: s3://{BUCKET}/in\noutput: s3://{BUCKET}/out\nas_of: 2026-10-31\n\
         sources:\n  customers: {{encoding: gb18030}}\n\
         storage_options:\n  aws_endpoint: {endpoint}\n  aws_allow_http: \"true\"\n  aws_region: us-east-1\n"
    );
    let path = dir.join("s3.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn cvm_etl(pipeline: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .arg("run")
        .arg(pipeline)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

pub async fn keys(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = store
        .list(Some(&Path::from(prefix)))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread")]
async fn the_job_runs_with_inputs_and_outputs_on_s3() {
    let Some(moto) = start_moto() else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let s3 = store(&endpoint);
    upload_sample(&s3).await;
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(dir.path(), &endpoint);

    let first = cvm_etl(&pipeline);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let published = keys(&s3, "out/customer_value").await;
    assert_eq!(
        published
            .iter()
            .filter(|k| k.ends_with("part-00000.parquet"))
            .count(),
        4,
        "{published:?}"
    );
    assert_eq!(
        published.iter().filter(|k| k.ends_with("_SUCCESS")).count(),
        4
    );
    assert!(keys(&s3, "out/_staging").await.is_empty());
    assert!(
        keys(&s3, "out/_locks").await.is_empty(),
        "the lock is released"
    );

    // A rerun replaces the same partitions: still one file each.
    let second = cvm_etl(&pipeline);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(keys(&s3, "out/customer_value").await.len(), 8);
    let runs = keys(&s3, "out/_runs/as_of=2026-10-31").await;
    assert_eq!(runs.len(), 3, "two manifests and latest.json: {runs:?}");

    // The rerun took every file's checked rows from the staging cache,
    // which the first run uploaded to the output's _cache/.
    let json = |key: String| {
        let s3 = Arc::clone(&s3);
        async move {
            let got = s3.get(&Path::from(key)).await.unwrap();
            serde_json::from_slice::<serde_json::Value>(&got.bytes().await.unwrap()).unwrap()
        }
    };
    let folder = "out/_runs/as_of=2026-10-31";
    let latest = json(format!("{folder}/latest.json")).await;
    let manifest = json(format!(
        "{folder}/{}.json",
        latest["run_id"].as_str().unwrap()
    ))
    .await;
    let inputs = manifest["inputs"].as_array().unwrap().len() as u64;
    assert_eq!(manifest["cache"]["hits"], inputs, "{}", manifest["cache"]);
    assert_eq!(manifest["cache"]["misses"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_is_a_conditional_create_on_s3() {
    let Some(moto) = start_moto() else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let s3 = store(&endpoint);
    upload_sample(&s3).await;
    let holder = serde_json::json!({
        "run_id": "20261101T000000Z-holder01", "host": "batch-7", "pid": 1,
        "started_at": "2026-11-01T00:00:00.000Z", "expires_at": "2999-01-01T00:00:00.000Z",
    });
    let lock = Path::from("out/_locks/output.json");
    s3.put(&lock, PutPayload::from(holder.to_string().into_bytes()))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let refused = cvm_etl(&pipeline(dir.path(), &endpoint));
    assert_eq!(
        refused.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("20261101T000000Z-holder01"));
}

/// A TCP proxy in front of moto that misbehaves on a fixed schedule of new
/// connections: every fifth answers 503 SlowDown after reading the whole
/// request, every fifth (shifted) starts slowly. Everything else is passed
/// through untouched. Every fault is one the store client retries, so the
/// run must succeed.
fn flaky_proxy(upstream: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(mut client) = client else { continue };
            match n % 5 {
                1 => {
                    std::thread::spawn(move || {
                        read_request(&mut client);
                        let _ = client.write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    });
                }
                n => {
                    if n == 3 {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        continue;
                    };
                    let (mut c2, mut s2) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let (mut client, mut server) = (client, server);
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut c2, &mut s2);
                        let _ = s2.shutdown(std::net::Shutdown::Write);
                    });
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut server, &mut client);
                        let _ = client.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        }
    });
    port
}

/// Reads one HTTP request: its head, then Content-Length bytes of body.
fn read_request(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let _ = std::io::copy(&mut stream.take(length as u64), &mut std::io::sink());
}

/// Every published Parquet object under `prefix`, by partition, as rows.
async fn s3_contents(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out = std::collections::BTreeMap::new();
    for key in keys(store, prefix).await {
        let relative = key.strip_prefix(&format!("{prefix}/")).unwrap().to_owned();
        if relative.starts_with('_') || !relative.ends_with(".parquet") {
            continue;
        }
        let rows = rows_of(store, &Path::from(key.as_str())).await;
        out.insert(relative, rows);
    }
    out
}

fn pipeline_to(dir: &std::path::Path, endpoint: &str, output: &str) -> std::path::PathBuf {
    let path = pipeline(dir, endpoint);
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("output: s3://{BUCKET}/out"),
        &format!("output: s3://{BUCKET}/{output}"),
    );
    let path = dir.join(format!("{output}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_faults_are_retried_and_end_in_the_healthy_runs_outputs() {
    let Some(moto) = start_moto() else { return };
    let direct = format!("http://127.0.0.1:{}", moto.port);
    let s3 = store(&direct);
    upload_sample(&s3).await;
    let flaky = format!("http://127.0.0.1:{}", flaky_proxy(moto.port));
    let dir = tempfile::tempdir().unwrap();
    let run = cvm_etl(&pipeline_to(dir.path(), &flaky, "out"));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(keys(&s3, "out/_staging").await.is_empty(), "{stderr}");
    let healthy = cvm_etl(&pipeline_to(dir.path(), &direct, "healthy"));
    assert!(healthy.status.success());
    let faulty = s3_contents(&s3, "out").await;
    assert!(faulty.len() > 30, "{:?}", faulty.keys());
    assert_eq!(faulty, s3_contents(&s3, "healthy").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_n_runs_racing_for_one_stale_lock_on_s3_exactly_one_wins() {
    use cvm_etl::lock::{self, LOCK};
    let Some(moto) = start_moto_single_threaded() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let s3 = store(&endpoint);
    let options = [
        ("aws_endpoint", endpoint.as_str()),
        ("aws_allow_http", "true"),
        ("aws_region", "us-east-1"),
        ("aws_access_key_id", "test"),
        ("aws_secret_access_key", "test"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let storage = cvm_etl::storage::Storage::new(options.into_iter().collect());
    let out = storage.location(&format!("s3://{BUCKET}/race")).unwrap();
    for round in 0..10 {
        let stale = serde_json::json!({
            "run_id": "dead", "as_of": "2026-10-31", "host": "batch-7", "pid": 1,
            "started_at": "2026-11-01T00:00:00.000Z", "expires_at": "2026-11-01T06:00:00.000Z",
        });
        s3.put(
            &Path::from(format!("race/{LOCK}")),
            PutPayload::from(stale.to_string().into_bytes()),
        )
        .await
        .unwrap();
        let racers = (0..6).map(|i| {
            let out = out.clone();
            tokio::spawn(async move {
                lock::acquire(
                    &out,
                    &format!("racer-{i}"),
                    "2026-10-31",
                    Duration::from_secs(600),
                )
                .await
            })
        });
        let mut winners = Vec::new();
        for result in futures::future::join_all(racers).await {
            match result.unwrap() {
                Ok((held, _)) => winners.push(held),
                Err(e) => assert_eq!(e.exit_code(), 6, "{e}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        winners.pop().unwrap().release().await.unwrap();
        assert!(keys(&s3, "race/_locks").await.is_empty(), "round {round}");
    }
}

/// `cvm-etl run PIPELINE EXTRA...` with environment variables set.
fn cvm_etl_with(pipeline: &std::path::Path, extra: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cvm-etl"));
    cmd.arg("run")
        .arg(pipeline)
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The commit protocol (docs/publishing.md#recovery) on S3: a run with other
/// parameters fails or is killed at a step of the protocol; a run for another
/// date then finishes it (it had committed: its savings are live) or undoes it
/// (it had not: the good run's are), and a rerun gives a healthy run's outputs.
/// The points share one output: each point's rerun is the next point's good
/// run, so no point starts from an empty output (or a cold staging cache).
async fn interrupted_on_s3(hook: &str) {
    let Some(moto) = start_moto() else { return };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let s3 = store(&endpoint);
    upload_sample(&s3).await;
    let dir = tempfile::tempdir().unwrap();
    let healthy = pipeline_to(dir.path(), &endpoint, "healthy");
    assert!(cvm_etl(&healthy).status.success());
    let expected = s3_contents(&s3, "healthy").await;
    let savings_key = "retention_savings/as_of=2026-10-31/part-00000.parquet";
    // Points (see tests/commit.rs): the manifest, recovery, staging, the
    // plan, the commit record, a partition's copy and its marker, the
    // report's marker, the final manifest, latest.json, cleanup.
    let output = hook.to_ascii_lowercase();
    let pipeline = pipeline_to(dir.path(), &endpoint, &output);
    assert!(cvm_etl(&pipeline).status.success());
    for (point, committed) in [
        (1, false),
        (2, false),
        (6, false),
        (37, false),
        (38, true),
        (41, true),
        (42, true),
        (106, true),
        (107, true),
        (108, true),
        (109, true),
    ] {
        let broken = cvm_etl_with(
            &pipeline,
            &["--set", "acquisition_cost=600"],
            &[(hook, point.to_string())],
        );
        let code = broken.status.code();
        match hook {
            "CVM_ETL_CRASH_AT" => assert_eq!(code, None, "point {point}"),
            _ if point == 109 => assert_eq!(code, Some(0), "point {point}"),
            _ => assert_eq!(code, Some(5), "point {point}"),
        }
        let next = cvm_etl_with(&pipeline, &["--as-of", "2026-09-30"], &[]);
        let stderr = String::from_utf8_lossy(&next.stderr);
        assert!(next.status.success(), "point {point}: {stderr}");
        let staging = keys(&s3, &format!("{output}/_staging")).await;
        assert!(staging.is_empty(), "point {point}: {staging:?}");
        let savings = rows_of(&s3, &Path::from(format!("{output}/{savings_key}"))).await;
        assert_eq!(
            savings != expected[savings_key],
            committed,
            "point {point}: rolled forward if and only if it had committed"
        );
        assert!(cvm_etl(&pipeline).status.success());
        let live = s3_contents(&s3, &output).await;
        for (partition, rows) in &expected {
            assert_eq!(
                live.get(partition),
                Some(rows),
                "point {point}: {partition}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_at_a_step_on_s3_is_finished_or_undone_by_the_next_run() {
    interrupted_on_s3("CVM_ETL_FAIL_AT").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_at_a_step_on_s3_is_finished_or_undone_by_the_next_run() {
    interrupted_on_s3("CVM_ETL_CRASH_AT").await;
}

/// A Parquet object's rows as sorted text lines.
async fn rows_of(store: &Arc<dyn ObjectStore>, path: &Path) -> Vec<String> {
    support::rows_of_bytes(store.get(path).await.unwrap().bytes().await.unwrap())
}

#[test]
fn a_store_that_stays_down_ends_the_run_with_exit_5_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let pipeline = pipeline(dir.path(), &dead);
    let text = std::fs::read_to_string(&pipeline).unwrap() + "storage_max_retries: 1\n";
    std::fs::write(&pipeline, text).unwrap();
    let run = cvm_etl(&pipeline);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("s3://cvm-test/"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
