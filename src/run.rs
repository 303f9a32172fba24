//! One run for one date, walked through the stages in order:
//! config → storage → sources → quality → transforms → sinks → manifest.

use std::collections::BTreeMap;
use std::time::Instant;

use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use serde::Serialize;

use crate::calendar::Calendar;
use crate::config::{Pipeline, SourceName};
use crate::crashpoint::crash_point;
use crate::error::{Error, Result};
use crate::lock;
use crate::manifest::Manifest;
use crate::memory::release_free_memory;
use crate::quality::{self, SourceCounts};
use crate::sinks::publish::{self, Recovered, Staging};
use crate::sinks::{self, partition};
use crate::sources::{self, SourceRead};
use crate::storage::{Location, Storage};
use crate::transforms;

/// What a finished run reports back to its caller.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub output: String,
    pub manifest_path: Option<String>,
    pub manifest: Manifest,
}

impl RunReport {
    pub fn counts(&self) -> &BTreeMap<String, SourceCounts> {
        &self.manifest.sources
    }
}

/// A failed run: the error, and the manifest it still wrote.
#[derive(Debug)]
pub struct RunFailure {
    pub error: Error,
    pub report: Option<RunReport>,
}

impl From<Error> for RunFailure {
    fn from(error: Error) -> Self {
        RunFailure {
            error,
            report: None,
        }
    }
}

/// A new run id: sortable by start time, unique across hosts.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let unique = uuid::Uuid::now_v7().simple().to_string();
    format!("{now}-{}", &unique[unique.len() - 8..])
}

/// The DataFusion session of a run: exact decimal literals, stores
/// registered, and with a memory limit a fair spilling pool (which names its
/// largest consumers when it runs out) spilling into the run's work folder.
pub fn session(
    storage: &Storage,
    memory_limit: Option<u64>,
    spill_dir: &std::path::Path,
) -> Result<SessionContext> {
    let mut config = SessionConfig::new();
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    // Plain Utf8 strings: what our writers and readers (and other engines) expect.
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    // Filters are applied while decoding (late materialization): the output
    // partitions each select one month or tier of a scratch table.
    config.options_mut().execution.parquet.pushdown_filters = true;
    // The session writes only scratch tables, read back once or twice on
    // this machine; the outputs have their own writer settings.
    config.options_mut().execution.parquet.compression = Some("uncompressed".to_owned());
    // A reader fetches a row group's columns whole: small row groups bound it.
    config.options_mut().execution.parquet.max_row_group_size = 1 << 17;
    // A join whose small side is the customers is built once and probed by
    // every partition of billing, rather than both sides reshuffled by key.
    config
        .options_mut()
        .optimizer
        .hash_join_single_partition_threshold = 256 << 20;
    config
        .options_mut()
        .optimizer
        .hash_join_single_partition_threshold_rows = 8 << 20;
    let mut runtime = RuntimeEnvBuilder::new().with_disk_manager_builder(
        DiskManagerBuilder::default()
            .with_mode(DiskManagerMode::Directories(vec![spill_dir.to_path_buf()])),
    );
    if let Some(limit) = memory_limit {
        // Hash joins stay: their build sides are small by construction
        // (customers, the calendar, doubled keys, rejected keys); what grows
        // with billing is aggregation and sorting, and both spill. A
        // sort-merge join would sort the whole of billing instead.
        let fair = FairSpillPool::new(engine_pool(limit));
        let top = std::num::NonZeroUsize::new(5).expect("5 is not 0");
        runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(fair, top)));
    }
    let runtime = runtime.build_arc()?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    storage.register_all(&ctx)?;
    Ok(ctx)
}

/// The query engine's share of a memory limit. The limit is for the whole
/// process: a quarter is left for what the engine's pool does not track
/// (Parquet readers' and writers' buffers, the file readers of the sources
/// stage, the allocator's slack).
fn engine_pool(limit: u64) -> usize {
    usize::try_from(limit / 4 * 3).unwrap_or(usize::MAX)
}

