//! The publishing protocol (docs/publishing.md). Each state is a type:
//!
//! ```text
//!  Staging ─stage_all─► Staging ─plan─► Plan ─commit─► Committed ─publish─► Committed ─finish─► (gone)
//!     │                                        │                     │
//!     └─ abandon: nothing to publish, or       │                     └─ failure: the staging and its
//!        a failure before the commit point     │                        commit record stay (exit 5);
//!                                              │                        the next run, for any date,
//!  _staging/as_of=D/<run_id>/                  │                        publishes them first (recover)
//!    <table>/<partition>/part-00000.parquet    │
//!    report/as_of=D/index.html                 │
//!    _COMMIT.json  ◄── the commit point ───────┘
//! ```
//!
//! - Stage: every partition of the run is written under its staging folder.
//! - Commit: the partitions to publish are decided (a month partition that
//!   a later date published stays that date's,
//!   docs/publishing.md#who-owns-a-partition) and written to `_COMMIT.json`.
//!   Once the record may exist, the staging is never deleted before it is
//!   published: a failure leaves it to the next run.
//! - Publish, per partition: the staged file is copied over the partition's
//!   one data file `part-00000.parquet` (an atomic copy on object stores, a
//!   hard link renamed into place on a filesystem), anything else in the
//!   folder is deleted (hidden temporaries included), `_SUCCESS` is written
//!   last naming the run and its as_of. Every step is idempotent.
//! - Finish: the staged files are deleted, the commit record last, so that
//!   a crash during cleanup leaves a commit record whose files are either
//!   all there or all published.
//!
//! Forbidden interleavings, each tested: deleting a commit record before
//! its staged files; deleting a committed staging before it is published;
//! publishing a month over a later date's; two runs publishing at once (the
//! caller holds the output's lock and fences the commit with it).

use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::WrittenPartition;
use super::fanout::{Target, write_fanned};
use super::parquet::{WrittenFile, write_dataframe};
use crate::crashpoint::crash_point;
use crate::error::{Error, Result};
use crate::storage::Location;
use datafusion::dataframe::DataFrame;

/// The one data file of a published partition.
pub const DATA_FILE: &str = "part-00000.parquet";
/// Written last in a partition: the run and the file that are live.
pub const SUCCESS: &str = "_SUCCESS";
/// Written last in a staging folder: the run may be published.
const COMMIT: &str = "_COMMIT.json";
/// Every staged run, by date.
const STAGING: &str = "_staging";

/// What a committed run publishes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    pub run_id: String,
    pub as_of: String,
    pub partitions: Vec<StagedPartition>,
}

impl Commit {
    /// Whether it publishes model outputs (not only rejected rows).
    pub fn has_outputs(&self) -> bool {
        self.partitions.iter().any(|p| p.table != "rejected")
    }
}

/// One staged partition: `table/k=v/...`, its one file and its rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StagedPartition {
    pub table: String,
    pub partition: String,
    pub rows: u64,
    /// The partition's one file: [`DATA_FILE`] for a table, `index.html`
    /// for the report (commit records older than the report name none).
    #[serde(default = "data_file")]
    pub file: String,
}

fn data_file() -> String {
    DATA_FILE.to_owned()
}

impl StagedPartition {
    fn folder(&self) -> String {
        format!("{}/{}", self.table, self.partition)
    }

    /// A partition of the date's own (`as_of=D/...`), which no other date
    /// writes; the others (months) are shared between dates.
    fn is_own(&self, as_of: &str) -> bool {
        self.partition
            .strip_prefix("as_of=")
            .is_some_and(|rest| rest.split('/').next() == Some(as_of))
    }
}

/// `_SUCCESS`: which run's file is live in a partition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Success {
    pub run_id: String,
    /// The date of the run; for a month partition, the date that owns it.
    #[serde(default)]
    pub as_of: String,
    pub files: Vec<WrittenFile>,
}

/// The rows of staged partitions of a table.
pub enum Rows {
    /// One partition, its own DataFrame.
    Partition {
        table: String,
        partition: String,
        df: DataFrame,
    },
    /// Several partitions read at once ([`fanout`](super::fanout)): the
    /// rows of `df` by the value of `column`, as (value, partition).
    Fanned {
        table: String,
        df: DataFrame,
        column: String,
        partitions: Vec<(String, String)>,
    },
}

