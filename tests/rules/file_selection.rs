//! Which files a run reads (docs/inputs.md#which-files-a-run-reads).

use super::common::*;
use cvm_etl::Error;

fn customers_at(f: &Fixture, dt: &str, id: &str) {
    f.write(
        &format!("customers/dt={dt}/c.csv"),
        format!("{CUSTOMERS_HEADER}{id},n,p,r,s,2025-01-01,,,,\n"),
    );
}

#[tokio::test]
async fn customers_come_from_the_latest_partition_on_or_before_as_of() {
    let f = Fixture::new();
    customers_at(&f, "2026-02-28", "OLD");
    customers_at(&f, "2026-03-31", "NOW");
    customers_at(&f, "2026-04-01", "FUTURE");
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT customer_id FROM customers").await,
        vec![strings(&["NOW"])]
    );
}

#[tokio::test]
async fn billing_reads_every_partition_from_window_start_to_as_of() {
    let f = Fixture::with_customers();
    for (dt, id) in [
        ("2025-12-31", "before"),
        ("2026-01-01", "first"),
        ("2026-03-31", "last"),
        ("2026-04-01", "after"),
    ] {
        f.write(
            &format!("billing/dt={dt}/b.csv"),
            format!("{BILLING_HEADER}{id},1,C1,2026-01-15,voice,1.00,CNY\n"),
        );
    }
    let a = f.accepted().await;
    let rows = query(&a, "SELECT invoice_id FROM billing ORDER BY invoice_id").await;
    assert_eq!(rows, vec![strings(&["first"]), strings(&["last"])]);
}

#[tokio::test]
async fn partitioned_sources_ignore_loose_files_and_bad_dt_folders_but_read_nested_ones() {
    let f = Fixture::with_customers();
    let line = |id: &str| format!("{BILLING_HEADER}{id},1,C1,2026-01-15,voice,1.00,CNY\n");
    f.write("billing/loose.csv", line("loose"));
    f.write("billing/dt=2026-02-30/b.csv", line("bad_dt"));
    f.write("billing/dt=2026-2-3/b.csv", line("bad_dt2"));
    f.write("billing/dt=2026-02-01/region=north/b.csv", line("nested"));
    let report = f.run_ok().await;
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT invoice_id FROM billing").await,
        vec![strings(&["nested"])]
    );
    let warnings = report.manifest.warnings.join("\n");
    assert!(warnings.contains("loose.csv"), "{warnings}");
    assert!(warnings.contains("dt=2026-02-30"), "{warnings}");
}

#[tokio::test]
async fn hidden_and_underscore_names_are_skipped_silently() {
    let f = Fixture::with_customers();
    let line = |id: &str| format!("{BILLING_HEADER}{id},1,C1,2026-01-15,voice,1.00,CNY\n");
    f.write("billing/dt=2026-02-01/.hidden.csv", line("hidden"));
    f.write("billing/dt=2026-02-01/_tmp.csv", line("underscore"));
    f.write("billing/_staging/dt=2026-02-01/b.csv", line("staging"));
    f.write("billing/dt=2026-02-01/b.csv", line("real"));
    let report = f.run_ok().await;
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT invoice_id FROM billing").await,
        vec![strings(&["real"])]
    );
    let warnings = report.manifest.warnings.join("\n");
    assert!(
        !warnings.contains("hidden") && !warnings.contains("_tmp") && !warnings.contains("staging"),
        "{warnings}"
    );
}

#[tokio::test]
async fn the_format_comes_from_the_extension_and_others_are_ignored_with_a_warning() {
    let f = Fixture::with_customers();
    f.write(
        "billing/a.csv",
        format!("{BILLING_HEADER}csv,1,C1,2026-01-15,voice,1.00,CNY\n"),
    );
    f.write("billing/b.jsonl", r#"{"invoice_id":"jsonl","line_no":1,"customer_id":"C1","invoice_date":"2026-01-15","amount":1.00,"currency":"CNY"}"#);
    f.write("billing/c.txt", "whatever");
    let report = f.run_ok().await;
    let a = f.accepted().await;
    let rows = query(&a, "SELECT invoice_id FROM billing ORDER BY invoice_id").await;
    assert_eq!(rows, vec![strings(&["csv"]), strings(&["jsonl"])]);
    assert!(report.manifest.warnings.iter().any(|w| w.contains("c.txt")));
}

#[tokio::test]
async fn a_csv_file_without_a_header_line_is_empty() {
    let f = Fixture::with_customers();
    f.write("billing/empty.csv", "\n\n");
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_read, 0);
    assert!(
        report
            .manifest
            .warnings
            .iter()
            .any(|w| w.contains("empty.csv"))
    );
}

#[tokio::test]
async fn missing_customers_means_inputs_not_ready() {
    let f = Fixture::new();
    f.write("billing/b.csv", BILLING_HEADER);
    let failure = f.run().await.unwrap_err();
    assert!(
        matches!(failure.error, Error::NotReady(_)),
        "{}",
        failure.error
    );
    assert_eq!(failure.error.exit_code(), 4);
}

#[tokio::test]
async fn customers_partitions_only_after_as_of_mean_inputs_not_ready() {
    let f = Fixture::new();
    customers_at(&f, "2026-04-01", "C1");
    assert_eq!(f.run().await.unwrap_err().error.exit_code(), 4);
}

#[tokio::test]
async fn a_missing_billing_prefix_is_a_warning_and_no_rows() {
    let f = Fixture::with_customers();
    let report = f.run_ok().await;
    assert_eq!(report.manifest.sources["billing"].rows_read, 0);
    assert!(
        report
            .manifest
            .warnings
            .iter()
            .any(|w| w.starts_with("billing"))
    );
}

#[tokio::test]
async fn a_required_partition_for_as_of_that_is_missing_means_not_ready() {
    let f = Fixture::with_customers().set("require_partition_for_as_of: [billing]");
    f.write("billing/dt=2026-03-30/b.csv", BILLING_HEADER);
    assert_eq!(f.run().await.unwrap_err().error.exit_code(), 4);
    f.write("billing/dt=2026-03-31/b.csv", BILLING_HEADER);
    f.run_ok().await;
}

#[tokio::test]
async fn a_required_partition_holding_no_readable_file_means_not_ready() {
    let f = Fixture::with_customers().set("require_partition_for_as_of: [billing]");
    f.write("billing/dt=2026-03-30/b.csv", BILLING_HEADER);
    // An upload in progress and hidden names are not a delivery.
    f.write("billing/dt=2026-03-31/part.csv.tmp", BILLING_HEADER);
    f.write("billing/dt=2026-03-31/_SUCCESS", "");
    f.write("billing/dt=2026-03-31/.part.csv.crc", "");
    assert_eq!(f.run().await.unwrap_err().error.exit_code(), 4);
    f.write("billing/dt=2026-03-31/part.csv", BILLING_HEADER);
    f.run_ok().await;
}

#[tokio::test]
async fn the_manifest_lists_every_input_file_read() {
    let f = Fixture::with_customers();
    f.write(
        "billing/dt=2026-02-01/b.csv",
        format!("{BILLING_HEADER}i,1,C1,2026-01-15,voice,1.00,CNY\n"),
    );
    let report = f.run_ok().await;
    let inputs = &report.manifest.inputs;
    assert_eq!(inputs.len(), 2);
    let billing = inputs.iter().find(|i| i.source == "billing").unwrap();
    assert!(
        billing.path.ends_with("billing/dt=2026-02-01/b.csv"),
        "{}",
        billing.path
    );
    assert!(billing.size > 0);
}
