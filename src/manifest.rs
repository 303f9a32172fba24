//! The run manifest (docs/outputs.md#run-manifests-_runs): one JSON record per
//! run under `_runs/as_of=D/<run_id>.json`. It names inputs by path and outputs
//! by partition, and holds no secret (storage option values are left out) and
//! no personal data.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::timestamp;
use crate::error::{Error, Result};
use crate::memory::{Peak, Watch};
use crate::quality::SourceCounts;
use crate::sinks::WrittenPartition;
use crate::sinks::publish::LeftAlone;
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

/// Where a run stands. Written as snake_case text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Working; a run left `running` was killed before it could say more.
    Running,
    /// Published in full.
    Succeeded,
    /// Failed before its commit point: published nothing but its rejected rows.
    Failed,
    /// Committed, then publishing failed (exit 5): the next run finishes it.
    Committed,
    /// Killed before its commit point: nothing of it is live.
    Interrupted,
    /// Committed, then killed or failed while publishing; another run
    /// finished the publication, so its outputs are live.
    RolledForward,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let name = match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Committed => "committed",
            RunStatus::Interrupted => "interrupted",
            RunStatus::RolledForward => "rolled_forward",
        };
        f.write_str(name)
    }
}

/// `_runs/as_of=D`: the manifests of one date.
pub fn runs_dir(as_of: impl std::fmt::Display) -> String {
    format!("_runs/as_of={as_of}")
}

/// `_runs/as_of=D/<run_id>.json`: one run's manifest.
pub fn manifest_path(as_of: impl std::fmt::Display, run_id: &str) -> String {
    format!("{}/{run_id}.json", runs_dir(as_of))
}

/// `_runs/as_of=D/latest.json`: the run whose outputs of D are live.
pub fn latest_path(as_of: impl std::fmt::Display) -> String {
    format!("{}/latest.json", runs_dir(as_of))
}

/// The contents of `latest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latest {
    pub run_id: String,
    /// `succeeded`, or `rolled_forward` when another run finished it.
    pub status: RunStatus,
    /// Its manifest, relative to the output location.
    pub manifest: String,
    pub published_at: String,
}

impl Latest {
    /// Names `run_id` as the live run of `as_of`.
    pub async fn write(
        output: &Location,
        as_of: &str,
        run_id: &str,
        status: RunStatus,
    ) -> Result<()> {
        let latest = Latest {
            run_id: run_id.to_owned(),
            status,
            manifest: manifest_path(as_of, run_id),
            published_at: timestamp(Utc::now()),
        };
        output.write_json(&latest_path(as_of), &latest).await
    }

    /// The live run of `as_of`, if any run of it ever published.
    pub async fn read(output: &Location, as_of: impl std::fmt::Display) -> Result<Option<Latest>> {
        let relative = latest_path(as_of);
        let Some(bytes) = output.read(&relative).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::internal(format!("unreadable {output}/{relative}: {e}")))
    }
}

/// The dates that have runs under `_runs/`, newest first.
pub async fn run_dates(output: &Location) -> Result<Vec<NaiveDate>> {
    let mut dates: Vec<NaiveDate> = output
        .child("_runs")
        .folders()
        .await?
        .iter()
        .filter_map(|f| f.strip_prefix("as_of="))
        .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .collect();
    dates.sort_unstable_by(|a, b| b.cmp(a));
    Ok(dates)
}

/// The manifest of the live run of `as_of` (the one `latest.json` names),
/// as JSON; None when no run of it published or its manifest is gone.
pub async fn live_manifest(
    output: &Location,
    as_of: NaiveDate,
) -> Result<Option<serde_json::Value>> {
    let Some(latest) = Latest::read(output, as_of).await? else {
        return Ok(None);
    };
    let Some(bytes) = output.read(&latest.manifest).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice(&bytes).ok())
}

