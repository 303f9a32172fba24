//! The DataFusion session of a run: exact decimal literals, the run's
//! stores registered, and with a memory limit a fair spilling pool (which
//! names its largest consumers when it runs out) spilling into the run's
//! work folder.

use std::sync::Arc;

use datafusion::common::config::SpillCompression;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{Error, Result};
use crate::storage::Storage;

/// Where and how much the engine may spill.
#[derive(Debug, Clone)]
pub struct Spill {
    pub dir: std::path::PathBuf,
    /// Bytes; past it, the step that spills fails ([`explain_spill_limit`]).
    pub max_bytes: u64,
}

/// Builds the session; `memory_limit` is the whole process's budget;
/// without `spill`, nothing may spill (small queries on finished tables).
pub fn session(
    storage: &Storage,
    memory_limit: Option<u64>,
    spill: Option<&Spill>,
) -> Result<SessionContext> {
    let runtime = runtime(memory_limit, spill).build_arc()?;
    let ctx = SessionContext::new_with_config_rt(config(), runtime);
    storage.register_all(&ctx)?;
    Ok(ctx)
}

/// The engine's settings, the same on every engine (a cluster's roles
/// start from them too).
pub fn config() -> SessionConfig {
    let mut config = SessionConfig::new();
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    // Plain Utf8 strings: what our writers and readers (and other engines) expect.
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    // Filters are applied while decoding (late materialization): the output
    // partitions each select one month or tier of a scratch table.
    config.options_mut().execution.parquet.pushdown_filters = true;
    // The session writes only scratch tables, read back once or twice on
    // this machine; the outputs have their own writer settings.
    config.options_mut().execution.parquet.compression = Some("uncompressed".to_owned());
    // A reader fetches a row group's columns whole: small row groups bound it.
    config.options_mut().execution.parquet.max_row_group_size = 1 << 17;
    // A join whose small side is the customers is built once and probed by
    // every partition of billing, rather than both sides reshuffled by key.
    config
        .options_mut()
        .optimizer
        .hash_join_single_partition_threshold = 256 << 20;
    config
        .options_mut()
        .optimizer
        .hash_join_single_partition_threshold_rows = 8 << 20;
    // Spills are LZ4-compressed: smaller on disk for little CPU (at a
    // million customers under 1 GiB, no slower). The first run of ten
    // million under 4 GiB without it filled the disk that held the inputs.
    config.options_mut().execution.spill_compression = SpillCompression::Lz4Frame;
    config
}

/// The engine's memory pool and spill folder.
pub fn runtime(memory_limit: Option<u64>, spill: Option<&Spill>) -> RuntimeEnvBuilder {
    // Each spill file is deleted as soon as the merge that reads it is
    // done with it (DataFusion's reference-counted temporary files).
    let disk = match spill {
        Some(spill) => DiskManagerBuilder::default()
            .with_mode(DiskManagerMode::Directories(vec![spill.dir.clone()]))
            .with_max_temp_directory_size(spill.max_bytes),
        None => DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
    };
    let mut runtime = RuntimeEnvBuilder::new().with_disk_manager_builder(disk);
    if let Some(limit) = memory_limit {
        // Hash joins stay: their build sides are small by construction
        // (customers, the calendar, doubled keys, rejected keys); what grows
        // with billing is aggregation and sorting, and both spill. A
        // sort-merge join would sort the whole of billing instead.
        let fair = FairSpillPool::new(engine_pool(limit));
        let top = std::num::NonZeroUsize::new(5).expect("5 is not 0");
        runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(fair, top)));
    }
    runtime
}

/// The engine's error when a spill would pass the budget names a setting
/// of its own; this one names the folder and our flag.
pub fn explain_spill_limit(error: Error, spill: &Spill) -> Error {
    if !error.to_string().contains("exceeded the allowable limit") {
        return error;
    }
    Error::internal(format!(
        "spilling to {} would pass the spill limit of {} bytes (--max-spill, or max_spill in the pipeline): \
         the run needs more temporary disk than allowed at this memory limit",
        spill.dir.display(),
        spill.max_bytes
    ))
}

/// The query engine's share of a memory limit. The limit is for the whole
/// process: a quarter is left for what the engine's pool does not track
/// (a sort's sorted copies, a hash join's build side while it is
/// concatenated, Parquet readers' and writers' buffers, the allocator's
/// slack). At ten million customers under 4 GiB the highest stage, a join
/// of every customer, peaks at 1.8 GiB in the pool and 3.3 GiB in all
/// (bench/RESULTS.md). Half the limit is not a fix: such a build side,
/// which cannot spill, then no longer fits beside the sorts.
fn engine_pool(limit: u64) -> usize {
    usize::try_from(limit / 4 * 3).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_gets_three_quarters_of_the_memory_limit() {
        assert_eq!(engine_pool(4 << 30), 3 << 30);
        assert_eq!(engine_pool(1 << 30), 768 << 20);
    }

    /// Sorts 64 MB of keys in a 48 MiB pool, which must spill, with a
    /// spill budget of `max_bytes`: the rows sorted, or the error.
    async fn sort_spilling(spill: &Spill) -> Result<usize> {
        let ctx = session(
            &Storage::new(Default::default()),
            Some(64 << 20),
            Some(spill),
        )?;
        let sorted = ctx
            .sql("SELECT value FROM range(8000000) ORDER BY value DESC")
            .await?
            .collect()
            .await?;
        Ok(sorted.iter().map(|b| b.num_rows()).sum())
    }

    fn spill_in(dir: &tempfile::TempDir, max_bytes: u64) -> Spill {
        Spill {
            dir: dir.path().to_path_buf(),
            max_bytes,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_spill_past_max_spill_stops_the_step_naming_the_folder_and_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let spill = spill_in(&dir, 64 << 10);
        let error = explain_spill_limit(sort_spilling(&spill).await.unwrap_err(), &spill);
        let message = error.to_string();
        assert!(
            message.contains(&dir.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains("--max-spill"), "{message}");
        assert_eq!(error.exit_code(), 1);
        assert!(error.hint().is_some_and(|h| h.contains("--temp-dir")));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_spill_within_max_spill_completes() {
        let dir = tempfile::tempdir().unwrap();
        let rows = sort_spilling(&spill_in(&dir, 1 << 30)).await.unwrap();
        assert_eq!(rows, 8_000_000);
    }
}
