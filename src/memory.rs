//! How the process holds memory, as a container's memory limit sees it.
//!
//! glibc's allocator gives each thread that meets contention an arena of its
//! own (up to eight per core) and keeps what a step freed in those arenas, so
//! a process that ran a big hash aggregation on a few threads holds memory
//! (RSS) that no step uses, through every later step. Fewer arenas, trimmed
//! when a step ends, keep the resident size near what is in use: at a 1 GiB
//! limit on a million customers, peak RSS went from 1.41 GB to 1.12 GiB at
//! the same speed (bench/RESULTS.md).
//!
//! A run also watches its resident size ([`Watch`]), so that its manifest
//! says how high each stage went and how much of that the engine's pool
//! held.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::execution::memory_pool::MemoryPool;
use serde::{Deserialize, Serialize};

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

/// The highest resident size of a stretch of the run, and what the engine's
/// memory pool had reserved at that moment: what the pool does not see is
/// the difference (readers' and writers' buffers, hash tables of the
/// sources stage, the allocator's slack).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peak {
    pub rss_bytes: u64,
    pub engine_bytes: u64,
}

/// Samples the process's resident size while a run works, so that each
/// stage can say how high it went ([`Watch::mark`]). A sampler thread reads
/// `/proc/self/statm` every [`SAMPLE_EVERY`]; where there is no such file
/// it does nothing and every mark is `None`. The figures are the whole
/// process's: a process that runs several runs at once (the tests) shares
/// them.
pub struct Watch {
    shared: Arc<Shared>,
    sampler: Option<std::thread::JoinHandle<()>>,
}

/// How often the sampler looks; a spike shorter than this can be missed,
/// which is why the run also records the kernel's high-water mark
/// ([`high_water_mark`]).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    engine: Option<Arc<dyn MemoryPool>>,
    /// Since the last mark.
    peak: Option<Peak>,
}

impl Watch {
    pub fn start() -> Watch {
        let shared = Arc::new(Shared::default());
        let sampler = resident_bytes().map(|_| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                while !shared.stop.load(Ordering::Relaxed) {
                    shared.sample();
                    std::thread::sleep(SAMPLE_EVERY);
                }
            })
        });
        Watch { shared, sampler }
    }

    /// A watch that samples nothing: every mark is `None`.
    pub fn off() -> Watch {
        Watch {
            shared: Arc::default(),
            sampler: None,
        }
    }

    /// The engine's pool, once the run's session exists: its reservations
    /// are read at each new peak.
    pub fn engine(&self, pool: Arc<dyn MemoryPool>) {
        self.shared.lock().engine = Some(pool);
    }

    /// The peak since the last mark (or the start), including now; the next
    /// stretch starts empty.
    pub fn mark(&self) -> Option<Peak> {
        self.sampler.as_ref()?;
        self.shared.sample();
        self.shared.lock().peak.take()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A sampler that panicked left only numbers behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sample(&self) {
        let Some(rss) = resident_bytes() else {
            return;
        };
        let mut state = self.lock();
        if state.peak.is_none_or(|p| rss > p.rss_bytes) {
            let engine = state.engine.as_ref().map_or(0, |p| p.reserved() as u64);
            state.peak = Some(Peak {
                rss_bytes: rss,
                engine_bytes: engine,
            });
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.join();
        }
    }
}

/// The process's resident size now (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    #[cfg(unix)]
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    #[cfg(not(unix))]
    let size = 4096;
    u64::try_from(size).unwrap_or(4096)
}

/// The process's highest resident size so far, as the kernel counts it
/// (`VmHWM`, Linux; `None` elsewhere). The kernel updates it lazily, so it
/// can trail a sample of [`Watch`] by a few pages.
pub fn high_water_mark() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryConsumer};

    #[test]
    #[cfg(target_os = "linux")]
    fn a_mark_holds_the_highest_resident_size_since_the_last_and_the_engine_then() {
        let watch = Watch::start();
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(1 << 30));
        watch.engine(Arc::clone(&pool));
        let reservation = MemoryConsumer::new("test").register(&pool);
        reservation.try_grow(1 << 20).unwrap();
        // 256 MiB touched, then freed: the mark still holds it.
        let block = std::hint::black_box(vec![1u8; 256 << 20]);
        let before = watch.mark().expect("Linux has /proc/self/statm");
        assert!(before.rss_bytes >= 256 << 20, "{before:?}");
        assert_eq!(before.engine_bytes, 1 << 20);
        drop(block);
        release_free_memory();
        let after = watch.mark().expect("a mark after a mark");
        assert!(after.rss_bytes < before.rss_bytes, "{after:?} {before:?}");
        assert!(high_water_mark().is_some());
    }
}
