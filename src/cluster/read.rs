//! Reading and checking the sources on the executors, one task per group
//! of files.
//!
//! ```text
//!   driver                                   executors
//!   plan_source: list, choose, check ready
//!   SourceFiles (a table) ── plan ─────────▶ ReadSourceExec, a partition per group:
//!                                              for each file of the group,
//!                                                stage_file into temp parts (work dir):
//!                                                  from the staging cache, or read and
//!                                                  checked (and kept in the cache),
//!                                                upload them to _scratch/<run_id>/
//!                                                  staged_S/_file_id=i/part.parquet
//!                                                  rejected_S/part-i.parquet
//!                                                  keys_S/part-i.parquet
//!   gather: counts, warnings  ◀── rows ───── one row a file: what staging found,
//!   the cache's use, then eviction             what it did with the cache
//! ```
//!
//! The driver lists and never reads a record: every file is read once, by
//! one executor, with the same readers and checks as a local run, so the
//! staged parts are the ones a local run would write. A task that fails
//! fails the run (Ballista retries it first); a part is only ever written
//! whole, so a retried task replaces what a failed one uploaded.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DataFusionError;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::SourceSettings;
use crate::domain::SourceName;
use crate::error::{Error, Result};
use crate::sources::cache::{Cache, CacheSettings, CacheUse};
use crate::sources::{self, FileStaged, Format, InputFile, PartKind, Parts, Planned, SourceRead};
use crate::storage::Location;

/// The one column of what a read task answers: an [`Answer`] a file, as
/// JSON.
const STAGED: &str = "staged";

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(STAGED, DataType::Utf8, false)]))
}

/// Reads and checks the files of every source of `planned` on the cluster
/// behind `ctx`, in one job of at most `target_partitions` tasks, their
/// parts written below `scratch`, taking what it can from `cache`, which
/// then holds what every task did with it; the reads in the order of
/// `planned`.
pub async fn read_sources(
    ctx: &SessionContext,
    planned: Vec<Planned>,
    scratch: &Location,
    cache: Option<&Cache>,
) -> Result<Vec<SourceRead>> {
    let groups = ctx.state().config().target_partitions();
    let job = Job::of(&planned, scratch, groups, cache.map(Cache::settings));
    let mut answers = Answers::new(planned.len());
    if !job.groups.is_empty() {
        let batches = ctx
            .read_table(Arc::new(SourceFiles { job }))?
            .collect()
            .await?;
        for batch in &batches {
            for row in batch.column(0).as_string::<i32>().iter().flatten() {
                let answer = serde_json::from_str(row)
                    .map_err(|e| Error::internal(format!("a read task's answer: {e}")))?;
                answers.add(answer, cache)?;
            }
        }
    }
    answers.reads(planned)
}

/// The answers of a job's tasks, as they come.
struct Answers {
    /// What staging found, by source.
    staged: Vec<Vec<FileStaged>>,
    /// The first file that failed, in source and file order, as a local
    /// run would report it.
    failed: Option<((usize, usize), Failure)>,
}

impl Answers {
    fn new(sources: usize) -> Answers {
        Answers {
            staged: (0..sources).map(|_| Vec::new()).collect(),
            failed: None,
        }
    }

    fn add(&mut self, answer: Answer, cache: Option<&Cache>) -> Result<()> {
        match answer {
            Answer::Staged {
                source,
                staged,
                cache: used,
            } => {
                self.staged
                    .get_mut(source)
                    .ok_or_else(|| Error::internal("a read task answered for no source"))?
                    .push(staged);
                if let (Some(cache), Some(used)) = (cache, used) {
                    cache.absorb(used);
                }
            }
            Answer::Failed {
                source,
                file,
                failure,
            } => {
                if self
                    .failed
                    .as_ref()
                    .is_none_or(|(at, _)| (source, file) < *at)
                {
                    self.failed = Some(((source, file), failure));
                }
            }
        }
        Ok(())
    }

    /// The reads of `planned`, once every file answered exactly once; the
    /// first failure otherwise.
    fn reads(self, planned: Vec<Planned>) -> Result<Vec<SourceRead>> {
        if let Some((_, failure)) = self.failed {
            return Err(failure.into_error());
        }
        let mut reads = Vec::new();
        for (planned, mut staged) in planned.into_iter().zip(self.staged) {
            staged.sort_by_key(|f| f.file_id);
            let ids: Vec<i32> = staged.iter().map(|f| f.file_id).collect();
            if ids != (0..planned.files.len() as i32).collect::<Vec<_>>() {
                return Err(Error::internal(format!(
                    "{}: the cluster answered for {} of {} files",
                    planned.source,
                    ids.len(),
                    planned.files.len()
                )));
            }
            reads.push(sources::gather(planned, staged));
        }
        Ok(reads)
    }
}

