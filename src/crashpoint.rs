//! A test hook for the crash-recovery tests: with `CVM_ETL_CRASH_AT=N` in
//! the environment the process kills itself with SIGKILL at the N-th point
//! of the run that calls [`crash_point`] (counting from 1), so a test can
//! stop a real run anywhere. Without the variable it does nothing.

use std::sync::atomic::{AtomicU64, Ordering};

static PASSED: AtomicU64 = AtomicU64::new(0);

/// Marks a point where a crash must be recoverable.
pub fn crash_point(what: &str) {
    let Some(target) = std::env::var("CVM_ETL_CRASH_AT")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let n = PASSED.fetch_add(1, Ordering::SeqCst) + 1;
    if n == target {
        tracing::warn!("test hook: SIGKILL at crash point {n} ({what})");
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        // kill(1) missing: end as abruptly as the platform allows.
        std::process::abort();
    }
}
