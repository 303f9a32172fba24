//! One run for one date, walked through the stages in order:
//! config → storage → sources → quality → transforms → sinks → manifest,
//! inside the protocol of docs/publishing.md: the output's lock, recovery
//! of crashed runs, the commit point, publication, cleanup.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use datafusion::prelude::SessionContext;
use futures::FutureExt;
use serde::Serialize;
use tracing::Instrument;

use crate::calendar::Calendar;
use crate::cluster;
use crate::config::{Engine, Pipeline, default_max_spill};
use crate::crashpoint::crash_point;
use crate::domain::SourceName;
use crate::error::{Error, Result};
use crate::lock::{self, Holder, Lock};
use crate::manifest::{self, Latest, Manifest, RunStatus};
use crate::memory::{Watch, release_free_memory};
use crate::quality::{self, SourceCounts};
use crate::report;
use crate::scratch::{self, Scratch};
use crate::session::{self, Spill, explain_spill_limit, session};
use crate::sinks::publish::{self, Recovered, Rows, Staging};
use crate::sinks::{self, partition};
use crate::sources::cache::Cache;
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

/// The accepted input tables of a date, registered in a session as
/// `customers`, `billing` and `costs`, with the counts of every source.
pub struct Accepted {
    pub ctx: SessionContext,
    pub calendar: Calendar,
    pub counts: BTreeMap<SourceName, SourceCounts>,
    /// Holds the scratch files the tables are read from.
    _work_dir: tempfile::TempDir,
}

/// Reads and checks the inputs of the pipeline's date, without writing
/// anything: on this machine, whatever the pipeline's engine (a cluster
/// would write to the output's scratch, which only a run under the
/// output's lock may).
pub async fn accept_inputs(pipeline: &Pipeline, storage: &Storage) -> Result<Accepted> {
    let pipeline = &Pipeline {
        engine: Engine::Local,
        ..pipeline.clone()
    };
    let output = storage.location(&pipeline.output)?;
    let run_id = new_run_id();
    let run = Run {
        pipeline,
        storage,
        output: &output,
        run_id: &run_id,
        watch: Watch::off(),
    };
    let mut manifest = Manifest::new(
        &run_id,
        &pipeline.name,
        pipeline.params.as_of.0,
        serde_json::Value::Null,
    );
    let calendar = run.calendar(&mut manifest);
    let work_dir = run.work_dir()?;
    let scratch = run.scratch(work_dir.path())?;
    // No cache: this reads without writing anything.
    let (reads, ctx, _) = run
        .read_sources(&calendar, &scratch, &mut manifest, false)
        .await?;
    let counts = quality::accept(&ctx, &reads, &calendar, &scratch).await?;
    Ok(Accepted {
        ctx,
        calendar,
        counts,
        _work_dir: work_dir,
    })
}

