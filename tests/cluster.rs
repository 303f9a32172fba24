//! The sample pipeline on a cluster (docs/scale-out.md): a scheduler and
//! two executors started in this test's process on 127.0.0.1, the driver
//! the binary with `--engine ballista://…`; every published table equals a
//! local run's, row for row. (`.ci/run` also runs the three roles as
//! processes of their own, with the data on an S3 server.)

use crate::support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cvm_etl::cluster;
use cvm_etl::config::Endpoint;

fn endpoint(at: SocketAddr) -> Endpoint {
    Endpoint {
        host: at.ip().to_string(),
        port: at.port(),
    }
}

/// Starts a scheduler and `executors` executors on `runtime`; the
/// scheduler's address once every executor accepts connections.
fn start_cluster(runtime: &tokio::runtime::Runtime, executors: usize, work: &Path) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let bind = Endpoint {
            host: "127.0.0.1".to_owned(),
            port: 0,
        };
        let served = cluster::scheduler::serve(&bind, |at| tx.send(at).unwrap()).await;
        panic!("the scheduler stopped: {served:?}");
    });
    let scheduler = rx.recv_timeout(Duration::from_secs(60)).unwrap();
    for n in 0..executors {
        let bind = endpoint(SocketAddr::from(([127, 0, 0, 1], support::free_port())));
        let options = cluster::executor::Options {
            scheduler: endpoint(scheduler),
            bind: bind.clone(),
            work_dir: work.join(format!("executor-{n}")),
            memory_limit: Some(1 << 30),
        };
        runtime.spawn(cluster::executor::serve(options));
        support::wait_listening(bind.port, Duration::from_secs(60), || {
            format!("executor {n}")
        });
    }
    scheduler
}

/// A scheduler and two executors in this process, on their own runtime,
/// shut down when dropped.
struct InProcess {
    runtime: Option<tokio::runtime::Runtime>,
    scheduler: SocketAddr,
    _work: tempfile::TempDir,
}

impl InProcess {
    fn start() -> InProcess {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        let work = tempfile::tempdir().unwrap();
        let scheduler = start_cluster(&runtime, 2, work.path());
        InProcess {
            runtime: Some(runtime),
            scheduler,
            _work: work,
        }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs the sample into `output` with `extra` flags, killed after `limit`.
fn run_sample_within(output: &Path, extra: &[&str], limit: Duration) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args([
            "run",
            "pipelines/sample.yaml",
            "--log-format",
            "text",
            "--output",
        ])
        .arg(output)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let log = std::fs::read_to_string(log.path()).unwrap();
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("the run failed ({s}):\n{log}"),
        None => panic!("the run took more than {limit:?}:\n{log}"),
    }
}

#[test]
fn the_sample_on_a_cluster_publishes_what_a_local_run_publishes() {
    let running = InProcess::start();
    let scheduler = running.scheduler;

    let local = tempfile::tempdir().unwrap();
    run_sample_within(
        local.path(),
        &["--engine", "local"],
        Duration::from_secs(300),
    );
    let clustered = tempfile::tempdir().unwrap();
    let engine = format!("ballista://{scheduler}");
    run_sample_within(
        clustered.path(),
        &["--engine", &engine],
        Duration::from_secs(600),
    );

    let expected = support::contents(local.path());
    let got = support::contents(clustered.path());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (partition, rows) in &expected {
        assert_eq!(&got[partition], rows, "{partition}");
    }
    let manifest = support::manifest_of(clustered.path());
    assert_eq!(manifest["parameters"]["engine"], engine);
    assert!(
        support::files(&clustered.path().join("_scratch")).is_empty(),
        "the run's shared scratch is removed when it ends"
    );
    let inputs = manifest["inputs"].as_array().unwrap().len() as u64;
    let cache = &manifest["cache"];
    assert_eq!(
        (cache["hits"].as_u64(), cache["misses"].as_u64()),
        (Some(0), Some(inputs))
    );

    // Again: every file's staging comes from the cache the executors kept.
    run_sample_within(
        clustered.path(),
        &["--engine", &engine],
        Duration::from_secs(600),
    );
    let latest = support::latest(clustered.path(), "2026-10-31").unwrap();
    let again = &support::manifests(clustered.path(), "2026-10-31")[&latest];
    assert_ne!(again["run_id"], manifest["run_id"]);
    let cache = &again["cache"];
    assert_eq!(
        (cache["hits"].as_u64(), cache["misses"].as_u64()),
        (Some(inputs), Some(0))
    );
    let got = support::contents(clustered.path());
    for (partition, rows) in &expected {
        assert_eq!(&got[partition], rows, "{partition}");
    }
}

