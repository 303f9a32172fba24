//! How the process holds memory, as a container's memory limit sees it.
//!
//! glibc's allocator gives each thread that meets contention an arena of its
//! own (up to eight per core) and keeps what a step freed in those arenas, so
//! a process that ran a big hash aggregation on a few threads holds memory
//! (RSS) that no step uses, through every later step. Fewer arenas, trimmed
//! when a step ends, keep the resident size near what is in use: at a 1 GiB
//! limit on a million customers, peak RSS went from 1.41 GB to 1.12 GiB at
//! the same speed (bench/RESULTS.md).

/// Caps the allocator's arenas at one per core. Call before any thread
/// starts.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets an allocator parameter; called before
        // other threads exist, it races with no allocation.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// Returns the allocator's free pages to the system (glibc only; elsewhere
/// nothing to do).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes
    // the arena locks itself and touches no memory that is in use.
    unsafe {
        libc::malloc_trim(0);
    }
}