/// Writes `rows` into the staging `folder`: the partitions staged.
async fn stage_rows(rows: Rows, output: &Location, folder: &str) -> Result<Vec<StagedPartition>> {
    let staged = |table: &str, partition: &str, file: WrittenFile| StagedPartition {
        table: table.to_owned(),
        partition: partition.to_owned(),
        rows: file.rows,
        file: data_file(),
    };
    match rows {
        Rows::Partition {
            table,
            partition,
            df,
        } => {
            let relative = format!("{folder}/{table}/{partition}/{DATA_FILE}");
            let file = write_dataframe(df, output, &relative).await?;
            Ok(vec![staged(&table, &partition, file)])
        }
        Rows::Fanned {
            table,
            df,
            column,
            partitions,
        } => {
            let targets: Vec<Target> = partitions
                .iter()
                .map(|(value, partition)| Target {
                    value: value.clone(),
                    relative: format!("{folder}/{table}/{partition}/{DATA_FILE}"),
                })
                .collect();
            let files = write_fanned(df, &column, output, &targets).await?;
            let parts = partitions.iter().zip(files);
            Ok(parts
                .map(|((_, p), file)| staged(&table, p, file))
                .collect())
        }
    }
}

/// `_staging/as_of=D/<run_id>`.
fn staging_folder(as_of: &str, run_id: &str) -> String {
    format!("{STAGING}/as_of={as_of}/{run_id}")
}

/// The staging folder of one run, before its commit point.
pub struct Staging {
    output: Location,
    run_id: String,
    as_of: String,
    staged: Vec<StagedPartition>,
}

impl Staging {
    pub fn new(output: &Location, as_of: &str, run_id: &str) -> Staging {
        Staging {
            output: output.clone(),
            run_id: run_id.to_owned(),
            as_of: as_of.to_owned(),
            staged: Vec::new(),
        }
    }

    fn folder(&self) -> String {
        staging_folder(&self.as_of, &self.run_id)
    }

    /// Whether partitions of `table` are staged (all of a `stage_all`
    /// call, or none).
    pub fn holds(&self, table: &str) -> bool {
        self.staged.iter().any(|p| p.table == table)
    }

    /// Writes partitions into the staging folder, a few at once (one
    /// Parquet writer encodes and compresses on one core). They count as
    /// staged only when all of them are.
    pub async fn stage_all(&mut self, parts: Vec<Rows>) -> Result<()> {
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (output, folder) = (&self.output, &self.folder());
        let mut written = futures::stream::iter(parts)
            .map(|rows| stage_rows(rows, output, folder))
            .buffered(parallel);
        let mut staged = Vec::new();
        while let Some(parts) = written.next().await {
            for part in parts? {
                crash_point(&format!("staged {}/{}", part.table, part.partition))?;
                crate::progress::advance(0, part.rows);
                staged.push(part);
            }
        }
        self.staged.extend(staged);
        Ok(())
    }

    /// Stages a partition made of one file that is not a table (the
    /// report's `index.html`).
    pub async fn stage_file(
        &mut self,
        table: &str,
        partition: &str,
        file: &str,
        bytes: Vec<u8>,
    ) -> Result<()> {
        let relative = format!("{}/{table}/{partition}/{file}", self.folder());
        self.output.write(&relative, bytes).await?;
        crash_point(&format!("staged {table}/{partition}"))?;
        self.staged.push(StagedPartition {
            table: table.to_owned(),
            partition: partition.to_owned(),
            rows: 0,
            file: file.to_owned(),
        });
        Ok(())
    }

    /// Where the staged partitions of this run are, laid out as the output.
    pub fn root(&self) -> Location {
        self.output.child(&self.folder())
    }

    /// Decides which staged partitions of `tables` this run publishes: a month
    /// partition a later date published is left alone
    /// (docs/publishing.md#who-owns-a-partition). Nothing is written: a failure
    /// here is a failure before the commit point.
    pub async fn plan(&self, tables: &[&str]) -> Result<Plan> {
        let mut plan = Plan::default();
        for p in self
            .staged
            .iter()
            .filter(|p| tables.contains(&p.table.as_str()))
        {
            match later_owner(&self.output, p, &self.as_of).await? {
                Some(owner_as_of) => plan.left_alone.push(LeftAlone {
                    table: p.table.clone(),
                    partition: p.partition.clone(),
                    owner_as_of,
                }),
                None => plan.partitions.push(p.clone()),
            }
        }
        crash_point("committing")?;
        Ok(plan)
    }

