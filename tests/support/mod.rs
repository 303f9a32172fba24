//! Shared by the tests that drive the binary on the shipped sample; each
//! test file uses some of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// `cvm-etl run pipelines/sample.yaml --output OUTPUT EXTRA...`.
pub fn run_sample(output: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args(["run", "pipelines/sample.yaml", "--output"])
        .arg(output)
        .args(extra)
        .output()
        .unwrap()
}

/// The manifest of the (only) run of the sample's date.
pub fn manifest_of(output: &Path) -> serde_json::Value {
    let runs = output.join("_runs/as_of=2026-10-31");
    let entry = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| !p.ends_with("latest.json"))
        .unwrap();
    serde_json::from_slice(&std::fs::read(entry).unwrap()).unwrap()
}

/// `cvm-etl run pipelines/sample.yaml --output OUTPUT EXTRA...` with
/// environment variables set (the crash and failure hooks).
pub fn run_sample_with(output: &Path, extra: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cvm-etl"));
    cmd.args(["run", "pipelines/sample.yaml", "--output"])
        .arg(output)
        .args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The output, after asserting the command succeeded.
pub fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Every file under `root` as the filesystem lists it (hidden temporaries
/// included), relative, `/`-separated, sorted.
pub fn files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out.sort();
    out
}

/// Copies the folder `from` into `to`, recursively (an input to change).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// Data files and markers outside the bookkeeping folders.
pub fn published(root: &Path) -> Vec<String> {
    files(root)
        .into_iter()
        .filter(|f| {
            !["_runs/", "_staging/", "_locks/", "_cache/"]
                .iter()
                .any(|folder| f.starts_with(folder))
        })
        .collect()
}

/// The partition folders that carry `_SUCCESS`.
pub fn partitions(root: &Path) -> Vec<String> {
    published(root)
        .iter()
        .filter_map(|f| f.strip_suffix("/_SUCCESS").map(str::to_owned))
        .collect()
}

/// A partition's `_SUCCESS`: (run_id, as_of).
pub fn marker(root: &Path, partition: &str) -> (String, String) {
    let text = std::fs::read_to_string(root.join(partition).join("_SUCCESS")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    (
        m["run_id"].as_str().unwrap().to_owned(),
        m["as_of"].as_str().unwrap_or_default().to_owned(),
    )
}

/// A Parquet file's rows as sorted text lines.
pub fn rows(file: &Path) -> Vec<String> {
    rows_of_bytes(std::fs::read(file).unwrap().into())
}

/// A Parquet object's rows as sorted text lines.
pub fn rows_of_bytes(bytes: bytes::Bytes) -> Vec<String> {
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

/// Each published table partition's rows, by partition folder (the
/// report, a page that names its run, is left out).
pub fn contents(root: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    partitions(root)
        .into_iter()
        .filter(|p| !p.starts_with("report/"))
        .map(|p| {
            let rows = rows(&root.join(&p).join("part-00000.parquet"));
            (p, rows)
        })
        .collect()
}

/// The manifests of one date, by run id.
pub fn manifests(
    root: &Path,
    as_of: &str,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    files(&root.join(format!("_runs/as_of={as_of}")))
        .into_iter()
        .filter(|f| f.ends_with(".json") && f != "latest.json")
        .map(|f| {
            let text =
                std::fs::read_to_string(root.join(format!("_runs/as_of={as_of}/{f}"))).unwrap();
            let m: serde_json::Value = serde_json::from_str(&text).unwrap();
            (m["run_id"].as_str().unwrap_or_default().to_owned(), m)
        })
        .collect()
}

/// The run `latest.json` of a date names.
pub fn latest(root: &Path, as_of: &str) -> Option<String> {
    let text =
        std::fs::read_to_string(root.join(format!("_runs/as_of={as_of}/latest.json"))).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    Some(v["run_id"].as_str().unwrap().to_owned())
}

/// Runs a helper script (`python3 tests/X.py ...`, say) and reads the one
/// JSON object it prints, after asserting it succeeded.
pub fn script_json(command: &mut Command) -> serde_json::Value {
    let o = ok(command.output().unwrap());
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A port on 127.0.0.1 that nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on 127.0.0.1:`port`, at most
/// `limit`; past it, fails with `what()` (a server's name, its log).
pub fn wait_listening(port: u16, limit: std::time::Duration, what: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "not listening on {port}: {}",
            what()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
