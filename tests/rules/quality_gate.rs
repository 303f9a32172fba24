//! The quality gate (docs/inputs.md#max_reject_ratio): a source fails when
//! rows_rejected / rows_read > max_reject_ratio, strictly. A failed run still
//! writes its rejected rows and its manifest.

use super::common::*;

/// 4 billing lines of which `bad` are rejected.
fn billing_with_bad(bad: usize) -> Fixture {
    let f = Fixture::with_customers().set("max_reject_ratio: 0.25");
    let rows: String = (0..4)
        .map(|i| {
            let amount = if i < bad { "x" } else { "1.00" };
            format!("I{i},1,C1,2026-01-15,,{amount},CNY\n")
        })
        .collect();
    f.write("billing/b.csv", format!("{BILLING_HEADER}{rows}"));
    f
}

#[tokio::test]
async fn a_source_exactly_at_the_ratio_passes() {
    billing_with_bad(1).run_ok().await;
}

#[tokio::test]
async fn a_source_above_the_ratio_fails_with_exit_3_naming_source_and_reasons() {
    let f = billing_with_bad(2);
    let failure = f.run().await.unwrap_err();
    assert_eq!(failure.error.exit_code(), 3);
    let message = failure.error.to_string();
    assert!(
        message.contains("billing")
            && message.contains("2 of 4")
            && message.contains("bad_number 2"),
        "{message}"
    );
    assert!(message.contains("rejected/as_of=2026-03-31"), "{message}");
    assert_eq!(f.rejected("billing").await.len(), 2);
    let report = failure.report.expect("a failed run still reports");
    assert_eq!(
        (
            report.manifest.status.to_string().as_str(),
            report.manifest.exit_code
        ),
        ("failed", 3)
    );
    let manifest = f.output().join(report.manifest.relative_path());
    assert!(manifest.exists(), "{}", manifest.display());
}

#[tokio::test]
async fn rows_read_always_equals_accepted_plus_rejected() {
    let f = billing_with_bad(1);
    let report = f.run_ok().await;
    for (source, c) in &report.manifest.sources {
        assert_eq!(c.rows_read, c.rows_accepted + c.rows_rejected, "{source}");
    }
}
