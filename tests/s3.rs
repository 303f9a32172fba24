//! The whole job against a real S3 server (moto's, on 127.0.0.1) through
//! object_store's S3 client: inputs on s3://, outputs on s3://, the lock's
//! conditional create, and a store that fails now and then.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

const BUCKET: &str = "cvm-test";

/// A moto S3 server on a free port, stopped on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_moto() -> Option<Moto> {
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install moto[server]"
        );
        eprintln!("skipped: moto_server not found (pip install 'moto[server]')");
        return None;
    };
    let moto = Moto { child, port };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
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

fn store(endpoint: &str) -> Arc<dyn ObjectStore> {
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

async fn upload_sample(store: &Arc<dyn ObjectStore>) {
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

fn pipeline(dir: &std::path::Path, endpoint: &str) -> std::path::PathBuf {
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

async fn keys(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
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
    let lock = Path::from("out/_locks/as_of=2026-10-31.json");
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
/// connections: a 503 SlowDown, a dropped connection, a slow start.
/// Everything else is passed through untouched.
fn flaky_proxy(upstream: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(mut client) = client else { continue };
            match n % 6 {
                1 => {
                    let mut head = [0u8; 1024];
                    let _ = client.read(&mut head);
                    let _ = client.write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
                3 => drop(client),
                n => {
                    if n == 5 {
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

#[tokio::test(flavor = "multi_thread")]
async fn transient_faults_end_in_a_correct_result_or_exit_5_with_nothing_published() {
    let Some(moto) = start_moto() else { return };
    let direct = format!("http://127.0.0.1:{}", moto.port);
    let s3 = store(&direct);
    upload_sample(&s3).await;
    let flaky = format!("http://127.0.0.1:{}", flaky_proxy(moto.port));
    let dir = tempfile::tempdir().unwrap();
    let run = cvm_etl(&pipeline(dir.path(), &flaky));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    match run.status.code() {
        Some(0) => {
            let published = keys(&s3, "out/customer_value").await;
            assert_eq!(published.len(), 8, "{published:?}");
            let staging = keys(&s3, "out/_staging").await;
            assert!(staging.is_empty(), "{staging:?}\n{stderr}");
            // The same rows as a run on a healthy store.
            let path = Path::from("out/retention_savings/as_of=2026-10-31/part-00000.parquet");
            let faulty = rows_of(&s3, &path).await;
            let healthy = cvm_etl(&pipeline(dir.path(), &direct));
            assert!(healthy.status.success());
            assert_eq!(faulty, rows_of(&s3, &path).await);
        }
        Some(5) => {
            assert!(
                keys(&s3, "out/customer_value").await.is_empty(),
                "exit 5 published nothing"
            );
            assert!(
                stderr.contains("127.0.0.1"),
                "the message names the URL: {stderr}"
            );
        }
        other => panic!("exit {other:?}: {stderr}"),
    }
}

/// A Parquet object's rows as sorted text lines.
async fn rows_of(store: &Arc<dyn ObjectStore>, path: &Path) -> Vec<String> {
    let bytes = store.get(path).await.unwrap().bytes().await.unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(bytes, 1024).unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
        .unwrap()
        .to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn a_store_that_stays_down_ends_the_run_with_exit_5_naming_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let pipeline = pipeline(dir.path(), &dead);
    let text = std::fs::read_to_string(&pipeline).unwrap() + "storage_max_retries: 1\n";
    std::fs::write(&pipeline, text).unwrap();
    let run = cvm_etl(&pipeline);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("s3://cvm-test/"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
