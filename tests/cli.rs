//! The command line as schedulers see it: verbs, flags, messages and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn cvm_etl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const BASE: &str = "input: in\noutput: out\nas_of: 2026-03-31\n";

#[test]
fn validate_accepts_the_sample_pipeline() {
    let o = cvm_etl(&["validate", "pipelines/sample.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("valid"));
}

#[test]
fn validate_names_the_line_and_column_of_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.yaml", &format!("{BASE}mvc_shares: 0.1\n"));
    let o = cvm_etl(&["validate", &p]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("p.yaml:4:1") && e.contains("mvc_shares"), "{e}");
}

#[test]
fn validate_refuses_bad_parameter_values_at_their_line() {
    let cases = [
        ("window_months: 0\n", "p.yaml:4:16"),
        ("trend_months: 1.5\n", "p.yaml:4:15"),
        ("mgc_share: 1.2\n", "p.yaml:4:12"),
        ("score_weights: {profit: 0}\n", "p.yaml:4"),
        ("score_weights: {margin: 1}\n", "p.yaml:4"),
        ("score_weights: {}\n", "p.yaml:4"),
        (
            "tier_policy: {MVC: {points_multiplier: 3, action: retain}}\n",
            "p.yaml:4",
        ),
        (
            "tier_policy:\n  MVC: {points_multiplier: 3.5, action: retain}\n",
            "p.yaml:5",
        ),
        ("as_of: 2026-02-30\n", "p.yaml:4"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (yaml, at) in cases {
        let base = BASE.replace("as_of: 2026-03-31\n", "");
        let p = write(dir.path(), "p.yaml", &format!("{base}name: x\n{yaml}"));
        let o = cvm_etl(&["validate", &p]);
        assert_eq!(o.status.code(), Some(2), "{yaml}");
        let e = stderr(&o);
        assert!(e.contains(at), "{yaml}: {e}");
    }
}

#[test]
fn validate_reports_every_error_of_a_file_and_its_sets_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("{BASE}window_months: 0\nmgc_share: 1.2\nmvc_shares: 0.1\n");
    let p = write(dir.path(), "p.yaml", &yaml);
    let o = cvm_etl(&["validate", &p, "--set", "alert_drop=2"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    for at in [
        "p.yaml:4:16",
        "p.yaml:5:12",
        "p.yaml:6:1",
        "--set alert_drop=2",
    ] {
        assert!(e.contains(at), "{at} missing in: {e}");
    }
}

#[test]
fn set_overrides_take_yaml_values_under_their_spec_names() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.yaml", BASE);
    let ok = [
        "mvc_share=0.07",
        "score_weights={profit: 0.5, revenue: 0.3, cooperation_score: 0.2}",
        "churn_reduction_scenarios=[0.01, 0.1]",
        "require_partition_for_as_of=[billing]",
        "sources.customers.encoding=gb18030",
        "sources.billing.path=s3://bucket/billing",
    ];
    for set in ok {
        let o = cvm_etl(&["validate", &p, "--set", set]);
        assert!(o.status.success(), "{set}: {}", stderr(&o));
    }
    for bad in [
        "mvc_share=2",
        "window_months=0",
        "no_such=1",
        "sources.billing.encoding=latin1",
        "mvc_share",
    ] {
        let o = cvm_etl(&["validate", &p, "--set", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains("--set"), "{bad}: {}", stderr(&o));
    }
}

#[test]
fn a_missing_environment_variable_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.yaml",
        &format!("{BASE}currency: ${{CVM_TEST_UNSET_VAR}}\n"),
    );
    let o = cvm_etl(&["validate", &p]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("CVM_TEST_UNSET_VAR") && e.contains("p.yaml:4:11"),
        "{e}"
    );
}

#[test]
fn environment_variables_are_substituted() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.yaml",
        "name: ${CVM_TEST_NAME}\ninput: in\noutput: ${CVM_TEST_BUCKET}/cvm\nas_of: ${CVM_TEST_AS_OF}\ncurrency: ${CVM_TEST_CURRENCY}\n",
    );
    let o = Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args(["validate", &p])
        .env("CVM_TEST_NAME", "nightly-eu")
        .env("CVM_TEST_BUCKET", "env-out")
        .env("CVM_TEST_AS_OF", "2026-02-28")
        .env("CVM_TEST_CURRENCY", "EUR")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // validate prints the pipeline's name, as_of and output: the values, not the ${...}.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("pipeline 'nightly-eu', as_of 2026-02-28, output env-out/cvm"),
        "{stdout}"
    );
}

#[test]
fn every_verb_documents_its_flags() {
    let pipeline = [
        "--set",
        "--input",
        "--output",
        "--temp-dir",
        "--memory-limit",
    ];
    let verbs: [(&str, Vec<&str>); 4] = [
        (
            "run",
            [
                &pipeline[..],
                &["--as-of", "--explain", "--results-file", "--metrics-file"][..],
            ]
            .concat(),
        ),
        (
            "backfill",
            [&pipeline[..], &["--from", "--to", "--force"][..]].concat(),
        ),
        ("validate", [&pipeline[..], &["--as-of"][..]].concat()),
        (
            "sample-data",
            vec![
                "--customers",
                "--months",
                "--end-month",
                "--seed",
                "--out",
                "--no-bad-rows",
                "--plain",
            ],
        ),
    ];
    for (verb, flags) in verbs {
        let o = cvm_etl(&[verb, "--help"]);
        assert!(o.status.success(), "{verb}: {}", stderr(&o));
        let help = String::from_utf8_lossy(&o.stdout);
        for flag in flags {
            assert!(help.contains(flag), "{verb} --help lacks {flag}");
        }
    }
}

#[test]
fn inputs_not_ready_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.yaml",
        &format!(
            "input: {0}/in\noutput: {0}/out\nas_of: 2026-03-31\n",
            dir.path().display()
        ),
    );
    let o = cvm_etl(&["run", &p]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("customers"));
    // One line of error, one of what to check, and no backtrace.
    assert!(
        e.contains("\nhint: the input location must hold customers/"),
        "{e}"
    );
    assert!(!e.contains("backtrace") && !e.contains("panicked"), "{e}");
}

#[test]
fn unusable_flags_exit_2() {
    let o = cvm_etl(&["run", "pipelines/sample.yaml", "--as-of", "2026-13-01"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn parameters_outside_their_bounds_are_exit_2_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for set in [
        "window_months=4000000",
        "trend_months=0",
        "max_reject_ratio=1e20",
        "growth_threshold=1001",
        "acquisition_cost=10000000000000000",
        "max_volume_drop=2",
        "max_record_bytes=100",
        "dormant_months=1201",
        "churn_reduction_scenarios=[0.01, 1.5]",
    ] {
        let o = cvm_etl(&[
            "run",
            "pipelines/sample.yaml",
            "--output",
            out.to_str().unwrap(),
            "--set",
            set,
        ]);
        assert_eq!(o.status.code(), Some(2), "{set}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(&format!("--set {set}")),
            "{set}: {}",
            stderr(&o)
        );
        assert!(!out.exists(), "{set}: no lock, no manifest");
    }
}

#[test]
fn version_prints_the_version_and_the_git_commit() {
    let o = Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    let pattern =
        regex::Regex::new(r"^cvm-etl \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}|unknown)\)\n$").unwrap();
    assert!(pattern.is_match(&text), "{text}");
    // In a git checkout (CI clones one) the commit is known.
    if std::path::Path::new(".git").exists() {
        assert!(!text.contains("unknown"), "{text}");
    }
}
