//! What a run tells the machines that watch it, as local files written at
//! the end of every run, success or failure: a JSON result for the
//! orchestrator (`--results-file`, its schema in `docs/results.schema.json`)
//! and Prometheus metrics for the node exporter's textfile collector
//! (`--metrics-file`). Both are written to a temporary file beside the
//! target and renamed over it, so a reader never sees half a file.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::run::RunReport;

/// The version of the results file's shape; raised when a field changes
/// meaning or goes away (adding one does not).
pub const RESULTS_SCHEMA_VERSION: u32 = 1;

/// How a run ended, as the signals tell it.
pub struct Ending<'a> {
    /// The pipeline's name (its file name when it could not be read).
    pub pipeline: &'a str,
    pub exit_code: u8,
    /// One line; never holds input data.
    pub error: Option<String>,
    /// The run's report, when it got as far as writing a manifest.
    pub report: Option<&'a RunReport>,
    pub ended_at: DateTime<Utc>,
    pub seconds: f64,
}

impl Ending<'_> {
    fn status(&self) -> String {
        match (self.report, self.exit_code) {
            (Some(r), _) => {
                let status = serde_json::to_value(r.manifest.status).unwrap_or_default();
                status.as_str().unwrap_or("failed").to_owned()
            }
            (None, 0) => "succeeded".to_owned(),
            (None, _) => "failed".to_owned(),
        }
    }
}

/// The results file: one JSON object.
pub fn results(ending: &Ending) -> serde_json::Value {
    let manifest = ending.report.map(|r| &r.manifest);
    json!({
        "schema_version": RESULTS_SCHEMA_VERSION,
        "pipeline": ending.pipeline,
        "status": ending.status(),
        "exit_code": ending.exit_code,
        "error": ending.error,
        "run_id": ending.report.map(|r| &r.run_id),
        "as_of": manifest.map(|m| m.as_of.to_string()),
        "output": ending.report.map(|r| &r.output),
        "manifest_url": ending.report.and_then(|r| r.manifest_path.as_ref()),
        "ended_at": crate::calendar::timestamp(ending.ended_at),
        "seconds": ending.seconds,
        "sources": manifest.map(|m| &m.sources),
        "outputs": manifest.map(|m| {
            m.outputs
                .iter()
                .map(|o| json!({"table": o.table, "partition": o.partition, "rows": o.rows}))
                .collect::<Vec<_>>()
        }),
        "stages": manifest.map(|m| &m.stages),
        "warnings": manifest.map(|m| &m.warnings),
    })
}

/// The metrics in Prometheus' text format. `last_success` is the end of
/// the last successful run, carried over from the previous file when this
/// run failed, so that "no success for 26 hours" can be alerted on.
pub fn metrics(ending: &Ending, last_success: Option<f64>) -> String {
    let mut text = String::new();
    let pipeline = [("pipeline", ending.pipeline)];
    let ended = ending.ended_at.timestamp_millis() as f64 / 1000.0;
    gauge(
        &mut text,
        "last_run_timestamp_seconds",
        "When the last run ended.",
    );
    sample(&mut text, "last_run_timestamp_seconds", &pipeline, ended);
    gauge(
        &mut text,
        "last_run_exit_code",
        "The last run's exit code (0: success).",
    );
    sample(
        &mut text,
        "last_run_exit_code",
        &pipeline,
        f64::from(ending.exit_code),
    );
    gauge(
        &mut text,
        "last_run_duration_seconds",
        "How long the last run took.",
    );
    sample(
        &mut text,
        "last_run_duration_seconds",
        &pipeline,
        ending.seconds,
    );
    let success = if ending.exit_code == 0 {
        Some(ended)
    } else {
        last_success
    };
    if let Some(success) = success {
        gauge(
            &mut text,
            "last_success_timestamp_seconds",
            "When the last successful run ended.",
        );
        sample(
            &mut text,
            "last_success_timestamp_seconds",
            &pipeline,
            success,
        );
    }
    if let Some(manifest) = ending.report.map(|r| &r.manifest) {
        gauge(
            &mut text,
            "stage_duration_seconds",
            "Time per stage of the last run.",
        );
        for stage in &manifest.stages {
            let labels = [pipeline[0], ("stage", stage.stage.as_str())];
            sample(&mut text, "stage_duration_seconds", &labels, stage.seconds);
        }
        source_metrics(&mut text, ending.pipeline, manifest);
        gauge(
            &mut text,
            "published_partitions",
            "Partitions the last run published.",
        );
        sample(
            &mut text,
            "published_partitions",
            &pipeline,
            manifest.outputs.len() as f64,
        );
    }
    text
}