/// What a read task answers for one file; `source` is the index of its
/// source in the job.
#[derive(Debug, Serialize, Deserialize)]
enum Answer {
    Staged {
        source: usize,
        staged: FileStaged,
        /// What the task did with the cache for this file.
        cache: Option<CacheUse>,
    },
    /// The file could not be staged; the task stopped there.
    Failed {
        source: usize,
        file: usize,
        failure: Failure,
    },
}

/// An error of a read task, as it travels back: its kind, which decides
/// the run's exit code as it would on a local run, and its message (which,
/// like every error of the readers, names the file, line and column, never
/// a record's text).
#[derive(Debug, Serialize, Deserialize)]
enum Failure {
    Config(String),
    NotReady(String),
    Storage { context: String, cause: String },
    Internal(String),
}

impl Failure {
    fn of(error: Error) -> Failure {
        match error {
            Error::Config(message) => Failure::Config(message),
            Error::NotReady(message) => Failure::NotReady(message),
            Error::Storage { context, source } => Failure::Storage {
                context,
                cause: source.to_string(),
            },
            other if other.exit_code() == 5 => Failure::Storage {
                context: "reading on an executor".to_owned(),
                cause: other.to_string(),
            },
            other => Failure::Internal(other.to_string()),
        }
    }

    fn into_error(self) -> Error {
        match self {
            Failure::Config(message) => Error::Config(message),
            Failure::NotReady(message) => Error::NotReady(message),
            Failure::Storage { context, cause } => Error::Storage {
                context,
                source: object_store::Error::Generic {
                    store: "executor",
                    source: cause.into(),
                },
            },
            Failure::Internal(message) => Error::Internal(message),
        }
    }
}

/// The reading of the sources, as it travels in a plan: URLs, not stores
/// (each role resolves them from its own environment).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    sources: Vec<SourceJob>,
    /// The run's scratch, where the parts go.
    scratch: String,
    /// The run's staging cache, if it has one.
    cache: Option<CacheSettings>,
    /// The files of each task.
    groups: Vec<Vec<FileRef>>,
}

/// A file of the job: its source's index, and its own in that source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct FileRef {
    source: usize,
    file: usize,
}

/// One source's files, as the driver planned them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SourceJob {
    source: SourceName,
    location: String,
    settings: SourceSettings,
    max_record_bytes: usize,
    currency: String,
    as_of: NaiveDate,
    files: Vec<File>,
}

/// An [`InputFile`] on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct File {
    path: String,
    relative: String,
    dt: Option<NaiveDate>,
    format: Format,
    size: u64,
    e_tag: Option<String>,
    last_modified: DateTime<Utc>,
}

impl Job {
    fn of(
        planned: &[Planned],
        scratch: &Location,
        groups: usize,
        cache: Option<CacheSettings>,
    ) -> Job {
        let files: Vec<(FileRef, u64)> = planned
            .iter()
            .enumerate()
            .flat_map(|(source, p)| {
                p.files
                    .iter()
                    .enumerate()
                    .map(move |(file, f)| (FileRef { source, file }, f.size))
            })
            .collect();
        let sizes: Vec<u64> = files.iter().map(|(_, size)| *size).collect();
        Job {
            sources: planned.iter().map(SourceJob::of).collect(),
            scratch: scratch.url(),
            cache,
            groups: balanced(&sizes, groups)
                .into_iter()
                .map(|group| group.into_iter().map(|i| files[i].0).collect())
                .collect(),
        }
    }