#[test]
fn a_file_an_executor_cannot_read_fails_the_run_as_it_would_locally() {
    let running = InProcess::start();
    let scheduler = running.scheduler;
    let input = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample");
    support::copy_dir(&sample, input.path());
    let broken = input.path().join("billing/dt=2026-10-25/billing-000.csv");
    std::fs::write(&broken, "customer_id,dt\nC1,2026-10-25\n").unwrap();

    let engine = format!("ballista://{scheduler}");
    let input_flag = input.path().to_str().unwrap();
    let mut outcomes = Vec::new();
    for engine in ["local", engine.as_str()] {
        let out = tempfile::tempdir().unwrap();
        let o = support::run_sample(out.path(), &["--engine", engine, "--input", input_flag]);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let error = stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{engine}: no error line:\n{stderr}"))
            .to_owned();
        outcomes.push((o.status.code(), error));
    }
    assert_eq!(outcomes[0].0, Some(2), "{outcomes:?}");
    assert!(
        outcomes[0].1.contains("missing required column"),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], outcomes[0]);
}

/// One role of the binary, stopped by its pid (SIGTERM, then SIGKILL)
/// when dropped.
struct Role {
    child: std::process::Child,
    log: tempfile::NamedTempFile,
}

impl Role {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Role {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_cvm-etl"));
        command
            .args(args)
            .args(["--log-format", "text"])
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap());
        for (k, v) in env {
            command.env(k, v);
        }
        Role {
            child: command.spawn().unwrap(),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: a plain kill(2) of our own child's pid.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.wait();
    }
}