    /// The commit point: writes the plan's partitions to the commit record.
    /// From the moment the record is sent, the staging is kept until it is
    /// published, even when this fails: the answer may have been lost after
    /// the record was written.
    pub async fn commit(self, plan: Plan) -> Result<Committed> {
        let committed = Committed {
            output: self.output.clone(),
            commit: Commit {
                run_id: self.run_id.clone(),
                as_of: self.as_of.clone(),
                partitions: plan.partitions,
            },
        };
        let relative = format!("{}/{COMMIT}", self.folder());
        self.output.write_json(&relative, &committed.commit).await?;
        crash_point("committed")?;
        Ok(committed)
    }

    /// Removes the staging of a run that publishes nothing.
    pub async fn abandon(self) -> Result<()> {
        remove_staged_run(&self.output, &self.folder()).await
    }
}

/// A month partition a run left alone because a later date owns it.
#[derive(Debug, Clone, Serialize)]
pub struct LeftAlone {
    pub table: String,
    pub partition: String,
    /// The later as_of whose run published it.
    pub owner_as_of: String,
}

/// What a run will commit, and the months it leaves to a later date.
#[derive(Debug, Default)]
pub struct Plan {
    partitions: Vec<StagedPartition>,
    pub left_alone: Vec<LeftAlone>,
}

/// The as_of of a later date that published this (shared) partition, if any.
async fn later_owner(
    output: &Location,
    p: &StagedPartition,
    as_of: &str,
) -> Result<Option<String>> {
    if p.is_own(as_of) {
        return Ok(None);
    }
    // A marker we cannot read names no owner: the partition is replaced.
    let owner = read_marker(output, &p.folder()).await?.map(|s| s.as_of);
    let owner = owner.unwrap_or_default();
    Ok((owner.as_str() > as_of).then_some(owner))
}

/// A run past its commit point: its partitions are published, by it or by
/// the next run.
pub struct Committed {
    output: Location,
    commit: Commit,
}

impl Committed {
    pub fn commit(&self) -> &Commit {
        &self.commit
    }

    /// Publishes every partition of the commit; safe to repeat.
    pub async fn publish(&self) -> Result<Vec<WrittenPartition>> {
        let mut written = Vec::new();
        for p in &self.commit.partitions {
            if let Some(w) = publish_partition(&self.output, &self.commit, p).await? {
                written.push(w);
            }
        }
        Ok(written)
    }

    /// Removes the staging folder, once the run's manifest says what is live.
    pub async fn finish(self) -> Result<()> {
        let folder = staging_folder(&self.commit.as_of, &self.commit.run_id);
        remove_staged_run(&self.output, &folder).await
    }
}

/// Deletes a staged run: its files first, its commit record last.
async fn remove_staged_run(output: &Location, folder: &str) -> Result<()> {
    let dir = output.child(folder);
    let (commit, files): (Vec<Path>, Vec<Path>) = dir
        .list()
        .await?
        .into_iter()
        .partition(|p| p.filename() == Some(COMMIT));
    for path in &files {
        output.delete(path).await?;
    }
    dir.remove_hidden_temporaries()?;
    crash_point("staged files removed")?;
    for path in &commit {
        output.delete(path).await?;
    }
    crash_point("staging removed")?;
    Ok(())
}

/// Copy the staged file over the live one (atomic), drop anything else in
/// the partition, then write `_SUCCESS`. A staged file that is gone was
/// published before a crash (its `_SUCCESS` names the run): nothing to do.
async fn publish_partition(
    output: &Location,
    commit: &Commit,
    p: &StagedPartition,
) -> Result<Option<WrittenPartition>> {
    let (folder, name) = (p.folder(), p.file.as_str());
    let staged = output.path_of(&format!(
        "{}/{folder}/{name}",
        staging_folder(&commit.as_of, &commit.run_id)
    ));
    let live = output.path_of(&format!("{folder}/{name}"));
    match live_state(output, &staged, &live).await? {
        Live::Differs => output.copy(&staged, &live).await?,
        Live::Same => {}
        Live::StagedGone => {
            let marked = read_marker(output, &folder).await?.map(|s| s.run_id);
            if marked.as_ref() != Some(&commit.run_id) {
                tracing::warn!(
                    "{output}/{folder}: the staged file of run {} is gone and it was never published there; left as it is",
                    commit.run_id
                );
                return Ok(None);
            }
        }
    }
    crash_point(&format!("published {folder}"))?;
    let dir = output.child(&folder);
    for stray in dir.list().await? {
        let stray_name = stray.filename().unwrap_or_default();
        if stray_name != p.file && stray_name != SUCCESS {
            output.delete(&stray).await?;
        }
    }
    dir.remove_hidden_temporaries()?;
    let file = WrittenFile {
        path: format!("{folder}/{name}"),
        rows: p.rows,
    };
    write_marker(output, &folder, &commit.run_id, &commit.as_of, file.clone()).await?;
    crash_point(&format!("marked {folder}"))?;
    Ok(Some(WrittenPartition {
        table: p.table.clone(),
        partition: p.partition.clone(),
        rows: p.rows,
        files: vec![file],
    }))
}

