//! The publishing protocol (docs/publishing.md): stage every partition of a
//! run under `_staging/as_of=D/<run_id>/`, write the commit record, then
//! publish partition by partition. A crashed run is rolled forward (it had
//! committed) or back (it had not) by the next run for the same date.
//!
//! Each partition holds exactly one data file under a fixed name,
//! `part-00000.parquet`, replaced by one atomic copy (an S3 CopyObject, a
//! rename on a filesystem), so that a reader who lists the partition sees the
//! old file or the new one, never both; `_SUCCESS`, written last, names the
//! run and the file.

use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::WrittenPartition;
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

/// What a committed run publishes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    pub run_id: String,
    pub as_of: String,
    pub partitions: Vec<StagedPartition>,
}

/// One staged partition: `table/k=v/...`, and its rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StagedPartition {
    pub table: String,
    pub partition: String,
    pub rows: u64,
}

impl StagedPartition {
    fn folder(&self) -> String {
        format!("{}/{}", self.table, self.partition)
    }
}

/// The staging folder of one run.
pub struct Staging {
    output: Location,
    run_id: String,
    as_of: String,
    folder: String,
    staged: Vec<StagedPartition>,
    committed: bool,
}

/// `_staging/as_of=D/`: every staged run of one date.
fn staging_root(as_of: &str) -> String {
    format!("_staging/as_of={as_of}")
}

impl Staging {
    pub fn new(output: &Location, as_of: &str, run_id: &str) -> Staging {
        Staging {
            output: output.clone(),
            run_id: run_id.to_owned(),
            as_of: as_of.to_owned(),
            folder: format!("{}/{run_id}", staging_root(as_of)),
            staged: Vec::new(),
            committed: false,
        }
    }

    /// Whether partitions of `table` are staged and no commit was made yet.
    pub fn holds_uncommitted(&self, table: &str) -> bool {
        !self.committed && self.staged.iter().any(|p| p.table == table)
    }

    /// Writes one partition's rows into the staging folder.
    pub async fn stage(&mut self, table: &str, partition: &str, df: DataFrame) -> Result<()> {
        self.stage_all(vec![(table.to_owned(), partition.to_owned(), df)])
            .await
    }

    /// Writes partitions into the staging folder, a few at once: one
    /// Parquet writer encodes and compresses on one core.
    pub async fn stage_all(&mut self, parts: Vec<(String, String, DataFrame)>) -> Result<()> {
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (output, folder) = (&self.output, &self.folder);
        let mut written = futures::stream::iter(parts)
            .map(|(table, partition, df)| async move {
                let relative = format!("{folder}/{table}/{partition}/{DATA_FILE}");
                let file: WrittenFile = write_dataframe(df, output, &relative).await?;
                Ok::<_, Error>(StagedPartition {
                    table,
                    partition,
                    rows: file.rows,
                })
            })
            .buffered(parallel);
        while let Some(staged) = written.next().await {
            let staged = staged?;
            crash_point(&format!("staged {}/{}", staged.table, staged.partition));
            self.staged.push(staged);
        }
        Ok(())
    }

    /// Records the staged partitions whose table is in `tables` as the run's
    /// commit, then publishes them. The staging folder stays until
    /// [`Staging::finish`], so that a crash before then is rolled forward.
    pub async fn publish(&mut self, tables: &[&str]) -> Result<Vec<WrittenPartition>> {
        self.committed = true;
        let commit = Commit {
            run_id: self.run_id.clone(),
            as_of: self.as_of.clone(),
            partitions: self
                .staged
                .iter()
                .filter(|p| tables.contains(&p.table.as_str()))
                .cloned()
                .collect(),
        };
        self.output
            .write_json(&format!("{}/{COMMIT}", self.folder), &commit)
            .await?;
        crash_point("committed");
        publish_commit(&self.output, &commit).await
    }

    /// Removes the staging folder: after a publish, once the run's manifest
    /// is written; or to abandon a run that publishes nothing.
    pub async fn finish(self) -> Result<()> {
        self.output.child(&self.folder).remove_all().await?;
        crash_point("staging removed");
        Ok(())
    }
}

