//! The run manifest (SPEC §5): one JSON record per run under
//! `_runs/as_of=D/<run_id>.json`. It names inputs by path and outputs by
//! partition, and holds no secret (storage option values are left out) and
//! no personal data.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::quality::SourceCounts;
use crate::sinks::WrittenPartition;
use crate::sources::{Format, SourceRead};
use crate::storage::Location;

/// An input file as read.
#[derive(Debug, Clone, Serialize)]
pub struct InputRecord {
    pub source: String,
    pub path: String,
    pub format: Format,
    pub dt: Option<NaiveDate>,
    pub size: u64,
    pub etag: Option<String>,
    pub last_modified: String,
}

/// How long one stage took.
#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: String,
    pub seconds: f64,
}

/// The record of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub pipeline: String,
    pub as_of: NaiveDate,
    pub status: String,
    pub exit_code: u8,
    pub error: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub host: String,
    pub version: String,
    pub window: BTreeMap<String, NaiveDate>,
    pub parameters: serde_json::Value,
    pub inputs: Vec<InputRecord>,
    pub sources: BTreeMap<String, SourceCounts>,
    pub outputs: Vec<WrittenPartition>,
    pub stages: Vec<StageTiming>,
    pub warnings: Vec<String>,
    /// Crashed runs of the date this run finished or undid first.
    pub recovered: Vec<crate::sinks::publish::Recovered>,
    /// The physical plan of each model step with its metrics (`--explain`);
    /// not written to the manifest file.
    #[serde(skip)]
    pub plans: Vec<(String, String)>,
    /// The headline figures of a successful run.
    pub summary: Option<crate::summary::ModelSummary>,
}

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Manifest {
    pub fn new(
        run_id: &str,
        pipeline: &str,
        as_of: NaiveDate,
        parameters: serde_json::Value,
    ) -> Manifest {
        Manifest {
            run_id: run_id.to_owned(),
            pipeline: pipeline.to_owned(),
            as_of,
            status: "running".to_owned(),
            exit_code: 0,
            error: None,
            started_at: timestamp(Utc::now()),
            ended_at: None,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            window: BTreeMap::new(),
            parameters,
            inputs: Vec::new(),
            sources: BTreeMap::new(),
            outputs: Vec::new(),
            stages: Vec::new(),
            warnings: Vec::new(),
            recovered: Vec::new(),
            plans: Vec::new(),
            summary: None,
        }
    }

    /// Records the files a source read.
    pub fn add_inputs(&mut self, read: &SourceRead) {
        for f in &read.files {
            self.inputs.push(InputRecord {
                source: read.source.to_string(),
                path: format!("{}/{}", read.origin, f.relative),
                format: f.format,
                dt: f.dt,
                size: f.size,
                etag: f.e_tag.clone(),
                last_modified: timestamp(f.last_modified),
            });
        }
        self.warnings.extend(read.warnings.iter().cloned());
    }

    pub fn stage_done(&mut self, stage: &str, started: Instant) {
        self.stage_took(stage, started.elapsed());
    }

    pub fn stage_took(&mut self, stage: &str, took: std::time::Duration) {
        self.stages.push(StageTiming {
            stage: stage.to_owned(),
            seconds: took.as_secs_f64(),
        });
    }

    pub fn finish(&mut self, outcome: &Result<()>) {
        self.ended_at = Some(timestamp(Utc::now()));
        match outcome {
            Ok(()) => self.status = "succeeded".to_owned(),
            Err(e) => {
                self.status = "failed".to_owned();
                self.exit_code = e.exit_code();
                self.error = Some(e.to_string());
            }
        }
    }

    /// `_runs/as_of=D/<run_id>.json`, relative to the output location.
    pub fn relative_path(&self) -> String {
        format!("_runs/as_of={}/{}.json", self.as_of, self.run_id)
    }

    pub async fn write(&self, output: &Location) -> Result<String> {
        let relative = self.relative_path();
        output.write_json(&relative, self).await?;
        Ok(relative)
    }
}
