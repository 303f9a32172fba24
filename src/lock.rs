//! One run at a time per output location: the lock object
//! `_locks/output.json`, held by a run id under a lease that the run renews
//! while it works. Runs of different dates share month partitions, so the
//! lock is the output's, not a date's.
//!
//! ```text
//!  acquire ──Create──────────────────────────────► Held ──renew (every lease/5)──► Held
//!     │ exists                                      │ │
//!     ├─ live holder ────────────► exit 6           │ └─ lease lost / taken over ──► Lost
//!     └─ stale holder (lease over, or a dead          │                              │
//!        process of this host) ──take over──► Held   ├─ ensure_held before commit ──┤ exit 6,
//!                                                    │                              │ no commit
//!                                                    └─ release: delete if still ours
//! ```
//!
//! Take-over is a compare-and-swap on the stale lock's version, so of N runs
//! that find the same stale lock exactly one wins:
//! - stores with conditional updates (S3, GCS, Azure, memory): a put with
//!   `PutMode::Update` naming the stale lock's ETag; the others get a
//!   precondition failure;
//! - a filesystem, where object_store has no `Update`: a claim object
//!   `_locks/takeover/<holder>-<etag>.json` made with `PutMode::Create`
//!   (a hard link, atomic and exclusive on POSIX filesystems and NFSv3+);
//!   only its creator replaces the lock, after checking it did not change,
//!   and then deletes the claim (a late racer that makes it again finds
//!   the lock changed).
//!
//! A lease that ran out is lost for good: the holder stops renewing it and
//! never commits, so a stale lock is never written by two runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::{GetResult, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::calendar::timestamp;
use crate::error::{Error, Result};
use crate::host::{host, process_alive};
use crate::storage::{self, Location};

/// The lock of an output location, relative to it.
pub const LOCK: &str = "_locks/output.json";
/// Where a filesystem's take-over claims are made.
const CLAIMS: &str = "_locks/takeover";

/// Who holds the lock, and until when.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    pub run_id: String,
    /// The date the holder runs for.
    #[serde(default)]
    pub as_of: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub expires_at: String,
}

impl Holder {
    fn new(run_id: &str, as_of: &str, lease: Duration) -> Holder {
        let now = Utc::now();
        Holder {
            run_id: run_id.to_owned(),
            as_of: as_of.to_owned(),
            host: host(),
            pid: std::process::id(),
            started_at: timestamp(now),
            expires_at: timestamp(now + chrono_duration(lease)),
        }
    }

    fn expires(&self) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(&self.expires_at)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    fn is_stale(&self, now: DateTime<Utc>, host: &str) -> bool {
        let expired = self.expires().is_none_or(|t| now > t);
        expired || (self.host == host && !process_alive(self.pid))
    }

    fn body(&self) -> Result<PutPayload> {
        serde_json::to_vec_pretty(self)
            .map(PutPayload::from)
            .map_err(|e| Error::internal(e.to_string()))
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(1))
}

/// The lock object as read: who holds it, and its version for a
/// compare-and-swap. A holder that cannot be parsed (a crash mid-write)
/// counts as stale.
struct Seen {
    holder: Option<Holder>,
    version: UpdateVersion,
}

/// A held lock, renewed in the background until released.
pub struct Lock {
    shared: Arc<Shared>,
    renewing: tokio::task::JoinHandle<()>,
}

struct Shared {
    output: Location,
    lease: Duration,
    state: Mutex<Held>,
    /// Tells the renewal to stop between two renewals, never during one
    /// (a write cut short on a filesystem could land after the release).
    stop: tokio::sync::Notify,
}

/// What the holder last wrote, or that the lock is lost.
#[derive(Clone)]
enum Held {
    Ours {
        holder: Holder,
        version: UpdateVersion,
    },
    Lost(String),
}

/// Takes the output's lock for `run_id` (running for `as_of`), or fails
/// with exit 6 naming the holder. Returns the lock and, when a stale lock
/// was taken over, the holder it replaced (whose run died).
pub async fn acquire(
    output: &Location,
    run_id: &str,
    as_of: &str,
    lease: Duration,
) -> Result<(Lock, Option<Holder>)> {
    let ours = Holder::new(run_id, as_of, lease);
    let (version, replaced) = take(output, &ours).await?;
    let shared = Arc::new(Shared {
        output: output.clone(),
        lease,
        state: Mutex::new(Held::Ours {
            holder: ours,
            version,
        }),
        stop: tokio::sync::Notify::new(),
    });
    let renewing = tokio::spawn(renew_until_lost(Arc::clone(&shared)));
    Ok((Lock { shared, renewing }, replaced))
}

