//! Test hooks for the crash-recovery tests, at the points of a run where a
//! crash or a failure must be recoverable, counted from 1 in the order the
//! run passes them:
//! - `CVM_ETL_CRASH_AT=N`: the process kills itself with SIGKILL at the
//!   N-th point, so a test can stop a real run anywhere;
//! - `CVM_ETL_FAIL_AT=N`: the N-th point fails like a store that stays down
//!   (a storage error, exit 5), so a test can see what the run itself does
//!   with a failure there;
//! - `CVM_ETL_PANIC_AT=N`: the N-th point panics, as a bug would.
//!
//! Without the variables they do nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static PASSED: AtomicU64 = AtomicU64::new(0);

fn target(variable: &str) -> Option<u64> {
    std::env::var(variable).ok().and_then(|v| v.parse().ok())
}

/// Marks a point where a crash or a storage failure must be recoverable.
pub fn crash_point(what: &str) -> Result<()> {
    let (crash, fail, panic) = (
        target("CVM_ETL_CRASH_AT"),
        target("CVM_ETL_FAIL_AT"),
        target("CVM_ETL_PANIC_AT"),
    );
    if crash.is_none() && fail.is_none() && panic.is_none() {
        return Ok(());
    }
    let n = PASSED.fetch_add(1, Ordering::SeqCst) + 1;
    if crash == Some(n) {
        tracing::warn!("test hook: SIGKILL at crash point {n} ({what})");
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        // kill(1) missing: end as abruptly as the platform allows.
        std::process::abort();
    }
    if panic == Some(n) {
        panic!("test hook: a panic at point {n} ({what})");
    }
    if fail == Some(n) {
        tracing::warn!("test hook: storage failure at point {n} ({what})");
        return Err(Error::storage(
            what,
            object_store::Error::Generic {
                store: "test hook",
                source: format!("injected failure at point {n}").into(),
            },
        ));
    }
    Ok(())
}