/// The accepted input tables of a date, registered in a session as
/// `customers`, `billing` and `costs`, with the counts of every source.
pub struct Accepted {
    pub ctx: SessionContext,
    pub calendar: Calendar,
    pub counts: BTreeMap<SourceName, SourceCounts>,
    /// Holds the scratch files the tables are read from.
    _work_dir: tempfile::TempDir,
}

/// Reads and checks the inputs of the pipeline's date, without writing anything.
pub async fn accept_inputs(pipeline: &Pipeline, storage: &Storage) -> Result<Accepted> {
    let output = storage.location(&pipeline.output)?;
    let run_id = new_run_id();
    let run = Run {
        pipeline,
        storage,
        output: &output,
        run_id: &run_id,
    };
    let mut manifest = Manifest::new(
        &run_id,
        &pipeline.name,
        pipeline.params.as_of.0,
        serde_json::Value::Null,
    );
    let calendar = run.calendar(&mut manifest);
    let work_dir = run.work_dir()?;
    let reads = run
        .read_sources(&calendar, work_dir.path(), &mut manifest)
        .await?;
    let ctx = session(storage, pipeline.memory_limit, work_dir.path())?;
    let counts = quality::accept(&ctx, &reads, &calendar, work_dir.path()).await?;
    Ok(Accepted {
        ctx,
        calendar,
        counts,
        _work_dir: work_dir,
    })
}

/// How long a run's lock lasts before another run may take it over.
pub const LOCK_LEASE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Runs the pipeline for its `as_of` date: under the date's lock, after
/// finishing or undoing any crashed run of the date, publishing its
/// partitions only when it succeeds (and its rejected rows when the gate
/// fails). The manifest is written when the run starts (status `running`)
/// and again with its final status, whatever happens; on failure it is
/// returned with the error.
pub async fn run(
    pipeline: &Pipeline,
    storage: &Storage,
) -> std::result::Result<RunReport, RunFailure> {
    let run_id = new_run_id();
    let as_of = pipeline.params.as_of.0;
    let parameters = serde_json::to_value(pipeline).map_err(|e| Error::internal(e.to_string()))?;
    let mut manifest = Manifest::new(&run_id, &pipeline.name, as_of, parameters);
    let output = storage.location(&pipeline.output)?;
    let outcome = Run {
        pipeline,
        storage,
        output: &output,
        run_id: &run_id,
    }
    .under_lock(&mut manifest)
    .await;
    manifest.finish(&outcome);
    let written = manifest.write(&output).await;
    let report = RunReport {
        run_id,
        output: output.to_string(),
        manifest_path: written.as_ref().ok().map(|p| format!("{output}/{p}")),
        manifest,
    };
    match (outcome, written) {
        (Ok(()), Ok(_)) => Ok(report),
        (Ok(()), Err(error)) => Err(RunFailure {
            error,
            report: Some(report),
        }),
        (Err(error), written) => {
            if let Err(e) = written {
                tracing::error!("could not write the run manifest: {e}");
            }
            Err(RunFailure {
                error,
                report: Some(report),
            })
        }
    }
}

struct Run<'a> {
    pipeline: &'a Pipeline,
    storage: &'a Storage,
    output: &'a Location,
    run_id: &'a str,
}

