//! One run per date: a lock object `_locks/as_of=D.json` created with a
//! conditional put (`PutMode::Create`, If-None-Match on S3). It names its
//! holder and carries a lease; a lock whose lease ran out, or whose holder
//! was a process on this host that no longer exists, is taken over.

use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::{PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::manifest::timestamp;
use crate::storage::{self, Location};

/// Who holds a date's lock, and until when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holder {
    pub run_id: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub expires_at: String,
}

impl Holder {
    fn is_stale(&self, now: DateTime<Utc>, host: &str) -> bool {
        let expired = DateTime::parse_from_rfc3339(&self.expires_at).map_or(true, |t| now > t);
        expired || (self.host == host && !process_alive(self.pid))
    }
}

/// A held lock; release it on every exit path.
pub struct Lock {
    output: Location,
    relative: String,
    pub holder: Holder,
}

/// Takes the lock of `as_of` for `run_id`, or fails with exit 6 naming the holder.
pub async fn acquire(
    output: &Location,
    as_of: &str,
    run_id: &str,
    lease: Duration,
) -> Result<Lock> {
    let relative = format!("_locks/as_of={as_of}.json");
    let now = Utc::now();
    let holder = Holder {
        run_id: run_id.to_owned(),
        host: host(),
        pid: std::process::id(),
        started_at: timestamp(now),
        expires_at: timestamp(
            now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(6)),
        ),
    };
    let path = output.path_of(&relative);
    let body = serde_json::to_vec_pretty(&holder).map_err(|e| Error::internal(e.to_string()))?;
    for _ in 0..2 {
        // A create whose answer was lost is sent again: if the first one went
        // through, the second finds our own holder below.
        let what = format!("taking the lock {output}/{relative}");
        let created = storage::idempotent(&what, || async {
            let opts = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            match output
                .store
                .put_opts(&path, PutPayload::from(body.clone()), opts)
                .await
            {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(Error::storage(&what, e)),
            }
        })
        .await?;
        if created {
            return Ok(Lock {
                output: output.clone(),
                relative,
                holder,
            });
        }
        let current = read_holder(output, &relative).await?;
        if current.as_ref().is_some_and(|h| h.run_id == run_id) {
            // Our own create went through but its answer was lost and the
            // retried request found the object: the lock is ours.
            return Ok(Lock {
                output: output.clone(),
                relative,
                holder,
            });
        }
        match current {
            Some(h) if !h.is_stale(Utc::now(), &holder.host) => {
                return Err(Error::Locked(format!(
                    "another run holds the lock for as_of {as_of}: run {} on host {} (pid {}) since {}, lease until {} ({output}/{relative})",
                    h.run_id, h.host, h.pid, h.started_at, h.expires_at
                )));
            }
            stale => {
                if let Some(h) = stale {
                    tracing::warn!(
                        "taking over the lock of run {} (host {}, pid {}): it is stale",
                        h.run_id,
                        h.host,
                        h.pid
                    );
                }
                output.delete(&path).await?;
            }
        }
    }
    Err(Error::Locked(format!(
        "could not take the lock {output}/{relative}: another run took it first"
    )))
}

impl Lock {
    /// Removes the lock object.
    pub async fn release(self) -> Result<()> {
        let path = self.output.path_of(&self.relative);
        self.output.delete(&path).await
    }
}

async fn read_holder(output: &Location, relative: &str) -> Result<Option<Holder>> {
    // An unreadable lock (a crash mid-write) counts as stale.
    Ok(output
        .read(relative)
        .await?
        .and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

pub fn host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Whether a process of this host is alive (Linux: `/proc/PID`); elsewhere
/// assume it is, and let the lease decide.
fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.exists() || proc.join(pid.to_string()).exists()
}
