//! The finance report (docs/report.md): published with the run's tables,
//! rebuilt identically by `cvm-etl report`, and read in a real browser
//! (headless Chromium) whose page must agree with the Parquet outputs.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::Command;

use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use support::{ok, run_sample};

const AS_OF: &str = "2026-10-31";
const PREVIOUS: &str = "2026-09-30";

/// The sample run for the previous month end, then for the sample's date.
fn two_dates() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    ok(run_sample(out.path(), &["--as-of", PREVIOUS]));
    ok(run_sample(out.path(), &[]));
    out
}

fn page_of(out: &Path, as_of: &str) -> PathBuf {
    out.join(format!("report/as_of={as_of}/index.html"))
}

/// Removes a date's page and rebuilds it with `cvm-etl report`: the page
/// must come back byte for byte.
fn assert_rebuilt_identically(out: &Path, as_of: &str) {
    let page = std::fs::read(page_of(out, as_of)).unwrap();
    std::fs::remove_file(page_of(out, as_of)).unwrap();
    let rebuilt = ok(Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args([
            "report",
            "pipelines/sample.yaml",
            "--as-of",
            as_of,
            "--output",
        ])
        .arg(out)
        .output()
        .unwrap());
    assert!(String::from_utf8_lossy(&rebuilt.stdout).contains("index.html"));
    assert!(
        std::fs::read(page_of(out, as_of)).unwrap() == page,
        "the rebuilt page of {as_of} differs from the one its run published"
    );
    let (run_id, marked_as_of) = support::marker(out, &format!("report/as_of={as_of}"));
    assert_eq!(
        Some(run_id),
        support::latest(out, as_of),
        "_SUCCESS names the live run"
    );
    assert_eq!(marked_as_of, as_of);
}

#[test]
fn a_run_publishes_its_report_and_cvm_etl_report_rebuilds_the_same_page() {
    let out = tempfile::tempdir().unwrap();
    let run = ok(run_sample(out.path(), &["--as-of", PREVIOUS]));
    let said = String::from_utf8_lossy(&run.stdout);
    assert!(
        said.contains("finance report: file://")
            && said.contains("report/as_of=2026-09-30/index.html"),
        "{said}"
    );
    assert_rebuilt_identically(out.path(), PREVIOUS);
    ok(run_sample(out.path(), &[]));
    assert_rebuilt_identically(out.path(), AS_OF);
    let files = support::files(&out.path().join("report"));
    assert_eq!(
        files,
        [
            "as_of=2026-09-30/_SUCCESS",
            "as_of=2026-09-30/index.html",
            "as_of=2026-10-31/_SUCCESS",
            "as_of=2026-10-31/index.html"
        ]
    );
}

#[test]
fn cvm_etl_report_for_a_date_never_run_says_so() {
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args(["report", "pipelines/sample.yaml", "--output"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("no run for 2026-10-31 has published"),
        "{stderr}"
    );
}

#[test]
fn the_report_has_no_name_or_phone_and_asks_for_nothing_over_the_network() {
    let out = two_dates();
    let page = std::fs::read_to_string(page_of(out.path(), AS_OF)).unwrap();
    assert!(
        page.contains("default-src 'none'"),
        "a policy that forbids requests"
    );
    for needle in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!page.contains(needle), "{needle}");
    }
    let customers = std::fs::read_dir("examples/sample/customers").unwrap();
    let mut checked = 0;
    for file in customers
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap())
    {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        let (text, _, _) = encoding_rs::GB18030.decode(&bytes);
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            for personal in fields.iter().skip(1).take(2).filter(|f| f.len() > 3) {
                assert!(!page.contains(*personal), "the report shows {personal}");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "checked {checked} names and phones");
}

// ---- the page in a browser ----

fn chromium() -> Option<String> {
    if let Ok(path) = std::env::var("CVM_ETL_CHROMIUM") {
        return Some(path);
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(str::to_owned)
}

/// A small query on the published tables, each value as text.
async fn query(out: &Path, sql: &str) -> Vec<Vec<String>> {
    let ctx = SessionContext::new();
    for (table, folder, partitions) in [
        ("arpu", "arpu".to_owned(), vec!["month"]),
        (
            "customer_value",
            format!("customer_value/as_of={AS_OF}"),
            vec!["pyramid_tier"],
        ),
        (
            "churn_watchlist",
            format!("churn_watchlist/as_of={AS_OF}"),
            vec![],
        ),
        (
            "retention_savings",
            format!("retention_savings/as_of={AS_OF}"),
            vec![],
        ),
    ] {
        let cols = partitions
            .into_iter()
            .map(|c| (c.to_owned(), datafusion::arrow::datatypes::DataType::Utf8))
            .collect();
        let url = format!("{}/", out.join(folder).display());
        let options = ParquetReadOptions::default().table_partition_cols(cols);
        ctx.register_parquet(table, &url, options).await.unwrap();
    }
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            rows.push(
                b.columns()
                    .iter()
                    .map(|c| array_value_to_string(c, i).unwrap())
                    .collect(),
            );
        }
    }
    rows
}

/// `1234567.5` → `1,234,567.50`, as finance writes money.
fn grouped(amount: &str) -> String {
    let (whole, cents) = amount.split_once('.').unwrap_or((amount, "00"));
    let (sign, whole) = whole.strip_prefix('-').map_or(("", whole), |w| ("-", w));
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}.{cents:0<2}")
}