impl Run<'_> {
    async fn under_lock(&self, manifest: &mut Manifest) -> Result<()> {
        let as_of = self.pipeline.params.as_of.0.to_string();
        let lock = lock::acquire(self.output, &as_of, self.run_id, LOCK_LEASE).await?;
        let outcome = self.recover_then_run(manifest, &as_of).await;
        let released = lock.release().await;
        outcome.and(released)
    }

    async fn recover_then_run(&self, manifest: &mut Manifest, as_of: &str) -> Result<()> {
        manifest.write(self.output).await?;
        crash_point("manifest started");
        for recovered in publish::recover(self.output, as_of).await? {
            record_recovery(self.output, as_of, self.run_id, &recovered).await?;
            manifest.recovered.push(recovered);
        }
        for run_id in runs_left_running(self.output, as_of, self.run_id).await? {
            let recovered = Recovered {
                run_id,
                action: "nothing_published".to_owned(),
                outputs_live: false,
            };
            record_recovery(self.output, as_of, self.run_id, &recovered).await?;
            manifest.recovered.push(recovered);
        }
        let mut staging = Staging::new(self.output, as_of, self.run_id);
        let outcome = self.stages(manifest, &mut staging).await;
        if outcome.is_err() && staging.holds_uncommitted("rejected") {
            // A failed run still publishes its rejected rows (SPEC §6).
            match staging.publish(&["rejected"]).await {
                Ok(written) => manifest.outputs.extend(written),
                Err(e) => tracing::error!("could not publish the rejected rows: {e}"),
            }
        }
        manifest.finish(&outcome);
        manifest.write(self.output).await?;
        crash_point("manifest finished");
        if outcome.is_ok() {
            write_latest(self.output, as_of, self.run_id, "succeeded").await?;
            crash_point("latest written");
        }
        // Leftover staging is harmless: the next run of the date removes it
        // (rolling the commit forward again first, which changes nothing).
        if let Err(e) = staging.finish().await {
            tracing::warn!("could not remove the staging folder: {e}");
        }
        outcome
    }

    async fn stages(&self, manifest: &mut Manifest, staging: &mut Staging) -> Result<()> {
        let params = &self.pipeline.params;
        let calendar = self.calendar(manifest);
        let work_dir = self.work_dir()?;

        let started = Instant::now();
        let reads = self
            .read_sources(&calendar, work_dir.path(), manifest)
            .await?;
        manifest.stage_done("sources", started);
        release_free_memory();

        let started = Instant::now();
        let ctx = session(self.storage, self.pipeline.memory_limit, work_dir.path())?;
        let counts = quality::accept(&ctx, &reads, &calendar, work_dir.path()).await?;
        manifest.sources = counts
            .iter()
            .map(|(s, c)| (s.to_string(), c.clone()))
            .collect();
        manifest.stage_done("quality", started);
        release_free_memory();

        let started = Instant::now();
        self.stage_rejected(&ctx, &calendar, staging).await?;
        manifest.stage_done("rejected", started);

        let rejected_at = format!("{}/rejected/as_of={}", self.output, calendar.as_of);
        if let Err(failed) = quality::gate(&counts, params.max_reject_ratio.value(), &rejected_at) {
            manifest
                .outputs
                .extend(staging.publish(&["rejected"]).await?);
            return Err(failed);
        }

        for step in transforms::run(&ctx, params, &calendar, work_dir.path()).await? {
            manifest.stage_took(&format!("model:{}", step.table), step.took);
            manifest.plans.push((step.table, step.plan));
        }

        let started = Instant::now();
        sinks::tables::stage_outputs(&ctx, staging, &calendar).await?;
        manifest.stage_done("outputs", started);

        let started = Instant::now();
        let mut tables: Vec<&str> = sinks::tables::OUTPUTS.iter().map(|(t, _)| *t).collect();
        tables.push("rejected");
        manifest.outputs.extend(staging.publish(&tables).await?);
        manifest.stage_done("publish", started);
        manifest.summary = Some(crate::summary::summarize(&ctx).await?);
        Ok(())
    }

    fn calendar(&self, manifest: &mut Manifest) -> Calendar {
        let params = &self.pipeline.params;
        let calendar = Calendar::new(params.as_of.0, params.window_months);
        manifest.window = BTreeMap::from([
            ("start".to_owned(), calendar.window_start),
            ("end".to_owned(), calendar.window_end),
            ("last_month".to_owned(), calendar.last_month),
        ]);
        calendar
    }

    fn work_dir(&self) -> Result<tempfile::TempDir> {
        let builder = tempfile::Builder::new().prefix("cvm-etl-").tempdir_in(
            self.pipeline
                .temp_dir
                .clone()
                .map_or_else(std::env::temp_dir, std::path::PathBuf::from),
        );
        builder.map_err(|e| Error::config(format!("cannot create a work folder: {e}")))
    }

    async fn read_sources(
        &self,
        calendar: &Calendar,
        work_dir: &std::path::Path,
        manifest: &mut Manifest,
    ) -> Result<Vec<SourceRead>> {
        // The sources are read at once, so that one source's last big file
        // does not leave the other cores idle; errors are reported in source
        // order, whichever came first.
        let reading = SourceName::ALL.map(|source| async move {
            let settings = &self.pipeline.sources[&source];
            let location = self.storage.location(&settings.path)?;
            sources::read_source(
                source,
                settings,
                &location,
                calendar,
                &self.pipeline.params,
                work_dir,
            )
            .await
        });
        let mut reads = Vec::new();
        for read in futures::future::join_all(reading).await {
            let read = read?;
            for warning in &read.warnings {
                tracing::warn!("{warning}");
            }
            manifest.add_inputs(&read);
            reads.push(read);
        }
        Ok(reads)
    }

    async fn stage_rejected(
        &self,
        ctx: &SessionContext,
        calendar: &Calendar,
        staging: &mut Staging,
    ) -> Result<()> {
        for source in SourceName::ALL {
            let df = quality::rejected_rows(ctx, source).await?;
            let partition = format!(
                "{}/{}",
                partition::segment("as_of", &calendar.as_of.to_string()),
                partition::segment("source", source.name())
            );
            staging.stage("rejected", &partition, df).await?;
        }
        Ok(())
    }
}