/// How long a run's lock lasts without renewal; the run renews it every
/// fifth of that while it works, so a run that died is taken over this
/// long after its last renewal (at once on the same host).
pub const LOCK_LEASE: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Runs the pipeline for its `as_of` date under the output's lock: first
/// finishing or undoing any crashed run (of any date), then reading,
/// checking and computing, then publishing what the outcome allows
/// ([`publishable`]). The manifest is written when the run starts (status
/// `running`) and again with its final status, whatever happens; on
/// failure it is returned with the error.
pub async fn run(
    pipeline: &Pipeline,
    storage: &Storage,
) -> std::result::Result<RunReport, RunFailure> {
    let run_id = new_run_id();
    let as_of = pipeline.params.as_of.0;
    let parameters = serde_json::to_value(pipeline).map_err(|e| Error::internal(e.to_string()))?;
    let mut manifest = Manifest::new(&run_id, &pipeline.name, as_of, parameters);
    let output = storage.location(&pipeline.output)?;
    // Every log line of the run names it.
    let span = tracing::info_span!("run", run_id = %run_id, as_of = %as_of);
    let outcome = Run {
        pipeline,
        storage,
        output: &output,
        run_id: &run_id,
        watch: Watch::start(),
    }
    .under_lock(&mut manifest)
    .instrument(span)
    .await;
    // Refused the lock, or failed before the locked part wrote its status.
    let written = if manifest.status == RunStatus::Running {
        manifest.finish(&outcome, false);
        manifest.write(&output).await.map(|_| ())
    } else {
        Ok(())
    };
    let report = RunReport {
        run_id,
        output: output.to_string(),
        manifest_path: Some(format!("{output}/{}", manifest.relative_path())),
        manifest,
    };
    match (outcome, written) {
        (Ok(()), Ok(())) => Ok(report),
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

/// The session of the model stages and what they work on.
struct Model<'a> {
    ctx: &'a SessionContext,
    calendar: &'a Calendar,
    scratch: &'a Scratch,
}

/// The bytes of the files `planned` reads.
fn input_bytes(planned: &[sources::Planned]) -> u64 {
    planned.iter().flat_map(|p| &p.files).map(|f| f.size).sum()
}

/// The run's spill folder and budget: `max_spill`, else
/// [`default_max_spill`] of the `input` bytes of the files to read.
fn spill_budget(pipeline: &Pipeline, input: u64, work_dir: &std::path::Path) -> Spill {
    Spill {
        dir: work_dir.to_path_buf(),
        max_bytes: pipeline
            .max_spill
            .unwrap_or_else(|| default_max_spill(input)),
    }
}

/// The session the run's queries go through: this process's, or a driver
/// of the cluster the pipeline names (docs/scale-out.md).
async fn engine_session(
    pipeline: &Pipeline,
    storage: &Storage,
    spill: &Spill,
) -> Result<SessionContext> {
    match &pipeline.engine {
        Engine::Local => session(storage, pipeline.memory_limit, Some(spill)),
        Engine::Ballista(scheduler) => {
            let runtime = session::runtime(pipeline.memory_limit, Some(spill));
            cluster::driver(storage, scheduler, runtime).await
        }
    }
}

/// What a run publishes: everything when it succeeded; when it failed before
/// its commit point, only its rejected rows (docs/inputs.md#the-gates), if it
/// got as far as staging them.
fn publishable(outcome: &Result<()>, staging: &Staging) -> Vec<&'static str> {
    match outcome {
        Ok(()) => sinks::tables::OUTPUTS
            .iter()
            .map(|o| o.table)
            .chain(["rejected", report::TABLE])
            .collect(),
        Err(_) if staging.holds("rejected") => vec!["rejected"],
        Err(_) => Vec::new(),
    }
}

struct Run<'a> {
    pipeline: &'a Pipeline,
    storage: &'a Storage,
    output: &'a Location,
    run_id: &'a str,
    /// How high the process's memory goes in each stage.
    watch: Watch,
}