async fn take(output: &Location, ours: &Holder) -> Result<(UpdateVersion, Option<Holder>)> {
    if let Some(version) = create(output, ours).await? {
        return Ok((version, None));
    }
    let Some(seen) = read(output).await? else {
        // Released between our create and our read: try once more.
        return match create(output, ours).await? {
            Some(version) => Ok((version, None)),
            None => Err(taken_first(output)),
        };
    };
    match &seen.holder {
        Some(h) if h.run_id == ours.run_id => {
            // Our create went through but its answer was lost.
            Ok((seen.version, None))
        }
        Some(h) if !h.is_stale(Utc::now(), &ours.host) => Err(held_by(output, h)),
        stale => {
            let replaced = stale.clone();
            let version = take_over(output, ours, seen).await?;
            if let Some(h) = &replaced {
                tracing::warn!(
                    "took over the lock of run {} (as_of {}, host {}, pid {}): it was stale",
                    h.run_id,
                    h.as_of,
                    h.host,
                    h.pid
                );
            }
            Ok((version, replaced))
        }
    }
}

/// Creates the lock; None when it exists already.
async fn create(output: &Location, ours: &Holder) -> Result<Option<UpdateVersion>> {
    let body = ours.body()?;
    let path = output.path_of(LOCK);
    let what = format!("taking the lock {output}/{LOCK}");
    storage::idempotent(&what, || async {
        let opts = PutOptions::from(PutMode::Create);
        match output.store.put_opts(&path, body.clone(), opts).await {
            Ok(put) => Ok(Some(UpdateVersion::from(put))),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(None),
            Err(e) => Err(Error::storage(&what, e)),
        }
    })
    .await
}

/// Replaces the stale lock `seen` by ours, if no other run did first.
async fn take_over(output: &Location, ours: &Holder, seen: Seen) -> Result<UpdateVersion> {
    match swap(output, ours, &seen.version).await? {
        Swap::Done(version) => Ok(version),
        Swap::Lost => Err(taken_first(output)),
        Swap::Unsupported => claim_then_replace(output, ours, seen).await,
    }
}

enum Swap {
    Done(UpdateVersion),
    Lost,
    Unsupported,
}

/// A conditional update of the lock from `from` to `ours`.
async fn swap(output: &Location, ours: &Holder, from: &UpdateVersion) -> Result<Swap> {
    let path = output.path_of(LOCK);
    let opts = PutOptions::from(PutMode::Update(from.clone()));
    let what = format!("updating the lock {output}/{LOCK}");
    match output.store.put_opts(&path, ours.body()?, opts).await {
        Ok(put) => Ok(Swap::Done(UpdateVersion::from(put))),
        Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => {
            Ok(Swap::Lost)
        }
        Err(object_store::Error::NotImplemented { .. }) => Ok(Swap::Unsupported),
        Err(e) => Err(Error::storage(what, e)),
    }
}

/// A filesystem's take-over: whoever creates the claim named after the
/// stale lock's version replaces it; everyone else lost.
async fn claim_then_replace(output: &Location, ours: &Holder, seen: Seen) -> Result<UpdateVersion> {
    let stale_run = seen.holder.as_ref().map_or("unreadable", |h| &h.run_id);
    let etag = seen.version.e_tag.as_deref().unwrap_or("none");
    let name: String = format!("{stale_run}-{etag}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let claim = output.path_of(&format!("{CLAIMS}/{name}.json"));
    let opts = PutOptions::from(PutMode::Create);
    match output.store.put_opts(&claim, ours.body()?, opts).await {
        Ok(_) => {}
        Err(object_store::Error::AlreadyExists { .. }) => return Err(taken_first(output)),
        Err(e) => {
            return Err(Error::storage(
                format!("claiming the lock {output}/{LOCK}"),
                e,
            ));
        }
    }
    // The claim is ours; the lock is replaced unless it changed since we
    // read it (its holder came back before its lease ran out).
    let replaced = match read(output).await? {
        Some(now) if now.version == seen.version => overwrite(output, ours).await?,
        Some(Seen {
            holder: Some(h), ..
        }) => return Err(held_by(output, &h)),
        _ => return Err(taken_first(output)),
    };
    // The claim has done its work: a run that still holds the stale
    // version and makes the claim again finds the lock changed.
    output.delete(&claim).await?;
    Ok(replaced)
}

async fn overwrite(output: &Location, ours: &Holder) -> Result<UpdateVersion> {
    let path = output.path_of(LOCK);
    let what = format!("writing the lock {output}/{LOCK}");
    let body = ours.body()?;
    storage::idempotent(&what, || async {
        output
            .store
            .put_opts(&path, body.clone(), PutOptions::default())
            .await
            .map(UpdateVersion::from)
            .map_err(|e| Error::storage(&what, e))
    })
    .await
}

async fn read(output: &Location) -> Result<Option<Seen>> {
    let path = output.path_of(LOCK);
    let failed = |e| Error::storage(format!("reading the lock {output}/{LOCK}"), e);
    let got: GetResult = match output.store.get_opts(&path, Default::default()).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(failed(e)),
    };
    let version = UpdateVersion {
        e_tag: got.meta.e_tag.clone(),
        version: got.meta.version.clone(),
    };
    let bytes = got.bytes().await.map_err(failed)?;
    Ok(Some(Seen {
        holder: serde_json::from_slice(&bytes).ok(),
        version,
    }))
}