/// `_runs/as_of=D/latest.json`: the run whose outputs are live.
async fn write_latest(output: &Location, as_of: &str, run_id: &str, status: &str) -> Result<()> {
    let latest = serde_json::json!({
        "run_id": run_id,
        "status": status,
        "manifest": format!("_runs/as_of={as_of}/{run_id}.json"),
        "published_at": crate::manifest::timestamp(chrono::Utc::now()),
    });
    output
        .write_json(&format!("_runs/as_of={as_of}/latest.json"), &latest)
        .await
}

/// Gives a crashed run its final status in its own manifest: `interrupted`,
/// with what recovery did; a rolled-forward run's outputs are live.
async fn record_recovery(output: &Location, as_of: &str, by: &str, r: &Recovered) -> Result<()> {
    let relative = format!("_runs/as_of={as_of}/{}.json", r.run_id);
    let mut record = match output.read(&relative).await? {
        Some(bytes) => serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::json!({ "run_id": r.run_id })),
        None => serde_json::json!({ "run_id": r.run_id, "as_of": as_of }),
    };
    // A run killed after its final manifest keeps its status; only the
    // cleanup was left to do.
    if record["status"] != "succeeded" && record["status"] != "failed" {
        record["status"] = "interrupted".into();
    }
    record["recovery"] = serde_json::json!({ "by_run": by, "action": r.action });
    output.write_json(&relative, &record).await?;
    if r.outputs_live {
        write_latest(output, as_of, &r.run_id, "rolled_forward").await?;
    }
    Ok(())
}

/// Runs of the date whose manifest still says `running`: under the date's
/// lock, none of them is alive.
async fn runs_left_running(output: &Location, as_of: &str, us: &str) -> Result<Vec<String>> {
    let dir = format!("_runs/as_of={as_of}");
    let paths = output.child(&dir).list().await?;
    let mut running = Vec::new();
    for path in paths {
        let Some(run_id) = path.filename().and_then(|f| f.strip_suffix(".json")) else {
            continue;
        };
        if run_id == us || run_id == "latest" {
            continue;
        }
        let Some(bytes) = output.read(&format!("{dir}/{run_id}.json")).await? else {
            continue;
        };
        let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if record["status"] == "running" {
            running.push(run_id.to_owned());
        }
    }
    Ok(running)
}