    pub fn to_bytes(&self) -> datafusion::common::Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| DataFusionError::Internal(e.to_string()))
    }

    pub fn from_bytes(bytes: &[u8]) -> datafusion::common::Result<Job> {
        serde_json::from_slice(bytes).map_err(|e| DataFusionError::Internal(e.to_string()))
    }

    /// Reads the files of group `group`, uploading each one's parts before
    /// the next is read; one row a file.
    async fn read_group(&self, group: usize, context: Arc<TaskContext>) -> Result<RecordBatch> {
        let planned = self
            .sources
            .iter()
            .map(|s| s.planned(&context))
            .collect::<Result<Vec<_>>>()?;
        let scratch = location(&context, &self.scratch)?;
        let mut rows = Vec::new();
        for &FileRef { source, file } in self.groups.get(group).into_iter().flatten() {
            let planned = planned
                .get(source)
                .ok_or_else(|| Error::internal("a read task for no source"))?;
            let answer = match self.stage(planned, file, &scratch, &context).await {
                Ok((staged, cache)) => Answer::Staged {
                    source,
                    staged,
                    cache,
                },
                Err(error) => Answer::Failed {
                    source,
                    file,
                    failure: Failure::of(error),
                },
            };
            let failed = matches!(answer, Answer::Failed { .. });
            rows.push(serde_json::to_string(&answer).map_err(|e| Error::internal(e.to_string()))?);
            if failed {
                break;
            }
        }
        tracing::info!(
            "read {} files (group {group}) into the run's scratch",
            rows.len()
        );
        Ok(RecordBatch::try_new(
            schema(),
            vec![Arc::new(StringArray::from(rows)) as Arc<dyn Array>],
        )?)
    }

    /// Stages one file and uploads its parts to the scratch; what the
    /// cache did for it.
    async fn stage(
        &self,
        planned: &Planned,
        file: usize,
        scratch: &Location,
        context: &TaskContext,
    ) -> Result<(FileStaged, Option<CacheUse>)> {
        let temp = TempParts::create(context)?;
        let cache = match &self.cache {
            Some(settings) => Some(Arc::new(settings.cache(location(context, &settings.root)?))),
            None => None,
        };
        let staged = sources::stage_file(planned, file, &temp.parts, cache.clone()).await?;
        for kind in PartKind::ALL {
            let name = format!(
                "{}/{}",
                kind.folder(planned.source),
                kind.part(staged.file_id)
            );
            scratch.upload(&name, temp.parts.of_kind(kind)).await?;
        }
        Ok((staged, cache.map(|c| c.used())))
    }
}

impl SourceJob {
    fn of(planned: &Planned) -> SourceJob {
        SourceJob {
            source: planned.source,
            location: planned.location.url(),
            settings: planned.settings.clone(),
            max_record_bytes: planned.max_record_bytes,
            currency: planned.currency.clone(),
            as_of: planned.as_of,
            files: planned.files.iter().map(File::of).collect(),
        }
    }

    /// What the driver planned, with the stores of this role.
    fn planned(&self, context: &TaskContext) -> Result<Planned> {
        let files = self
            .files
            .iter()
            .map(File::input)
            .collect::<Result<Vec<_>>>()?;
        Ok(Planned {
            source: self.source,
            location: location(context, &self.location)?,
            settings: self.settings.clone(),
            max_record_bytes: self.max_record_bytes,
            currency: self.currency.clone(),
            as_of: self.as_of,
            files,
            warnings: Vec::new(),
        })
    }
}

impl File {
    fn of(file: &InputFile) -> File {
        File {
            path: file.path.to_string(),
            relative: file.relative.clone(),
            dt: file.dt,
            format: file.format,
            size: file.size,
            e_tag: file.e_tag.clone(),
            last_modified: file.last_modified,
        }
    }

    fn input(&self) -> Result<InputFile> {
        Ok(InputFile {
            path: object_store::path::Path::parse(&self.path)
                .map_err(|e| Error::internal(format!("{}: {e}", self.path)))?,
            relative: self.relative.clone(),
            dt: self.dt,
            format: self.format,
            size: self.size,
            e_tag: self.e_tag.clone(),
            last_modified: self.last_modified,
        })
    }
}

/// The location at `url`, with the store this role's registry gives for it.
fn location(context: &TaskContext, url: &str) -> Result<Location> {
    let url = Url::parse(url).map_err(|e| Error::internal(format!("{url}: {e}")))?;
    let base = ObjectStoreUrl::parse(&url[..url::Position::BeforePath])?;
    let store = context.runtime_env().object_store(&base)?;
    Location::at(&url, store)
}

/// `groups` lists of file indexes, the largest file first into the group
/// with the fewest bytes so far; no group is empty.
fn balanced(sizes: &[u64], groups: usize) -> Vec<Vec<usize>> {
    let groups = groups.clamp(1, sizes.len().max(1));
    let mut by_size: Vec<usize> = (0..sizes.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    let mut out: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); groups];
    for i in by_size {
        let lightest = (0..groups).min_by_key(|&g| out[g].0).unwrap_or(0);
        out[lightest].0 += sizes[i];
        out[lightest].1.push(i);
    }
    out.into_iter()
        .map(|(_, mut files)| {
            files.sort_unstable();
            files
        })
        .filter(|files| !files.is_empty())
        .collect()
}

/// A file's three parts as temporary files of the executor's work folder,
/// removed when dropped.
struct TempParts {
    parts: Parts,
    _files: Vec<Arc<dyn datafusion::execution::SpillFile>>,
}