/// Writes a partition's `_SUCCESS`, last: `file` of `run_id` is live.
pub async fn write_marker(
    output: &Location,
    folder: &str,
    run_id: &str,
    as_of: &str,
    file: WrittenFile,
) -> Result<()> {
    let marker = Success {
        run_id: run_id.to_owned(),
        as_of: as_of.to_owned(),
        files: vec![file],
    };
    output
        .write_json(&format!("{folder}/{SUCCESS}"), &marker)
        .await
}

/// A partition's `_SUCCESS`, if it has one that can be read.
async fn read_marker(output: &Location, folder: &str) -> Result<Option<Success>> {
    Ok(output
        .read(&format!("{folder}/{SUCCESS}"))
        .await?
        .and_then(|bytes| serde_json::from_slice::<Success>(&bytes).ok()))
}

enum Live {
    /// The live file is another (or none): copy.
    Differs,
    /// The live file already is the staged one (a roll-forward of a
    /// partition published before the crash). On a filesystem the copy is
    /// a hard link renamed over the live name, and POSIX `rename` between
    /// two links of one file does nothing but leave the temporary behind,
    /// so it is not copied again.
    Same,
    /// Nothing staged (any more).
    StagedGone,
}

async fn live_state(output: &Location, staged: &Path, live: &Path) -> Result<Live> {
    let head = |path: &Path| {
        let path = path.clone();
        async move {
            match output.store.head(&path).await {
                Ok(meta) => Ok(Some((meta.size, meta.e_tag))),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(Error::storage(
                    format!("reading {output}/{}", output.relative(&path)),
                    e,
                )),
            }
        }
    };
    let (a, b) = (head(staged).await?, head(live).await?);
    Ok(match (a, b) {
        (None, _) => Live::StagedGone,
        (Some((sa, Some(ea))), Some((sb, Some(eb)))) if sa == sb && ea == eb => Live::Same,
        _ => Live::Differs,
    })
}

/// What recovery did with a staged run it found.
#[derive(Debug, Clone, Serialize)]
pub struct Recovered {
    pub run_id: String,
    pub as_of: String,
    /// `rolled_forward` (it had committed) or `rolled_back` (it had not).
    pub action: String,
    /// Its model outputs are now live (it committed more than rejected rows).
    pub outputs_live: bool,
}

/// Finishes or undoes every run, of any date, that left a staging folder
/// behind, oldest first: a committed run is published again, one that had
/// not committed is dropped; `record` is told what was done before the
/// staging is removed, so a crash in between only repeats the work. Runs
/// under the output's lock, so no live run is touched, and before the new
/// run stages anything, so a committed run is published before any later
/// one.
pub async fn recover(
    output: &Location,
    mut record: impl AsyncFnMut(&Recovered) -> Result<()>,
) -> Result<Vec<Recovered>> {
    let root = output.child(STAGING);
    let mut runs: Vec<(String, String)> = root
        .list()
        .await?
        .iter()
        .filter_map(|p| {
            let relative = root.relative(p);
            let mut parts = relative.split('/');
            let as_of = parts.next()?.strip_prefix("as_of=")?.to_owned();
            Some((parts.next()?.to_owned(), as_of))
        })
        .collect();
    runs.sort();
    runs.dedup();
    let mut recovered = Vec::new();
    for (run_id, as_of) in runs {
        let folder = staging_folder(&as_of, &run_id);
        let (action, outputs_live) = match read_commit(output, &folder).await? {
            Some(commit) => {
                let committed = Committed {
                    output: output.clone(),
                    commit,
                };
                committed.publish().await?;
                ("rolled_forward", committed.commit.has_outputs())
            }
            None => ("rolled_back", false),
        };
        let done = Recovered {
            run_id,
            as_of,
            action: action.to_owned(),
            outputs_live,
        };
        record(&done).await?;
        remove_staged_run(output, &folder).await?;
        recovered.push(done);
    }
    root.remove_hidden_temporaries()?;
    Ok(recovered)
}

async fn read_commit(output: &Location, folder: &str) -> Result<Option<Commit>> {
    let relative = format!("{folder}/{COMMIT}");
    let Some(bytes) = output.read(&relative).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::internal(format!("unreadable commit record {output}/{relative}: {e}")))
}