/// Publishes every partition of a commit; safe to repeat. Each storage
/// operation of a publish is idempotent and is retried where it is made
/// (`Location`), so a lost answer does not stop a committed run half-way.
async fn publish_commit(output: &Location, commit: &Commit) -> Result<Vec<WrittenPartition>> {
    let mut written = Vec::new();
    for p in &commit.partitions {
        written.push(publish_partition(output, commit, p).await?);
    }
    Ok(written)
}

/// Copy the staged file over the live one (atomic), drop anything else in
/// the partition, then write `_SUCCESS`.
async fn publish_partition(
    output: &Location,
    commit: &Commit,
    p: &StagedPartition,
) -> Result<WrittenPartition> {
    let folder = p.folder();
    let staged = output.path_of(&format!(
        "{}/{}/{folder}/{DATA_FILE}",
        staging_root(&commit.as_of),
        commit.run_id
    ));
    let live = output.path_of(&format!("{folder}/{DATA_FILE}"));
    if !already_live(output, &staged, &live).await? {
        output.copy(&staged, &live).await?;
    }
    crash_point(&format!("published {folder}"));
    let dir = output.child(&folder);
    for stray in dir.list().await? {
        let name = stray.filename().unwrap_or_default();
        if name != DATA_FILE && name != SUCCESS {
            output.delete(&stray).await?;
        }
    }
    let file = WrittenFile {
        path: format!("{folder}/{DATA_FILE}"),
        rows: p.rows,
    };
    let marker =
        serde_json::json!({ "run_id": commit.run_id, "as_of": commit.as_of, "files": [&file] });
    output
        .write_json(&format!("{folder}/{SUCCESS}"), &marker)
        .await?;
    crash_point(&format!("marked {folder}"));
    Ok(WrittenPartition {
        table: p.table.clone(),
        partition: p.partition.clone(),
        rows: p.rows,
        files: vec![file],
    })
}

/// Whether the live file already is the staged one (a roll-forward of a
/// partition published before the crash). Copying it again would be
/// harmless on object stores, but on a filesystem the copy is a hard link
/// renamed over the live name, and POSIX `rename` between two links of one
/// file does nothing, leaving the temporary link behind.
async fn already_live(output: &Location, staged: &Path, live: &Path) -> Result<bool> {
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
    Ok(matches!((a, b), (Some((sa, Some(ea))), Some((sb, Some(eb)))) if sa == sb && ea == eb))
}

/// What recovery did with a staged run it found.
#[derive(Debug, Clone, Serialize)]
pub struct Recovered {
    pub run_id: String,
    /// `rolled_forward` (it had committed), `rolled_back`, or
    /// `nothing_published` (it never staged anything).
    pub action: String,
    /// Its model outputs are now live (it committed more than rejected rows).
    pub outputs_live: bool,
}

/// Finishes or undoes every run of `as_of` that left a staging folder
/// behind. Runs under the date's lock, so no live run is touched.
pub async fn recover(output: &Location, as_of: &str) -> Result<Vec<Recovered>> {
    let root = output.child(&staging_root(as_of));
    let mut runs: Vec<String> = root
        .list()
        .await?
        .iter()
        .filter_map(|p| root.relative(p).split('/').next().map(str::to_owned))
        .collect();
    runs.sort();
    runs.dedup();
    let mut recovered = Vec::new();
    for run_id in runs {
        let folder = format!("{}/{run_id}", staging_root(as_of));
        let (action, outputs_live) = match read_commit(output, &folder).await? {
            Some(commit) => {
                publish_commit(output, &commit).await?;
                (
                    "rolled_forward",
                    commit.partitions.iter().any(|p| p.table != "rejected"),
                )
            }
            None => ("rolled_back", false),
        };
        output.child(&folder).remove_all().await?;
        recovered.push(Recovered {
            run_id,
            action: action.to_owned(),
            outputs_live,
        });
    }
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
