//! The binary on the shipped sample: the README's first command, checked.

use crate::support;

use std::process::Command;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use support::{files, manifest_of, ok, published, rows, run_sample};

#[test]
fn the_sample_pipeline_runs_and_accounts_for_every_row() {
    let out = tempfile::tempdir().unwrap();
    let o = run_sample(out.path(), &[]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{}\n{}",
        stdout,
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("billing"), "{stdout}");

    let m = manifest_of(out.path());
    assert_eq!(m["status"], "succeeded");
    assert_eq!(m["exit_code"], 0);
    for source in ["customers", "billing", "costs"] {
        let c = &m["sources"][source];
        let read = c["rows_read"].as_u64().unwrap();
        let accepted = c["rows_accepted"].as_u64().unwrap();
        let rejected = c["rows_rejected"].as_u64().unwrap();
        assert!(read > 0, "{source}");
        assert_eq!(read, accepted + rejected, "{source}");
        let by_reason: u64 = c["rejected_by_reason"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(by_reason, rejected, "{source}");
    }
    // The sample carries bad rows of several reasons on purpose.
    let billing_reasons = m["sources"]["billing"]["rejected_by_reason"]
        .as_object()
        .unwrap();
    for reason in [
        "bad_number",
        "bad_date",
        "missing_field",
        "bad_currency",
        "unknown_customer",
        "duplicate_key",
        "malformed_row",
    ] {
        assert!(
            billing_reasons.contains_key(reason),
            "billing lacks {reason}: {billing_reasons:?}"
        );
    }
    assert!(
        m["sources"]["billing"]["rows_out_of_scope"]
            .as_u64()
            .unwrap()
            > 0
    );
    let inputs = m["inputs"].as_array().unwrap();
    assert!(inputs.iter().any(|i| i["format"] == "parquet"));
    assert!(inputs.iter().any(|i| i["format"] == "ndjson"));
    assert!(inputs.iter().all(|i| i["size"].as_u64().unwrap() > 0));
    // Customers come from the latest snapshot only.
    let customer_files: Vec<_> = inputs
        .iter()
        .filter(|i| i["source"] == "customers")
        .collect();
    assert_eq!(customer_files.len(), 1);
    assert!(m["stages"].as_array().unwrap().len() >= 3);

    // No personal data anywhere in the manifest or in the rejected rows.
    assert!(
        !has_phone_number(&m.to_string()),
        "a phone number leaked into the manifest"
    );
    let folder = out
        .path()
        .join("rejected/as_of=2026-10-31/source=customers");
    let rejected = files(&folder)
        .iter()
        .filter(|f| f.ends_with(".parquet"))
        .flat_map(|f| rows(&folder.join(f)))
        .collect::<Vec<_>>()
        .join("\n");
    // The sample's two bad customers rows: one cut short (withheld), one
    // churning before it signed up (name and phone redacted).
    assert!(rejected.contains("<withheld>"), "{rejected}");
    assert!(
        rejected.contains("C9000002,<redacted>,<redacted>,上海,consumer,2024-05-01,2024-03-01"),
        "{rejected}"
    );
    assert!(!has_phone_number(&rejected), "{rejected}");
    // No name or phone of the snapshot, good rows or bad, is in them.
    let snapshot = std::fs::read("examples/sample/customers/dt=2026-10-31/customers.csv").unwrap();
    let (snapshot, _, _) = encoding_rs::GB18030.decode(&snapshot);
    let mut secrets = 0;
    for record in snapshot.lines().skip(1) {
        for secret in record.split(',').skip(1).take(2) {
            assert!(!secret.is_empty(), "{record}");
            assert!(
                !rejected.contains(secret),
                "{secret} is in the rejected rows"
            );
            secrets += 1;
        }
    }
    assert!(secrets > 500, "{secrets}");
}

/// Every table is Parquet compressed with zstd (docs/outputs.md#layout), and
/// none has a name or phone column.
#[test]
fn every_table_is_zstd_parquet_without_a_name_or_phone_column() {
    let out = tempfile::tempdir().unwrap();
    ok(run_sample(out.path(), &[]));
    let mut tables = std::collections::BTreeSet::new();
    let mut chunks = 0;
    for file in published(out.path())
        .iter()
        .filter(|f| f.ends_with(".parquet"))
    {
        let table = file.split('/').next().unwrap().to_owned();
        let reader = ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(out.path().join(file)).unwrap(),
        )
        .unwrap();
        for field in reader.schema().fields() {
            let column = field.name().to_ascii_lowercase();
            assert!(
                !column.contains("name") && !column.contains("phone"),
                "{file} has a column {column}"
            );
        }
        for group in reader.metadata().row_groups() {
            for chunk in group.columns() {
                assert!(
                    matches!(chunk.compression(), Compression::ZSTD(_)),
                    "{file} {}: {:?}",
                    chunk.column_path(),
                    chunk.compression()
                );
                chunks += 1;
            }
        }
        tables.insert(table);
    }
    assert!(chunks > 0);
    assert_eq!(
        tables.into_iter().collect::<Vec<_>>(),
        [
            "arpu",
            "churn_watchlist",
            "customer_month",
            "customer_value",
            "rejected",
            "retention_savings"
        ]
    );
}

