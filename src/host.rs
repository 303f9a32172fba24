//! This machine: its name and whether one of its processes is alive, for
//! the lock's holder, the manifest and the sweep of dead runs' work folders.

/// The host name, as the lock and the manifest record it.
pub fn host() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Whether a process of this host is alive (Linux: `/proc/PID`); elsewhere
/// assume it is, and let the lease decide.
pub fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    !proc.exists() || proc.join(pid.to_string()).exists()
}