impl TempParts {
    fn create(context: &TaskContext) -> Result<TempParts> {
        let disk = &context.runtime_env().disk_manager;
        let files = (0..3)
            .map(|_| disk.create_tmp_file("a staged part"))
            .collect::<datafusion::common::Result<Vec<_>>>()?;
        let path = |i: usize| {
            files[i]
                .path()
                .map(|p| p.to_path_buf())
                .ok_or_else(|| Error::internal("the executor's temp files have no path"))
        };
        Ok(TempParts {
            parts: Parts {
                staged: path(0)?,
                rejected: path(1)?,
                keys: path(2)?,
            },
            _files: files,
        })
    }
}

/// The files of one source, as a table whose scan reads them.
#[derive(Debug)]
pub struct SourceFiles {
    pub job: Job,
}

#[async_trait::async_trait]
impl TableProvider for SourceFiles {
    fn schema(&self) -> SchemaRef {
        schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(ReadSourceExec::new(self.job.clone())))
    }
}

/// Reads a group of files a partition ([`Job::read_group`]).
#[derive(Debug)]
pub struct ReadSourceExec {
    pub job: Job,
    properties: Arc<PlanProperties>,
}

impl ReadSourceExec {
    pub fn new(job: Job) -> ReadSourceExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema()),
            Partitioning::UnknownPartitioning(job.groups.len()),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        ReadSourceExec {
            job,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for ReadSourceExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "ReadSourceExec: {} files in {} groups",
            self.job.groups.iter().map(Vec::len).sum::<usize>(),
            self.job.groups.len()
        )
    }
}