fn count(n: &str) -> String {
    grouped(n).trim_end_matches(".00").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_report_read_in_a_browser_agrees_with_the_parquet_outputs() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install Chromium (.ci/run)"
        );
        eprintln!("skipped: no chromium here (apt-get install chromium)");
        return;
    };
    let out = two_dates();
    let shot = out.path().join("report.png");
    // The script gives every answer of the browser a minute; timeout(1)
    // bounds the whole.
    let seen = support::script_json(
        Command::new("timeout")
            .args(["300", "python3", "tests/browser.py", &chromium])
            .arg(page_of(out.path(), AS_OF))
            .arg(&shot),
    );
    let o = out.path();

    assert_eq!(
        seen["console_errors"],
        serde_json::json!([]),
        "console errors"
    );
    assert_eq!(
        seen["requests"],
        serde_json::json!([]),
        "requests left the page"
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "a screenshot"
    );

    // Every line chart has a dot per month and series with a value.
    let series = "month >= '2025-11' AND month <= '2026-10' AND (dimension = 'all'
        OR (dimension = 'pyramid_tier' AND dimension_value IN ('MVC', 'MGC', 'LVC', 'BZ')))";
    for (chart, column) in [("arpu", "arpu"), ("churn", "churn_rate")] {
        let n = query(
            o,
            &format!("SELECT COUNT({column}) FROM arpu WHERE {series}"),
        )
        .await;
        let n: u64 = n[0][0].parse().unwrap();
        assert!(n >= 12, "{chart}: {n}");
        assert_eq!(seen["charts"][chart]["dots"], n, "{chart}");
    }

    // The pyramid chart writes each tier's customers above its bar, and
    // the table's customers and money add up to the Parquet outputs.
    let tiers = query(
        o,
        "SELECT pyramid_tier, CAST(COUNT(*) AS VARCHAR), CAST(SUM(revenue_w) AS VARCHAR),
                CAST(SUM(profit_w) AS VARCHAR)
         FROM customer_value GROUP BY pyramid_tier",
    )
    .await;
    let labels = seen["charts"]["pyramid-1"]["texts"].as_array().unwrap();
    let table = &seen["tables"]["pyramid"][0];
    for t in &tiers {
        assert!(
            labels.iter().any(|l| *l == count(&t[1])),
            "{t:?} in {labels:?}"
        );
        let row = table
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == t[0].as_str())
            .unwrap_or_else(|| panic!("tier {} in the table", t[0]));
        assert_eq!(row[1], count(&t[1]));
        assert_eq!(row[3], format!("{} CNY", grouped(&t[2])));
        assert_eq!(row[4], format!("{} CNY", grouped(&t[3])));
    }

    // A headline sentence per churn cut on the whole base, its figures the table's.
    let all = query(
        o,
        "SELECT CAST(base_subscribers AS VARCHAR), CAST(acquisition_cost_avoided AS VARCHAR),
                CAST(monthly_revenue_retained AS VARCHAR)
         FROM retention_savings WHERE population = 'all' ORDER BY scenario",
    )
    .await;
    let headlines = seen["headlines"].as_array().unwrap();
    assert_eq!(headlines.len(), all.len());
    for (sentence, r) in headlines.iter().zip(&all) {
        let sentence = sentence.as_str().unwrap();
        assert!(
            sentence.starts_with("Cutting monthly churn by "),
            "{sentence}"
        );
        for figure in [
            format!("on {} subscribers", count(&r[0])),
            format!("avoids {} CNY of acquisition cost", grouped(&r[1])),
            format!("keeps {} CNY of revenue a month", grouped(&r[2])),
        ] {
            assert!(sentence.contains(&figure), "{figure} in {sentence}");
        }
    }
    let savings = query(o, "SELECT COUNT(*) FROM retention_savings").await;
    let rows = seen["tables"]["savings"][0].as_array().unwrap().len() - 1;
    assert_eq!(
        rows.to_string(),
        savings[0][0],
        "every scenario × population"
    );

    // The watchlist's top 20 by baseline revenue, in order.
    let top = query(
        o,
        "SELECT customer_id FROM churn_watchlist ORDER BY baseline_revenue DESC, customer_id LIMIT 20",
    )
    .await;
    let shown: Vec<&str> = seen["tables"]["watchlist"][0].as_array().unwrap()[1..]
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = top.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(shown, expected);

    // What changed since the previous date, and the gate's verdict.
    let changes = seen["tables"]["changes"][0].as_array().unwrap();
    assert_eq!(changes[0][1], PREVIOUS);
    assert!(changes.len() > 10, "{changes:?}");
    assert!(seen["gate"].as_str().unwrap().starts_with("Passed"));
}

#[test]
fn cvm_etl_report_waits_for_the_run_that_holds_the_lock() {
    let out = tempfile::tempdir().unwrap();
    ok(run_sample(out.path(), &[]));
    let lock = out.path().join("_locks/output.json");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(
        &lock,
        r#"{"run_id": "20261201T000000Z-aaaaaaaa", "as_of": "2026-10-31", "host": "h", "pid": 1,
            "started_at": "2026-12-01T00:00:00Z", "expires_at": "2999-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let before = std::fs::read(page_of(out.path(), AS_OF)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cvm-etl"))
        .args(["report", "pipelines/sample.yaml", "--output"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("20261201T000000Z-aaaaaaaa"), "{stderr}");
    assert_eq!(std::fs::read(page_of(out.path(), AS_OF)).unwrap(), before);
    assert!(lock.exists(), "the holder's lock is left to it");
}