#[test]
fn the_shipped_sample_is_what_the_generator_makes() {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args([
            "sample-data",
            "--customers",
            "300",
            "--months",
            "14",
            "--seed",
            "42",
            "--end-month",
            "2026-10",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shipped = std::path::Path::new("examples/sample");
    let mut compared = 0;
    for entry in walk(out.path()) {
        let relative = entry.strip_prefix(out.path()).unwrap();
        let ours = std::fs::read(&entry).unwrap();
        let theirs = std::fs::read(shipped.join(relative)).unwrap_or_default();
        assert!(
            ours == theirs,
            "examples/sample/{} differs from the generator's output",
            relative.display()
        );
        compared += 1;
    }
    assert!(compared > 10);
    assert_eq!(
        walk(shipped).len(),
        compared,
        "examples/sample holds files the generator does not make"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// `138` followed by eight digits, the shape of the sample's phone numbers.
fn has_phone_number(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(10))
        .any(|i| b[i..].starts_with(b"138") && b[i + 3..i + 11].iter().all(u8::is_ascii_digit))
}

/// On-call's signals: the results file (its schema in docs/) and the
/// Prometheus metrics, written at the end of a run that succeeded and of
/// one that failed before it started, which keeps the last success.
#[test]
fn a_run_writes_its_results_and_metrics_files_success_or_failure() {
    let out = tempfile::tempdir().unwrap();
    let results = out.path().join("result.json");
    let metrics = out.path().join("cvm.prom");
    let signal_args = [
        "--results-file",
        results.to_str().unwrap(),
        "--metrics-file",
        metrics.to_str().unwrap(),
    ];
    let run = run_sample(&out.path().join("out"), &signal_args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    let schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read("docs/results.schema.json").unwrap()).unwrap();
    for key in schema["required"].as_array().unwrap() {
        assert!(result.get(key.as_str().unwrap()).is_some(), "{key} missing");
    }
    assert_eq!(
        result["schema_version"],
        schema["properties"]["schema_version"]["const"]
    );
    assert_eq!(result["status"], "succeeded");
    assert_eq!(result["exit_code"], 0);
    assert_eq!(result["as_of"], "2026-10-31");
    let manifest = manifest_of(&out.path().join("out"));
    assert_eq!(result["sources"], manifest["sources"]);
    assert_eq!(
        result["outputs"].as_array().unwrap().len(),
        manifest["outputs"].as_array().unwrap().len()
    );

    let text = std::fs::read_to_string(&metrics).unwrap();
    let value = |prefix: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(
        value("cvm_etl_last_run_exit_code{pipeline=\"sample\"}"),
        0.0
    );
    let read = manifest["sources"]["billing"]["rows_read"]
        .as_f64()
        .unwrap();
    assert_eq!(
        value("cvm_etl_rows_read{pipeline=\"sample\",source=\"billing\"}"),
        read
    );
    let success = value("cvm_etl_last_success_timestamp_seconds");
    assert!(
        text.contains("cvm_etl_stage_duration_seconds{pipeline=\"sample\",stage=\"sources\"}"),
        "{text}"
    );

    // A run that fails before it starts (exit 2) still says so, and keeps
    // the last success for the "no success for 26 hours" alert.
    let failed = run_sample(
        &out.path().join("out"),
        &[&signal_args[..], &["--set", "mvc_share=2"]].concat(),
    );
    assert_eq!(failed.status.code(), Some(2));
    let result: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    assert_eq!(
        (result["status"].as_str(), result["exit_code"].as_u64()),
        (Some("failed"), Some(2))
    );
    assert!(result["error"].as_str().unwrap().contains("mvc_share"));
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert!(
        text.contains("cvm_etl_last_run_exit_code{pipeline=\"sample\"} 2\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "cvm_etl_last_success_timestamp_seconds{{pipeline=\"sample\"}} {success}\n"
        )),
        "{text}"
    );
}

/// On-call's logs: one JSON object a line when stderr is not a terminal,
/// each naming the run and its date; text when asked for.
#[test]
fn log_lines_are_json_naming_the_run_and_its_date() {
    let out = tempfile::tempdir().unwrap();
    let o = run_sample(out.path(), &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run_id = manifest_of(out.path())["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 4, "{stderr}");
    for line in &lines {
        assert_eq!(line["span"]["run_id"], run_id.as_str(), "{line}");
        assert_eq!(line["span"]["as_of"], "2026-10-31", "{line}");
    }
    assert!(
        lines.iter().any(|l| l["fields"]["stage"] == "sources"),
        "{stderr}"
    );

    let text = run_sample(&out.path().join("again"), &["--log-format", "text"]);
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(
        stderr.contains("stage done") && !stderr.contains("{\""),
        "{stderr}"
    );
}

/// `inspect` shows the live run of each date from the manifests alone.
#[test]
fn inspect_shows_the_live_run_of_each_date() {
    let out = tempfile::tempdir().unwrap();
    ok(run_sample(out.path(), &[]));
    let run_id = manifest_of(out.path())["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inspect = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
            .arg("inspect")
            .arg(out.path())
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let views: serde_json::Value = serde_json::from_str(&inspect(&["--json"])).unwrap();
    let live = &views[0]["live"];
    assert_eq!(views[0]["as_of"], "2026-10-31");
    assert_eq!(live["run_id"], run_id.as_str());
    assert_eq!(live["status"], "succeeded");
    assert_eq!(
        live["partitions"],
        manifest_of(out.path())["outputs"].as_array().unwrap().len()
    );
    let text = inspect(&["--as-of", "2026-10-31"]);
    assert!(
        text.starts_with(&format!(
            "2026-10-31  live: run {run_id} succeeded (exit 0)"
        )),
        "{text}"
    );
    assert!(text.contains("sources: billing "), "{text}");
    assert_eq!(
        inspect(&["--as-of", "2026-10-30"]),
        "no runs under this output\n"
    );
}
