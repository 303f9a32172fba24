//! Shared by the tests that drive the binary on the shipped sample.

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