/// The input files the manifest of the one run under `prefix` lists.
async fn inputs_of_run(s3: &std::sync::Arc<dyn object_store::ObjectStore>, prefix: &str) -> usize {
    use object_store::ObjectStoreExt;
    let runs: Vec<String> = crate::s3::keys(s3, &format!("{prefix}/_runs"))
        .await
        .into_iter()
        .filter(|k| k.ends_with(".json") && !k.ends_with("latest.json"))
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let bytes = s3
        .get(&object_store::path::Path::from(runs[0].as_str()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    manifest["inputs"].as_array().unwrap().len()
}

/// The published partitions under `prefix` of the store, with their rows
/// (every part file of a partition, in name order; the report left out).
async fn s3_contents(
    s3: &std::sync::Arc<dyn object_store::ObjectStore>,
    prefix: &str,
) -> std::collections::BTreeMap<String, Vec<String>> {
    use object_store::ObjectStoreExt;
    let mut contents = std::collections::BTreeMap::<String, Vec<String>>::new();
    for key in crate::s3::keys(s3, prefix).await {
        let relative = &key[prefix.len() + 1..];
        let Some((partition, _file)) = relative.rsplit_once('/') else {
            continue;
        };
        if !key.ends_with(".parquet")
            || relative.starts_with('_')
            || relative.starts_with("report/")
        {
            continue;
        }
        let bytes = s3
            .get(&object_store::path::Path::from(key.as_str()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        contents
            .entry(partition.to_owned())
            .or_default()
            .extend(support::rows_of_bytes(bytes));
    }
    contents
}

#[tokio::test(flavor = "multi_thread")]
async fn three_processes_on_s3_publish_what_a_local_run_publishes() {
    let Some(moto) = crate::s3::start_moto() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}", moto.port);
    let s3 = crate::s3::store(&endpoint);
    crate::s3::upload_sample(&s3).await;
    // Every role's credentials from its own environment.
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ];

    let mut scheduler = Role::start(&["scheduler", "--bind", "127.0.0.1:0"], &env);
    let mut line = String::new();
    let stdout = scheduler.child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let at = line
        .trim()
        .strip_prefix("scheduler listening on ")
        .unwrap_or_else(|| panic!("{line}{}", scheduler.log()))
        .to_owned();
    let work = tempfile::tempdir().unwrap();
    let executors: Vec<Role> = (0..2)
        .map(|n| {
            let port = support::free_port();
            let bind = format!("127.0.0.1:{port}");
            let dir = work.path().join(format!("executor-{n}"));
            let role = Role::start(
                &[
                    "executor",
                    "--scheduler",
                    &at,
                    "--bind",
                    &bind,
                    "--work-dir",
                    dir.to_str().unwrap(),
                    "--memory-limit",
                    "1GiB",
                ],
                &env,
            );
            support::wait_listening(port, Duration::from_secs(60), || {
                format!("executor {n}:\n{}", role.log())
            });
            role
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let pipeline = crate::s3::pipeline(dir.path(), &endpoint);
    let owned: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let drive = |engine: String, output: &str| {
        let pipeline = pipeline.clone();
        let env = owned.clone();
        let output = format!("s3://{}/{output}", crate::s3::BUCKET);
        let run = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
                .arg("run")
                .arg(&pipeline)
                .args(["--engine", &engine, "--output", &output])
                .args(["--log-format", "text"])
                .envs(env)
                .output()
                .unwrap()
        });
        async move {
            tokio::time::timeout(Duration::from_secs(600), run)
                .await
                .expect("a run took more than 10 minutes")
                .unwrap()
        }
    };
    let clustered = drive(format!("ballista://{at}"), "cluster").await;
    assert!(
        clustered.status.success(),
        "{}\n-- scheduler\n{}\n-- executors\n{}",
        String::from_utf8_lossy(&clustered.stderr),
        scheduler.log(),
        executors.iter().map(Role::log).collect::<String>()
    );
    let log = String::from_utf8_lossy(&clustered.stderr);
    let shared = format!(
        "scratch tables shared at s3://{}/cluster/_scratch/",
        crate::s3::BUCKET
    );
    assert!(log.contains(&shared), "{log}");
    let read: usize = executors
        .iter()
        .flat_map(|e| {
            let log = e.log();
            let lines: Vec<usize> = log
                .lines()
                .filter_map(|l| {
                    l.split("read ")
                        .nth(1)?
                        .split(" files (group")
                        .next()?
                        .parse()
                        .ok()
                })
                .collect();
            lines
        })
        .sum();
    let inputs = inputs_of_run(&s3, "cluster").await;
    assert!(inputs > 10, "{inputs}");
    assert_eq!(read, inputs, "every input file read once, by an executor");
    let local = drive("local".to_owned(), "local").await;
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );

    let expected = s3_contents(&s3, "local").await;
    let got = s3_contents(&s3, "cluster").await;
    assert!(expected.len() > 20, "{:?}", expected.keys());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (partition, rows) in &expected {
        assert_eq!(&got[partition], rows, "{partition}");
    }
    let left = crate::s3::keys(&s3, "cluster/_scratch").await;
    assert!(left.is_empty(), "the run's scratch is removed: {left:?}");
    drop(executors);
    drop(scheduler);
}

#[test]
fn an_unreachable_scheduler_is_exit_5_naming_it_and_publishes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let at = format!("127.0.0.1:{}", support::free_port());
    let engine = format!("ballista://{at}");
    let o = support::run_sample(out.path(), &["--engine", &engine]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach the scheduler at {at}")),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(support::published(out.path()).is_empty());
    assert_eq!(support::manifest_of(out.path())["status"], "failed");
}