fn held_by(output: &Location, h: &Holder) -> Error {
    Error::Locked(format!(
        "another run holds the lock of {output}: run {} for as_of {} on host {} (pid {}) since {}, lease until {} ({output}/{LOCK})",
        h.run_id, h.as_of, h.host, h.pid, h.started_at, h.expires_at
    ))
}

fn taken_first(output: &Location) -> Error {
    Error::Locked(format!(
        "could not take the lock {output}/{LOCK}: another run took it first"
    ))
}

/// Renews the lease every fifth of it, until the lock is released or lost.
async fn renew_until_lost(shared: Arc<Shared>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(shared.lease / 5) => {}
            () = shared.stop.notified() => return,
        }
        if let Err(lost) = shared.renew().await {
            tracing::error!("{lost}");
            shared.set(Held::Lost(lost.to_string()));
            return;
        }
    }
}

impl Shared {
    fn get(&self) -> Held {
        self.state.lock().map_or_else(
            |_| Held::Lost("lock state poisoned".to_owned()),
            |s| s.clone(),
        )
    }

    fn set(&self, held: Held) {
        if let Ok(mut s) = self.state.lock() {
            *s = held;
        }
    }

    /// The holder and version while the lease still has `margin` to run.
    fn ours(&self, margin: Duration) -> Result<(Holder, UpdateVersion)> {
        match self.get() {
            Held::Lost(why) => Err(Error::Locked(why)),
            Held::Ours { holder, version } => {
                let left = holder.expires().map(|t| t - Utc::now());
                if left.is_none_or(|left| left < chrono_duration(margin)) {
                    return Err(Error::Locked(format!(
                        "run {}: its lease of {}/{LOCK} ran out (until {}); not committing",
                        holder.run_id, self.output, holder.expires_at
                    )));
                }
                Ok((holder, version))
            }
        }
    }

    /// Extends the lease, if the lock is still the one we last wrote.
    async fn renew(&self) -> Result<()> {
        let (mut holder, version) = self.ours(Duration::ZERO)?;
        holder.expires_at = timestamp(Utc::now() + chrono_duration(self.lease));
        let renewed = match swap(&self.output, &holder, &version).await? {
            Swap::Done(v) => v,
            Swap::Lost => return Err(self.lost(&holder)),
            Swap::Unsupported => {
                match read(&self.output).await? {
                    Some(seen) if seen.version == version => {}
                    _ => return Err(self.lost(&holder)),
                }
                overwrite(&self.output, &holder).await?
            }
        };
        self.set(Held::Ours {
            holder,
            version: renewed,
        });
        Ok(())
    }

    fn lost(&self, holder: &Holder) -> Error {
        Error::Locked(format!(
            "run {} lost the lock {}/{LOCK}: another run took it over",
            holder.run_id, self.output
        ))
    }
}

impl Lock {
    /// The fence before a commit: the lock is still ours, as we last wrote
    /// it, with at least a quarter of the lease to run. Exit 6 otherwise.
    pub async fn ensure_held(&self) -> Result<()> {
        let (holder, version) = self.shared.ours(self.shared.lease / 4)?;
        match read(&self.shared.output).await? {
            Some(seen) if seen.version == version => Ok(()),
            _ => {
                let lost = self.shared.lost(&holder);
                self.shared.set(Held::Lost(lost.to_string()));
                Err(lost)
            }
        }
    }

    /// The run id and date of the holder.
    pub fn holder(&self) -> Option<Holder> {
        match self.shared.get() {
            Held::Ours { holder, .. } => Some(holder),
            Held::Lost(_) => None,
        }
    }

    /// Stops renewing and deletes the lock if it is still ours; a lock
    /// another run took over is left to it.
    pub async fn release(self) -> Result<()> {
        self.shared.stop.notify_one();
        let _ = self.renewing.await;
        let Held::Ours { version, .. } = self.shared.get() else {
            return Ok(());
        };
        let output = &self.shared.output;
        match read(output).await? {
            Some(seen) if seen.version == version => output.delete(&output.path_of(LOCK)).await,
            _ => {
                tracing::warn!("the lock {output}/{LOCK} is no longer ours: left in place");
                Ok(())
            }
        }
    }
}
