//! The personal-data rule (docs/inputs.md#personal-data), end to end: a hostile
//! corpus of customers exports, each bad in another way, goes through the real
//! binary; no name or phone it holds appears in any output file (decoded), any
//! manifest or marker, or anything the binary prints, at any log level, whether
//! the run succeeds or fails.

use crate::support;

use std::path::Path;
use std::process::Command;

use support::{files, rows};

const HEADER: &str = "customer_id,name,phone,region,segment,signup_date,churn_date,account_manager,receivables_turnover,cooperation_score";

/// Names and phones the corpus holds; none may come out.
fn secret(i: usize) -> (String, String) {
    (format!("Zhangsecret{i:02}"), format!("1391234{i:04}"))
}

fn row(i: usize, rest: &str) -> String {
    let (name, phone) = secret(i);
    format!("C{i},{name},{phone},{rest}")
}

/// Customers CSV records, one per way of being bad (and some good).
fn csv_corpus() -> Vec<u8> {
    let ok = "north,consumer,2025-01-01,,AM-1,,";
    let mut lines = vec![
        HEADER.to_owned(),
        row(1, ok),
        row(2, "north,consumer,2025-13-01,,,,"),
        row(3, "north"),
        row(4, "north,consumer,2025-01-01,2024-01-01,,,"),
        row(1, ok),
        row(5, "north,consumer,2025-01-01,,,abc,"),
        row(6, "north,consumer,2027-01-01,,,,"),
        row(
            7,
            &format!("north,consumer,2025-01-01,,{},,", "x".repeat(2000)),
        ),
    ];
    let (name, phone) = secret(8);
    lines.push(format!(
        "C8,\"{name}\"x,{phone},north,consumer,2025-01-01,,,,"
    ));
    let (name, phone) = secret(9);
    lines.push(format!("C9,{name},{phone},\"north,consumer,2025-01-01,,,,"));
    let mut bytes = lines.join("\n").into_bytes();
    bytes.push(b'\n');
    // Bytes that are not UTF-8 in a record holding a name.
    let (name, phone) = secret(10);
    bytes.extend(format!("C10,{name},{phone},no").as_bytes());
    bytes.extend(b"\xff\xfe");
    bytes.extend(b"rth,consumer,2025-01-01,,,,\n");
    // A quote never closed: the rest of the file is one record.
    let (name, phone) = secret(11);
    bytes.extend(format!("C11,\"{name},{phone},north,consumer,2025-01-01,,,,\n").as_bytes());
    bytes
}

/// The same, saved with old-Mac line endings.
fn lone_cr_corpus() -> Vec<u8> {
    let ok = "south,business,2025-01-01,,,,";
    [
        HEADER.to_owned(),
        row(21, ok),
        row(22, "south"),
        row(23, "south,business,bad,,,,"),
    ]
    .join("\r")
    .into_bytes()
}

fn ndjson_corpus() -> Vec<u8> {
    let mut lines = Vec::new();
    let (name, phone) = secret(31);
    lines.push(format!(
        "{{\"customer_id\":\"C31\",\"name\":\"{name}\",\"phone\":\"{phone}\",\"signup_date\":\"2025-01-01\"}}"
    ));
    let (name, phone) = secret(32);
    lines.push(format!("\"{name} {phone}\""));
    lines.push(secret(33).1);
    let (name, phone) = secret(34);
    lines.push(format!("[\"{name}\", \"{phone}\"]"));
    let (name, phone) = secret(35);
    lines.push(format!(
        "{{\"customer_id\":\"C35\",\"name\":\"{name}\",\"phone\":\"{phone}\",\"signup_date\":\"2025/01/01\"}}"
    ));
    let (name, phone) = secret(36);
    lines.push(format!(
        "{{\"customer_id\":\"C36\",\"name\":\"{name}\",\"phone\":{phone},"
    ));
    let (name, phone) = secret(37);
    lines.push(format!(
        "{{\"customer_id\":\"C37\",\"name\":[\"{name}\"],\"phone\":{phone},\"signup_date\":\"2025-01-01\"}}"
    ));
    (lines.join("\n") + "\n").into_bytes()
}

fn write(root: &Path, relative: &str, bytes: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn pipeline(dir: &Path, input: &Path, out: &Path, extra: &str) -> std::path::PathBuf {
    let text = format!(
        "input: {}\noutput: {}\nas_of: 2026-03-31\nwindow_months: 3\nmax_reject_ratio: 1\nmax_record_bytes: 1KiB\n{extra}",
        input.display(),
        out.display()
    );
    let path = dir.join("p.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Everything a run left readable: every file under the output, Parquet
/// decoded to its rows, and what the binary printed.
fn everything(out: &Path, printed: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(printed).into_owned();
    for file in files(out) {
        let path = out.join(&file);
        text.push_str(&file);
        if file.ends_with(".parquet") {
            text.push_str(&rows(&path).join("\n"));
        } else {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

fn assert_no_secret(text: &str, case: &str) {
    for i in 0..40 {
        let (name, phone) = secret(i);
        assert!(!text.contains(&name), "{case}: {name} leaked");
        assert!(!text.contains(&phone), "{case}: {phone} leaked");
    }
    assert!(!text.contains("Zhangsecret"), "{case}: a name leaked");
}

fn run(pipeline: &Path, log: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args(["run", "--log", log])
        .arg(pipeline)
        .output()
        .unwrap()
}

#[test]
fn no_name_or_phone_of_a_hostile_corpus_reaches_any_output_log_or_message() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    write(&input, "customers/a.csv", &csv_corpus());
    write(&input, "customers/b.csv", &lone_cr_corpus());
    write(&input, "customers/c.ndjson", &ndjson_corpus());
    write(
        &input,
        "billing/b.csv",
        b"invoice_id,line_no,customer_id,invoice_date,service,amount,currency\nI1,1,C1,2026-02-01,data,10.00,CNY\nI2,1,C2,2026-02-01,data,10.00,CNY\n",
    );
    for log in ["info", "debug"] {
        let out = dir.path().join(format!("out-{log}"));
        let p = pipeline(dir.path(), &input, &out, "");
        let o = run(&p, log);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let rejected = files(&out)
            .iter()
            .filter(|f| f.starts_with("rejected/"))
            .count();
        assert!(rejected > 0);
        let printed = [o.stdout, o.stderr].concat();
        assert_no_secret(&everything(&out, &printed), &format!("a run at {log}"));
    }
}

#[test]
fn a_customers_file_whose_header_cannot_be_read_is_named_without_its_text() {
    for header in [
        // A quote never closed.
        format!("customer_id,\"name,{},phone", secret(1).0),
        // Text after a closing quote.
        format!("customer_id,\"{}\"x,phone", secret(2).1),
        // No header at all: the first record taken for one.
        row(3, "north,consumer,2025-01-01,,,,"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        write(
            &input,
            "customers/a.csv",
            format!("{header}\n{}\n", row(4, "x")).as_bytes(),
        );
        let out = dir.path().join("out");
        let o = run(&pipeline(dir.path(), &input, &out, ""), "debug");
        assert_eq!(
            o.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(stderr.contains("customers/a.csv"), "{stderr}");
        let printed = [o.stdout, o.stderr].concat();
        assert_no_secret(&everything(&out, &printed), &header);
    }
}
