//! One run for one date, walked through the stages in order:
//! config → storage → sources → quality → transforms → sinks → manifest.

use std::collections::BTreeMap;
use std::time::Instant;

use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use serde::Serialize;

use crate::calendar::Calendar;
use crate::config::{Pipeline, SourceName};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::quality::{self, SourceCounts};
use crate::sinks::{self, WrittenPartition, partition};
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

/// The DataFusion session of a run: exact decimal literals, stores registered.
pub fn session(storage: &Storage) -> Result<SessionContext> {
    let mut config = SessionConfig::new();
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    // Plain Utf8 strings: what our writers and readers (and other engines) expect.
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    let runtime = RuntimeEnvBuilder::new().build_arc()?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    storage.register_all(&ctx)?;
    Ok(ctx)
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
    let ctx = session(storage)?;
    let counts = quality::accept(&ctx, &reads, &calendar, work_dir.path()).await?;
    Ok(Accepted {
        ctx,
        calendar,
        counts,
        _work_dir: work_dir,
    })
}

/// Runs the pipeline for its `as_of` date. On failure the manifest is still
/// written (when the output location can be reached) and returned with the error.
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
    .stages(&mut manifest)
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
    async fn stages(&self, manifest: &mut Manifest) -> Result<()> {
        let params = &self.pipeline.params;
        let calendar = self.calendar(manifest);
        let work_dir = self.work_dir()?;

        let started = Instant::now();
        let reads = self
            .read_sources(&calendar, work_dir.path(), manifest)
            .await?;
        manifest.stage_done("sources", started);

        let started = Instant::now();
        let ctx = session(self.storage)?;
        let counts = quality::accept(&ctx, &reads, &calendar, work_dir.path()).await?;
        manifest.sources = counts
            .iter()
            .map(|(s, c)| (s.to_string(), c.clone()))
            .collect();
        manifest.stage_done("quality", started);

        let started = Instant::now();
        let rejected = self.write_rejected(&ctx, &calendar).await?;
        manifest.outputs.extend(rejected);
        manifest.stage_done("rejected", started);

        let rejected_at = format!("{}/rejected/as_of={}", self.output, calendar.as_of);
        quality::gate(&counts, params.max_reject_ratio.value(), &rejected_at)?;

        for (step, took) in transforms::run(&ctx, params, &calendar, work_dir.path()).await? {
            manifest.stage_took(&format!("model:{step}"), took);
        }

        let started = Instant::now();
        let outputs =
            sinks::tables::write_outputs(&ctx, self.output, &calendar, self.run_id).await?;
        manifest.outputs.extend(outputs);
        manifest.stage_done("outputs", started);
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
        let mut reads = Vec::new();
        for source in SourceName::ALL {
            let settings = &self.pipeline.sources[&source];
            let location = self.storage.location(&settings.path)?;
            let read = sources::read_source(
                source,
                settings,
                &location,
                calendar,
                &self.pipeline.params,
                work_dir,
            )
            .await?;
            for warning in &read.warnings {
                tracing::warn!("{warning}");
            }
            manifest.add_inputs(&read);
            reads.push(read);
        }
        Ok(reads)
    }

    async fn write_rejected(
        &self,
        ctx: &SessionContext,
        calendar: &Calendar,
    ) -> Result<Vec<WrittenPartition>> {
        let mut written = Vec::new();
        for source in SourceName::ALL {
            let df = quality::rejected_rows(ctx, source).await?;
            let partition = format!(
                "{}/{}",
                partition::segment("as_of", &calendar.as_of.to_string()),
                partition::segment("source", source.name())
            );
            written.push(
                sinks::replace_partition(self.output, "rejected", &partition, self.run_id, df)
                    .await?,
            );
        }
        Ok(written)
    }
}