impl Run<'_> {
    async fn under_lock(&self, manifest: &mut Manifest) -> Result<()> {
        let as_of = self.pipeline.params.as_of.0.to_string();
        let (lock, replaced) = lock::acquire(self.output, self.run_id, &as_of, LOCK_LEASE).await?;
        // A panic anywhere is a bug, but still a failed run: its manifest
        // says so and its lock is released.
        let outcome = AssertUnwindSafe(self.locked(manifest, &lock, replaced))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                Err(Error::internal(
                    "the job panicked (a bug: please report it with the run manifest; the log says where)",
                ))
            });
        if manifest.status == RunStatus::Running {
            manifest.finish(&outcome, false);
            if let Err(e) = manifest.write(self.output).await {
                tracing::error!("could not write the run manifest: {e}");
            }
        }
        if let Err(e) = lock.release().await {
            tracing::warn!("could not release the lock (the next run takes it over): {e}");
        }
        outcome
    }

    async fn locked(
        &self,
        manifest: &mut Manifest,
        lock: &Lock,
        replaced: Option<Holder>,
    ) -> Result<()> {
        manifest.write(self.output).await?;
        crash_point("manifest started")?;
        self.recover(manifest, replaced).await?;
        scratch::sweep_dead_work_dirs(self.pipeline.temp_dir.as_deref());
        if let Err(e) = scratch::sweep_shared(self.output, self.run_id).await {
            tracing::warn!("could not remove the scratch of runs that died: {e}");
        }
        let as_of = self.pipeline.params.as_of.0.to_string();
        let mut staging = Staging::new(self.output, &as_of, self.run_id);
        let work_dir = self.work_dir()?;
        let scratch = self.scratch(work_dir.path())?;
        let outcome = self.stages(manifest, &mut staging, &scratch).await;
        let published = self.publish(manifest, lock, staging, outcome).await;
        // After publishing, so that the outputs do not wait for it.
        if let Err(e) = scratch.remove().await {
            tracing::warn!("could not remove the run's scratch (the next run does): {e}");
        }
        published
    }

    /// Finishes or undoes every crashed run first
    /// (docs/publishing.md#recovery), and gives the holder of a lock taken
    /// over, dead before it staged anything, its final status.
    async fn recover(&self, manifest: &mut Manifest, replaced: Option<Holder>) -> Result<()> {
        let by = self.run_id;
        let recovered = publish::recover(self.output, async |r: &Recovered| {
            let recovery = serde_json::json!({ "by_run": by, "action": r.action });
            manifest::mark_recovered(self.output, &r.as_of, &r.run_id, recovery, r.outputs_live)
                .await
        })
        .await?;
        manifest.recovered.extend(recovered);
        if let Some(dead) = replaced.filter(|h| {
            !h.as_of.is_empty() && !manifest.recovered.iter().any(|r| r.run_id == h.run_id)
        }) {
            let recovery = serde_json::json!({ "by_run": by, "action": "nothing_published" });
            manifest::mark_recovered(self.output, &dead.as_of, &dead.run_id, recovery, false)
                .await?;
            manifest.recovered.push(Recovered {
                run_id: dead.run_id,
                as_of: dead.as_of,
                action: "nothing_published".to_owned(),
                outputs_live: false,
            });
        }
        self.output.child("_runs").remove_hidden_temporaries()?;
        crash_point("recovered")
    }

    /// The commit point and after: fenced by the lock, the staged
    /// partitions the outcome allows are committed, published, recorded in
    /// the manifest and `latest.json`, and the staging removed. A failure
    /// after the commit point leaves the staging for the next run (exit 5,
    /// status `committed`).
    async fn publish(
        &self,
        manifest: &mut Manifest,
        lock: &Lock,
        staging: Staging,
        outcome: Result<()>,
    ) -> Result<()> {
        let tables = publishable(&outcome, &staging);
        let with_outputs = outcome.is_ok();
        if tables.is_empty() {
            staging.abandon().await?;
            return outcome;
        }
        let plan = match staging.plan(&tables).await {
            Ok(plan) => plan,
            Err(e) => {
                staging.abandon().await?;
                return Err(e);
            }
        };
        if let Err(lost) = lock.ensure_held().await {
            staging.abandon().await?;
            return Err(lost);
        }
        manifest.left_alone = plan.left_alone.clone();
        let started = Instant::now();
        let committed = match staging.commit(plan).await {
            Ok(committed) => committed,
            Err(e) => return self.failed_after_commit(manifest, e, with_outputs).await,
        };
        match committed.publish().await {
            Ok(written) => manifest.outputs.extend(written),
            Err(e) => return self.failed_after_commit(manifest, e, with_outputs).await,
        }
        manifest.stage_done("publish", started, &self.watch);
        manifest.finish(&outcome, with_outputs);
        manifest.write(self.output).await?;
        crash_point("manifest finished")?;
        if with_outputs {
            let as_of = self.pipeline.params.as_of.0.to_string();
            Latest::write(self.output, &as_of, self.run_id, RunStatus::Succeeded).await?;
            crash_point("latest written")?;
        }
        // Leftover staging is harmless: the next run publishes it again
        // (which changes nothing) and removes it.
        if let Err(e) = committed.finish().await {
            tracing::warn!("could not remove the staging folder: {e}");
        }
        outcome
    }

    async fn failed_after_commit(
        &self,
        manifest: &mut Manifest,
        error: Error,
        with_outputs: bool,
    ) -> Result<()> {
        let error = match error {
            Error::Storage { context, source } => Error::Storage {
                context: format!(
                    "{context} (after the commit point: the next run, for any date, finishes publishing run {})",
                    self.run_id
                ),
                source,
            },
            other => other,
        };
        let outcome = Err(error);
        manifest.finish(&outcome, with_outputs);
        if let Err(e) = manifest.write(self.output).await {
            tracing::error!("could not write the run manifest: {e}");
        }
        outcome
    }

    async fn stages(
        &self,
        manifest: &mut Manifest,
        staging: &mut Staging,
        scratch: &Scratch,
    ) -> Result<()> {
        let calendar = self.calendar(manifest);
        // The lock and recovery are not a stage of their own.
        self.watch.mark();
        let started = Instant::now();
        let (reads, ctx, spill) = self
            .read_sources(&calendar, scratch, manifest, self.pipeline.cache)
            .await?;
        manifest.stage_done("sources", started, &self.watch);
        release_free_memory();

        self.watch
            .engine(Arc::clone(&ctx.runtime_env().memory_pool));
        let model = Model {
            ctx: &ctx,
            calendar: &calendar,
            scratch,
        };
        self.model_stages(manifest, staging, &reads, &model)
            .await
            .map_err(|e| explain_spill_limit(e, &spill))
            .map_err(|e| self.explain(e))
    }

    /// A cluster's failure named as one (exit 5).
    fn explain(&self, error: Error) -> Error {
        match &self.pipeline.engine {
            Engine::Ballista(scheduler) => cluster::explain(error, scheduler),
            Engine::Local => error,
        }
    }

    /// From the read rows to the staged outputs and report, in the run's
    /// session (where the engine may spill).
    async fn model_stages(
        &self,
        manifest: &mut Manifest,
        staging: &mut Staging,
        reads: &[SourceRead],
        model: &Model<'_>,
    ) -> Result<()> {
        let params = &self.pipeline.params;
        let Model {
            ctx,
            calendar,
            scratch,
        } = *model;
        let started = Instant::now();
        let counts = quality::accept(ctx, reads, calendar, scratch).await?;
        manifest.sources = counts
            .iter()
            .map(|(s, c)| (s.to_string(), c.clone()))
            .collect();
        manifest.stage_done("quality", started, &self.watch);
        release_free_memory();

        let started = Instant::now();
        self.stage_rejected(ctx, calendar, staging).await?;
        manifest.stage_done("rejected", started, &self.watch);

        let rejected_at = format!("{}/rejected/as_of={}", self.output, calendar.as_of);
        quality::gate(&counts, params.max_reject_ratio.0.value(), &rejected_at)?;
        let previous = self.previous_run(calendar.as_of).await?;
        quality::volume_gate(&counts, previous.as_ref(), params.max_volume_drop.0.value())?;

        for step in transforms::run(ctx, params, calendar, scratch, &self.watch).await? {
            let stage = format!("model:{}", step.table);
            manifest.stage_took(&stage, step.took, step.memory);
            manifest.plans.push((step.table, step.plan));
        }

        let started = Instant::now();
        sinks::tables::stage_outputs(ctx, staging, calendar).await?;
        manifest.stage_done("outputs", started, &self.watch);
        manifest.summary = Some(crate::summary::summarize(ctx).await?);
        // Counts and summary on record before the commit point: a run
        // killed after it is still a previous run with known volumes.
        manifest.write(self.output).await?;

        let started = Instant::now();
        self.stage_report(manifest, staging).await?;
        manifest.stage_done("report", started, &self.watch);
        Ok(())
    }

    /// Builds the finance report from the staged tables and stages it, to
    /// be published with them.
    async fn stage_report(&self, manifest: &Manifest, staging: &mut Staging) -> Result<()> {
        let as_of = self.pipeline.params.as_of.0.to_string();
        let recorded =
            serde_json::to_value(manifest).map_err(|e| Error::internal(e.to_string()))?;
        let materiality = self.pipeline.params.report.materiality.0.value();
        let tables = staging.root();
        let html = report::build(&report::Sources {
            storage: self.storage,
            output: self.output,
            tables: &tables,
            manifest: &recorded,
            materiality,
        })
        .await?;
        let partition = report::partition(&as_of);
        staging
            .stage_file(report::TABLE, &partition, report::FILE, html.into_bytes())
            .await
    }

    /// The accepted rows of the last successful run for an earlier date.
    async fn previous_run(&self, as_of: chrono::NaiveDate) -> Result<Option<quality::Previous>> {
        Ok(manifest::previous_counts(self.output, as_of)
            .await?
            .map(|(date, sources)| quality::Previous {
                described: format!("the run for {date}"),
                accepted: sources
                    .into_iter()
                    .map(|(s, c)| (s, c.rows_accepted))
                    .collect(),
            }))
    }

    fn calendar(&self, manifest: &mut Manifest) -> Calendar {
        let params = &self.pipeline.params;
        let calendar = Calendar::new(params.as_of.0, params.window_months.0);
        manifest.window = BTreeMap::from([
            ("start".to_owned(), calendar.window_start),
            ("end".to_owned(), calendar.window_end),
            ("last_month".to_owned(), calendar.last_month),
        ]);
        calendar
    }

    /// Where the run's scratch tables are read from: on a cluster, below
    /// the output, where every executor reaches them.
    fn scratch(&self, work_dir: &std::path::Path) -> Result<Scratch> {
        match &self.pipeline.engine {
            Engine::Local => Ok(Scratch::local(work_dir)),
            Engine::Ballista(_) => {
                let scratch = Scratch::shared(work_dir, self.output, self.run_id);
                tracing::info!("scratch tables shared at {}", scratch.url("")?);
                Ok(scratch)
            }
        }
    }

    fn work_dir(&self) -> Result<tempfile::TempDir> {
        scratch::work_dir(self.pipeline.temp_dir.as_deref())
            .map_err(|e| Error::config(format!("cannot create a work folder: {e}")))
    }

    /// Lists the sources and reads them, here or on the cluster, into the
    /// scratch; the session the model then runs in, and its spill budget.
    async fn read_sources(
        &self,
        calendar: &Calendar,
        scratch: &Scratch,
        manifest: &mut Manifest,
        cache: bool,
    ) -> Result<(Vec<SourceRead>, SessionContext, Spill)> {
        // Listed at once; errors in source order, whichever came first.
        let listing = SourceName::ALL.map(|source| async move {
            let settings = &self.pipeline.sources[&source];
            let location = self.storage.location(&settings.path)?;
            sources::plan_source(source, settings, &location, calendar, &self.pipeline.params).await
        });
        let planned = futures::future::join_all(listing)
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        let spill = spill_budget(self.pipeline, input_bytes(&planned), &scratch.local);
        let ctx = engine_session(self.pipeline, self.storage, &spill).await?;
        let cache = match cache {
            true => Some(Arc::new(self.cache().await)),
            false => None,
        };
        let reads = match &self.pipeline.engine {
            Engine::Local => self.read_here(planned, scratch, cache.clone()).await?,
            Engine::Ballista(_) => {
                let at = scratch.location("")?;
                cluster::read::read_sources(&ctx, planned, &at, cache.as_deref())
                    .await
                    .map_err(|e| self.explain(e))?
            }
        };
        if let Some(cache) = cache {
            if let Err(e) = cache.evict().await {
                tracing::warn!("staging cache: not cleaned: {e}");
            }
            manifest.cache = Some(cache.counts());
        }
        for read in &reads {
            for warning in &read.warnings {
                tracing::warn!("{warning}");
            }
            manifest.add_inputs(read);
        }
        Ok((reads, ctx, spill))
    }

    /// Reads the `planned` sources in this process, into the scratch's work
    /// folder, taking what it can from `cache`.
    async fn read_here(
        &self,
        planned: Vec<sources::Planned>,
        scratch: &Scratch,
        cache: Option<Arc<Cache>>,
    ) -> Result<Vec<SourceRead>> {
        // The sources are read at once, so that one source's last big file
        // does not leave the other cores idle; errors are reported in source
        // order, whichever came first.
        let reading = planned
            .into_iter()
            .map(|p| sources::read_planned(p, &scratch.local, cache.clone()));
        futures::future::join_all(reading)
            .await
            .into_iter()
            .collect()
    }

    /// The staging cache for this run: one that writes and cleans when no
    /// later date has been published, else (a backfill) one that only
    /// reads, so that the nightly entries survive it.
    async fn cache(&self) -> Cache {
        let as_of = self.pipeline.params.as_of.0;
        let nightly = match self.later_date_published(as_of).await {
            Ok(later) => !later,
            Err(e) => {
                tracing::warn!("staging cache: read only: {e}");
                false
            }
        };
        Cache::new(self.output, self.run_id, as_of, nightly)
    }

    async fn later_date_published(&self, as_of: chrono::NaiveDate) -> Result<bool> {
        for date in manifest::run_dates(self.output).await? {
            if date > as_of && Latest::read(self.output, date).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Stages the rejected rows of every source: all three, or none.
    async fn stage_rejected(
        &self,
        ctx: &SessionContext,
        calendar: &Calendar,
        staging: &mut Staging,
    ) -> Result<()> {
        let mut parts = Vec::new();
        for source in SourceName::ALL {
            let df = quality::rejected_rows(ctx, source).await?;
            let partition = format!(
                "{}/{}",
                partition::segment("as_of", &calendar.as_of.to_string()),
                partition::segment("source", source.name())
            );
            parts.push(Rows::Partition {
                table: "rejected".to_owned(),
                partition,
                df,
            });
        }
        staging.stage_all(parts).await
    }
}
