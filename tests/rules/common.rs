//! A small world for rule tests: input files in a temp folder, a pipeline
//! over them, and readers for what the run wrote.

use std::path::{Path, PathBuf};

use cvm_etl::config::{Overrides, Pipeline};
use cvm_etl::run::{Accepted, RunFailure, RunReport, accept_inputs, run};
use cvm_etl::storage::Storage;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::*;

pub const CUSTOMERS_HEADER: &str = "customer_id,name,phone,region,segment,signup_date,churn_date,account_manager,receivables_turnover,cooperation_score\n";
pub const BILLING_HEADER: &str =
    "invoice_id,line_no,customer_id,invoice_date,service,amount,currency\n";
pub const COSTS_HEADER: &str = "cost_id,customer_id,cost_date,cost_type,amount,currency\n";

/// One rejected row as read back from the `rejected` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub file: String,
    pub line: i64,
    pub reason: String,
    pub detail: String,
    pub raw: String,
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// YAML appended to the base pipeline.
    pub yaml: String,
}

impl Fixture {
    /// An empty input (as_of 2026-03-31, a 3-month window, no gate).
    pub fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            yaml: String::new(),
        }
    }

    /// A fixture with customers C1 and C2 (signed up 2025-01-01) unpartitioned.
    pub fn with_customers() -> Fixture {
        let f = Fixture::new();
        f.write(
            "customers/customers.csv",
            format!("{CUSTOMERS_HEADER}C1,Ann,555,north,consumer,2025-01-01,,,,\nC2,Bob,556,south,business,2025-01-01,,AM-1,,\n"),
        );
        f
    }

    pub fn input(&self) -> PathBuf {
        self.dir.path().join("in")
    }

    pub fn output(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    /// Writes a file under the input root.
    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) -> &Self {
        let path = self.input().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    pub fn set(mut self, yaml: &str) -> Fixture {
        self.yaml.push_str(yaml);
        self.yaml.push('\n');
        self
    }

    pub fn pipeline_text(&self) -> String {
        let gate = if self.yaml.contains("max_reject_ratio:") {
            ""
        } else {
            "max_reject_ratio: 1\n"
        };
        format!(
            "input: {}\noutput: {}\nas_of: 2026-03-31\nwindow_months: 3\n{gate}{}",
            self.input().display(),
            self.output().display(),
            self.yaml
        )
    }

    pub fn pipeline(&self) -> Pipeline {
        Pipeline::from_text("test.yaml", &self.pipeline_text(), &Overrides::default()).unwrap()
    }

    pub async fn run(&self) -> Result<RunReport, RunFailure> {
        let pipeline = self.pipeline();
        run(&pipeline, &Storage::new(Default::default())).await
    }

    pub async fn run_ok(&self) -> RunReport {
        match self.run().await {
            Ok(report) => report,
            Err(f) => panic!("run failed: {}", f.error),
        }
    }

    pub async fn accepted(&self) -> Accepted {
        match accept_inputs(&self.pipeline(), &Storage::new(Default::default())).await {
            Ok(a) => a,
            Err(e) => panic!("reading inputs failed: {e}"),
        }
    }

    /// The rejected rows of `source`, ordered by file and line.
    pub async fn rejected(&self, source: &str) -> Vec<Rejected> {
        let folder = self
            .output()
            .join(format!("rejected/as_of=2026-03-31/source={source}"));
        let batches = read_folder(&folder).await;
        let mut out = Vec::new();
        for b in &batches {
            for i in 0..b.num_rows() {
                let s = |c: &str| {
                    let a = b.column_by_name(c).unwrap().as_string::<i32>();
                    if a.is_null(i) {
                        String::new()
                    } else {
                        a.value(i).to_owned()
                    }
                };
                let line = b
                    .column_by_name("line")
                    .unwrap()
                    .as_primitive::<Int64Type>()
                    .value(i);
                out.push(Rejected {
                    file: s("file"),
                    line,
                    reason: s("reason"),
                    detail: s("detail"),
                    raw: s("raw"),
                });
            }
        }
        out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        out
    }

    /// (reason, line) of every rejected row of `source`.
    pub async fn reasons(&self, source: &str) -> Vec<(String, i64)> {
        self.rejected(source)
            .await
            .into_iter()
            .map(|r| (r.reason, r.line))
            .collect()
    }
}

pub async fn read_folder(folder: &Path) -> Vec<RecordBatch> {
    let mut config = SessionConfig::new();
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    let ctx = SessionContext::new_with_config(config);
    let path = format!("{}/", folder.display());
    ctx.read_parquet(path, ParquetReadOptions::default())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
}

/// Rows of a query over the accepted tables, each as its columns' text.
pub async fn query(accepted: &Accepted, sql: &str) -> Vec<Vec<String>> {
    let batches = accepted
        .ctx
        .sql(sql)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut rows = Vec::new();
    for b in &batches {
        for i in 0..b.num_rows() {
            let row = b
                .columns()
                .iter()
                .map(|c| datafusion::arrow::util::display::array_value_to_string(c, i).unwrap())
                .collect();
            rows.push(row);
        }
    }
    rows
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
