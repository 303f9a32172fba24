//! A tiny world for model tests: customers, billing and cost lines written
//! as CSV, one run of the job, and the output tables read back with SQL.

use std::fmt::Write as _;

use cvm_etl::config::{Overrides, Pipeline};
use cvm_etl::run::run;
use cvm_etl::storage::Storage;
use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::*;

pub struct World {
    dir: std::sync::Arc<tempfile::TempDir>,
    as_of: String,
    yaml: String,
    customers: String,
    billing: String,
    costs: String,
    lines: usize,
}

impl World {
    /// A world with a run date and a window of `w` months.
    pub fn new(as_of: &str, w: u32) -> World {
        World {
            dir: std::sync::Arc::new(tempfile::tempdir().unwrap()),
            as_of: as_of.to_owned(),
            yaml: format!("window_months: {w}\n"),
            customers: "customer_id,region,segment,signup_date,churn_date,account_manager,receivables_turnover,cooperation_score\n".into(),
            billing: "invoice_id,line_no,customer_id,invoice_date,amount,currency\n".into(),
            costs: "cost_id,customer_id,cost_date,amount,currency\n".into(),
            lines: 0,
        }
    }

    /// Adds pipeline YAML (parameters).
    pub fn set(&mut self, yaml: &str) -> &mut Self {
        writeln!(self.yaml, "{yaml}").unwrap();
        self
    }

    /// A customer in region `north`, segment `consumer`.
    pub fn customer(&mut self, id: &str, signup: &str, churn: Option<&str>) -> &mut Self {
        self.customer_in(id, "north", "consumer", signup, churn)
    }

    pub fn customer_in(
        &mut self,
        id: &str,
        region: &str,
        segment: &str,
        signup: &str,
        churn: Option<&str>,
    ) -> &mut Self {
        writeln!(
            self.customers,
            "{id},{region},{segment},{signup},{},,,",
            churn.unwrap_or("")
        )
        .unwrap();
        self
    }

    /// A customer with scoring factors (empty text is null).
    pub fn customer_scored(&mut self, id: &str, turnover: &str, cooperation: &str) -> &mut Self {
        writeln!(
            self.customers,
            "{id},north,consumer,2024-01-01,,,{turnover},{cooperation}"
        )
        .unwrap();
        self
    }

    /// A billing line.
    pub fn bill(&mut self, customer: &str, date: &str, amount: &str) -> &mut Self {
        self.lines += 1;
        writeln!(
            self.billing,
            "I{},1,{customer},{date},{amount},CNY",
            self.lines
        )
        .unwrap();
        self
    }

    /// A cost item.
    pub fn cost(&mut self, customer: &str, date: &str, amount: &str) -> &mut Self {
        self.lines += 1;
        writeln!(self.costs, "K{},{customer},{date},{amount},CNY", self.lines).unwrap();
        self
    }

    fn write_inputs(&self) {
        for (source, text) in [
            ("customers", &self.customers),
            ("billing", &self.billing),
            ("costs", &self.costs),
        ] {
            let dir = self.dir.path().join("in").join(source);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("{source}.csv")), text).unwrap();
        }
    }

    /// Runs the job and opens its outputs.
    pub async fn run(&self) -> Outputs {
        self.write_inputs();
        let out = self.dir.path().join("out");
        let text = format!(
            "input: {}\noutput: {}\nas_of: {}\nmax_reject_ratio: 1\n{}",
            self.dir.path().join("in").display(),
            out.display(),
            self.as_of,
            self.yaml
        );
        let pipeline = Pipeline::from_text("test.yaml", &text, &Overrides::default()).unwrap();
        if let Err(f) = run(&pipeline, &Storage::new(Default::default())).await {
            panic!("run failed: {}", f.error);
        }
        let mut outputs = Outputs::open(&out).await;
        outputs._dir = Some(self.dir.clone());
        outputs
    }
}

/// The output tables of a run, registered by name with their partition columns.
pub struct Outputs {
    pub ctx: SessionContext,
    /// Keeps the world's files while the outputs are read.
    _dir: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl Outputs {
    pub async fn open(out: &std::path::Path) -> Outputs {
        let ctx = SessionContext::new();
        let tables: [(&str, &[&str]); 5] = [
            ("customer_month", &["month"]),
            ("arpu", &["month"]),
            ("customer_value", &["as_of", "pyramid_tier"]),
            ("churn_watchlist", &["as_of"]),
            ("retention_savings", &["as_of"]),
        ];
        for (table, keys) in tables {
            let cols = keys
                .iter()
                .map(|k| (k.to_string(), DataType::Utf8))
                .collect();
            let options = ParquetReadOptions::default().table_partition_cols(cols);
            let path = format!("{}/{table}/", out.display());
            ctx.register_parquet(table, &path, options).await.unwrap();
        }
        Outputs { ctx, _dir: None }
    }

    /// Rows of a query, each as its columns' text (null as "NULL").
    pub async fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let batches = match self.ctx.sql(sql).await {
            Ok(df) => df.collect().await.unwrap(),
            Err(e) => panic!("{sql}: {e}"),
        };
        let mut rows = Vec::new();
        for b in &batches {
            for i in 0..b.num_rows() {
                rows.push(
                    b.columns()
                        .iter()
                        .map(|c| {
                            if c.is_null(i) {
                                "NULL".to_owned()
                            } else {
                                datafusion::arrow::util::display::array_value_to_string(c, i)
                                    .unwrap()
                            }
                        })
                        .collect(),
                );
            }
        }
        rows
    }

    /// One column of a query, as text.
    pub async fn column(&self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .await
            .into_iter()
            .map(|mut r| r.remove(0))
            .collect()
    }

    /// The single value of a query.
    pub async fn value(&self, sql: &str) -> String {
        let rows = self.column(sql).await;
        assert_eq!(rows.len(), 1, "{sql}: {rows:?}");
        rows[0].clone()
    }
}

pub fn row(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}