impl ExecutionPlan for ReadSourceExec {
    fn name(&self) -> &str {
        "ReadSourceExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> datafusion::common::Result<TreeNodeRecursion>,
    ) -> datafusion::common::Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::common::Result<SendableRecordBatchStream> {
        let job = self.job.clone();
        let read = async move {
            job.read_group(partition, context)
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema(),
            futures::stream::once(read),
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use datafusion::physical_plan::ExecutionPlanProperties;
    use datafusion_proto::physical_plan::{DefaultPhysicalProtoConverter, PhysicalExtensionCodec};

    use super::*;
    use crate::calendar::Calendar;
    use crate::config::Params;
    use crate::storage::Storage;

    fn relative_files(root: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for entry in walk(root) {
            let name = entry
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((name, std::fs::read(&entry).unwrap()));
        }
        out.sort();
        out
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            match path.is_dir() {
                true => files.extend(walk(&path)),
                false => files.push(path),
            }
        }
        files
    }

    /// The sample's billing, read by a plan that went through the
    /// executors' codec, stages the very bytes a local read stages.
    #[tokio::test]
    async fn a_read_sent_to_executors_stages_what_a_local_read_stages() {
        let storage = Storage::new(Default::default());
        let billing = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample/billing");
        let settings = SourceSettings {
            path: billing.to_str().unwrap().to_owned(),
            encoding: Default::default(),
        };
        let location = storage.location(&settings.path).unwrap();
        let params = Params {
            as_of: crate::config::Date(NaiveDate::from_ymd_opt(2026, 10, 31).unwrap()),
            currency: "CNY".to_owned(),
            ..Params::default()
        };
        let calendar = Calendar::new(params.as_of.0, params.window_months.0);
        let planned = sources::plan_source(
            SourceName::Billing,
            &settings,
            &location,
            &calendar,
            &params,
        )
        .await
        .unwrap();
        assert!(planned.files.len() > 3, "{:?}", planned.files);

        let here = tempfile::tempdir().unwrap();
        let local = sources::read_planned(planned.clone(), here.path(), None)
            .await
            .unwrap();

        let scratch = tempfile::tempdir().unwrap();
        let at = storage.location(scratch.path().to_str().unwrap()).unwrap();
        let sent = ReadSourceExec::new(Job::of(std::slice::from_ref(&planned), &at, 3, None));
        let codec = super::super::codec::PhysicalCodec::default();
        let mut buf = Vec::new();
        codec
            .try_encode(Arc::new(sent), &mut buf, &DefaultPhysicalProtoConverter {})
            .unwrap();
        let ctx = SessionContext::new();
        let received = codec
            .try_decode(
                &buf,
                &[],
                &ctx.task_ctx(),
                &DefaultPhysicalProtoConverter {},
            )
            .unwrap();
        assert_eq!(received.output_partitioning().partition_count(), 3);
        let batches = datafusion::physical_plan::collect(received, ctx.task_ctx())
            .await
            .unwrap();
        let mut staged: Vec<FileStaged> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .map(|row| match serde_json::from_str::<Answer>(&row).unwrap() {
                Answer::Staged { staged, .. } => staged,
                Answer::Failed { failure, .. } => panic!("{failure:?}"),
            })
            .collect();
        staged.sort_by_key(|f| f.file_id);
        let remote = sources::gather(planned, staged);

        assert_eq!(remote.rows_read, local.rows_read);
        assert_eq!(remote.rejected_by_reason, local.rejected_by_reason);
        assert_eq!(remote.warnings, local.warnings);
        for kind in PartKind::ALL {
            let folder = kind.folder(SourceName::Billing);
            assert_eq!(
                relative_files(&scratch.path().join(&folder)),
                relative_files(&here.path().join(&folder)),
                "{folder}"
            );
        }
    }

    fn planned(files: usize) -> Planned {
        let location = Storage::new(Default::default())
            .location("memory://inputs/billing")
            .unwrap();
        let file = |i: usize| InputFile {
            path: location.path_of(&format!("f{i}.csv")),
            relative: format!("f{i}.csv"),
            dt: None,
            format: Format::Csv,
            size: 10,
            e_tag: None,
            last_modified: DateTime::<Utc>::default(),
        };
        let files = (0..files).map(file).collect();
        Planned {
            source: SourceName::Billing,
            settings: SourceSettings {
                path: location.url(),
                encoding: Default::default(),
            },
            location,
            max_record_bytes: 1024,
            currency: "CNY".to_owned(),
            as_of: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            files,
            warnings: Vec::new(),
        }
    }

    fn staged(file_id: i32, records: u64) -> Answer {
        Answer::Staged {
            source: 0,
            staged: FileStaged {
                file_id,
                records,
                ..FileStaged::default()
            },
            cache: None,
        }
    }

    #[test]
    fn every_file_answered_once_adds_up_and_a_file_answered_twice_or_never_is_an_error() {
        let mut once = Answers::new(1);
        for answer in [staged(1, 5), staged(0, 7)] {
            once.add(answer, None).unwrap();
        }
        assert_eq!(once.reads(vec![planned(2)]).unwrap()[0].rows_read, 12);

        let mut twice = Answers::new(1);
        for answer in [staged(0, 7), staged(1, 5), staged(1, 5)] {
            twice.add(answer, None).unwrap();
        }
        assert!(twice.reads(vec![planned(2)]).is_err());

        let mut never = Answers::new(1);
        never.add(staged(0, 7), None).unwrap();
        assert!(never.reads(vec![planned(2)]).is_err());
    }

    #[test]
    fn of_two_failed_files_the_first_in_source_order_is_the_error() {
        let failed = |file: usize, message: &str| Answer::Failed {
            source: 0,
            file,
            failure: Failure::Config(message.to_owned()),
        };
        let mut answers = Answers::new(1);
        for answer in [failed(3, "third"), staged(0, 1), failed(1, "first")] {
            answers.add(answer, None).unwrap();
        }
        let error = answers.reads(vec![planned(4)]).unwrap_err();
        assert_eq!(
            (error.exit_code(), error.to_string()),
            (2, "first".to_owned())
        );
    }

    #[test]
    fn a_failed_file_comes_back_with_the_exit_code_it_has_on_a_local_run() {
        let not_found = object_store::Error::NotFound {
            path: "billing/dt=2026-10-05/a.csv".to_owned(),
            source: "gone".into(),
        };
        let errors = [
            Error::config("billing/a.csv: missing required column 'amount'"),
            Error::NotReady("billing".to_owned()),
            Error::storage("reading billing/a.csv", not_found),
            Error::internal("a bug"),
        ];
        for error in errors {
            let code = error.exit_code();
            let message = error.to_string();
            let wire = serde_json::to_string(&Failure::of(error)).unwrap();
            let back = serde_json::from_str::<Failure>(&wire).unwrap().into_error();
            assert_eq!(back.exit_code(), code, "{message}");
            assert!(
                back.to_string()
                    .contains(message.split(": ").nth(1).unwrap_or(&message)),
                "{back}"
            );
        }
    }

    #[test]
    fn groups_hold_every_file_once_and_balance_the_bytes() {
        let groups = balanced(&[10, 1, 9, 2, 8, 3], 3);
        assert_eq!(groups, vec![vec![0, 1], vec![2, 3], vec![4, 5]]);
        assert_eq!(balanced(&[5, 5], 8), vec![vec![0], vec![1]]);
        assert_eq!(balanced(&[], 4), Vec::<Vec<usize>>::new());
    }
}