/// The live manifest of the most recent date before `before` whose
/// manifest `wanted` accepts, with that date.
async fn latest_before(
    output: &Location,
    before: NaiveDate,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> Result<Option<(NaiveDate, serde_json::Value)>> {
    for date in run_dates(output).await?.into_iter().filter(|d| *d < before) {
        if let Some(manifest) = live_manifest(output, date).await?.filter(|m| wanted(m)) {
            return Ok(Some((date, manifest)));
        }
    }
    Ok(None)
}

/// The live manifest of the most recent date before `before` that has a
/// summary (the report's "what changed since").
pub async fn previous_summary(
    output: &Location,
    before: NaiveDate,
) -> Result<Option<(NaiveDate, serde_json::Value)>> {
    latest_before(output, before, |m| {
        m.get("summary").is_some_and(|s| !s.is_null())
    })
    .await
}

/// The accepted rows of every source of the most recent successful run for a
/// date before `before` (the volume gate, docs/inputs.md#max_volume_drop), with
/// that date; None when there is no such run.
pub async fn previous_counts(
    output: &Location,
    before: NaiveDate,
) -> Result<Option<(NaiveDate, BTreeMap<String, SourceCounts>)>> {
    #[derive(Deserialize)]
    struct Counts {
        #[serde(default)]
        sources: BTreeMap<String, SourceCounts>,
    }
    let counts = |m: &serde_json::Value| {
        serde_json::from_value::<Counts>(m.clone())
            .map(|c| c.sources)
            .unwrap_or_default()
    };
    let found = latest_before(output, before, |m| !counts(m).is_empty()).await?;
    Ok(found.map(|(date, m)| (date, counts(&m))))
}

/// How long one stage took.
#[derive(Debug, Clone, Serialize)]
pub struct StageTiming {
    pub stage: String,
    pub seconds: f64,
    /// The highest resident size during the stage, and the engine pool's
    /// reservations then (docs/scheduling.md, Memory); absent where the
    /// process's size cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Peak>,
}

/// The record of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub pipeline: String,
    pub as_of: NaiveDate,
    pub status: RunStatus,
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
    /// What the staging cache did (docs/scheduling.md#the-staging-cache);
    /// null when the run read without it.
    #[serde(default)]
    pub cache: Option<crate::sources::cache::CacheCounts>,
    pub outputs: Vec<WrittenPartition>,
    /// Month partitions of the window that a later date owns
    /// (docs/publishing.md#who-owns-a-partition): not replaced by this run.
    pub left_alone: Vec<LeftAlone>,
    pub stages: Vec<StageTiming>,
    /// The process's highest resident size when the run ended: the
    /// kernel's high-water mark or the highest stage's, whichever is
    /// higher; null where neither can be read.
    pub peak_rss_bytes: Option<u64>,
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
            status: RunStatus::Running,
            exit_code: 0,
            error: None,
            started_at: timestamp(Utc::now()),
            ended_at: None,
            host: crate::host::host(),
            version: crate::VERSION.to_owned(),
            window: BTreeMap::new(),
            parameters,
            inputs: Vec::new(),
            sources: BTreeMap::new(),
            cache: None,
            outputs: Vec::new(),
            left_alone: Vec::new(),
            stages: Vec::new(),
            peak_rss_bytes: None,
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

    /// Records a stage that began at `started`, with the peak of the
    /// stretch `watch` saw since its last mark.
    pub fn stage_done(&mut self, stage: &str, started: Instant, watch: &Watch) {
        self.stage_took(stage, started.elapsed(), watch.mark());
    }

    pub fn stage_took(&mut self, stage: &str, took: std::time::Duration, memory: Option<Peak>) {
        tracing::info!(
            stage,
            seconds = took.as_secs_f64(),
            peak_rss_bytes = memory.map(|m| m.rss_bytes),
            "stage done"
        );
        self.stages.push(StageTiming {
            stage: stage.to_owned(),
            seconds: took.as_secs_f64(),
            memory,
        });
    }

    /// The final status: `committed` tells a failure after the commit
    /// point (the next run finishes the publication) from one before it.
    pub fn finish(&mut self, outcome: &Result<()>, committed: bool) {
        self.ended_at = Some(timestamp(Utc::now()));
        let sampled = self.stages.iter().filter_map(|s| Some(s.memory?.rss_bytes));
        self.peak_rss_bytes = crate::memory::high_water_mark()
            .into_iter()
            .chain(sampled)
            .max();
        match outcome {
            Ok(()) => self.status = RunStatus::Succeeded,
            Err(e) => {
                self.status = if committed {
                    RunStatus::Committed
                } else {
                    RunStatus::Failed
                };
                self.exit_code = e.exit_code();
                self.error = Some(e.to_string());
            }
        }
    }

    /// `_runs/as_of=D/<run_id>.json`, relative to the output location.
    pub fn relative_path(&self) -> String {
        manifest_path(self.as_of, &self.run_id)
    }

    pub async fn write(&self, output: &Location) -> Result<String> {
        let relative = self.relative_path();
        output.write_json(&relative, self).await?;
        Ok(relative)
    }
}

/// Gives a run that another run finished or undid its final status in its
/// own manifest, with what was done; a run whose outputs became live is
/// named by `latest.json`. A run killed after writing `succeeded` keeps
/// it: only its cleanup was left.
pub async fn mark_recovered(
    output: &Location,
    as_of: &str,
    run_id: &str,
    recovery: serde_json::Value,
    outputs_live: bool,
) -> Result<()> {
    let relative = manifest_path(as_of, run_id);
    let mut record = match output.read(&relative).await? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::json!({ "run_id": run_id, "as_of": as_of })),
        None => serde_json::json!({ "run_id": run_id, "as_of": as_of }),
    };
    let status = serde_json::from_value::<RunStatus>(record["status"].clone()).ok();
    let new_status = match status {
        Some(RunStatus::Succeeded) => RunStatus::Succeeded,
        // Committed, then stopped by a failure, a panic or a kill.
        _ if outputs_live => RunStatus::RolledForward,
        Some(RunStatus::Failed) => RunStatus::Failed,
        _ => RunStatus::Interrupted,
    };
    record["status"] = serde_json::to_value(new_status).map_err(Error::internal)?;
    record["recovery"] = recovery;
    output.write_json(&relative, &record).await?;
    if outputs_live {
        Latest::write(output, as_of, run_id, new_status).await?;
    }
    Ok(())
}