fn source_metrics(text: &mut String, pipeline: &str, manifest: &crate::manifest::Manifest) {
    for (name, help) in [
        ("rows_read", "Rows the last run read, per source."),
        ("rows_accepted", "Rows the last run accepted, per source."),
    ] {
        gauge(text, name, help);
        for (source, counts) in &manifest.sources {
            let value = match name {
                "rows_read" => counts.rows_read,
                _ => counts.rows_accepted,
            };
            let labels = [("pipeline", pipeline), ("source", source.as_str())];
            sample(text, name, &labels, value as f64);
        }
    }
    gauge(
        text,
        "rows_rejected",
        "Rows the last run rejected, per source and reason.",
    );
    for (source, counts) in &manifest.sources {
        for (reason, n) in &counts.rejected_by_reason {
            let labels = [
                ("pipeline", pipeline),
                ("source", source.as_str()),
                ("reason", reason.as_str()),
            ];
            sample(text, "rows_rejected", &labels, *n as f64);
        }
    }
}

fn gauge(text: &mut String, name: &str, help: &str) {
    let _ = writeln!(text, "# HELP cvm_etl_{name} {help}");
    let _ = writeln!(text, "# TYPE cvm_etl_{name} gauge");
}

fn sample(text: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    let _ = writeln!(text, "cvm_etl_{name}{{{}}} {value}", labels.join(","));
}

/// A label value as the text format writes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The last success a previous metrics file recorded, if any.
pub fn previous_success(path: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter(|l| l.starts_with("cvm_etl_last_success_timestamp_seconds"))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// Writes `text` to `path` through a temporary file renamed over it.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "signal".to_owned(), |n| n.to_string_lossy().into_owned());
    // A leading dot: the textfile collector reads only `*.prom`.
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed_at_load() -> Ending<'static> {
        Ending {
            pipeline: "night\"ly",
            exit_code: 2,
            error: Some("p.yaml:3:1: unknown field".into()),
            report: None,
            ended_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            seconds: 0.25,
        }
    }

    #[test]
    fn a_failed_run_keeps_the_last_success_and_says_its_exit_code() {
        let text = metrics(&failed_at_load(), Some(1_799_990_000.5));
        assert!(text.contains("cvm_etl_last_run_exit_code{pipeline=\"night\\\"ly\"} 2\n"));
        assert!(text.contains(
            "cvm_etl_last_success_timestamp_seconds{pipeline=\"night\\\"ly\"} 1799990000.5\n"
        ));
        assert!(text.contains("# TYPE cvm_etl_last_run_timestamp_seconds gauge\n"));
    }

    #[test]
    fn the_last_success_is_read_back_from_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cvm.prom");
        write_atomically(&path, &metrics(&failed_at_load(), Some(42.0))).unwrap();
        assert_eq!(previous_success(&path), Some(42.0));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_run_that_never_started_is_a_failed_result_without_counts() {
        let r = results(&failed_at_load());
        assert_eq!(r["schema_version"], 1);
        assert_eq!(r["status"], "failed");
        assert_eq!(r["exit_code"], 2);
        assert!(r["run_id"].is_null() && r["sources"].is_null());
    }
}
