//! The staging cache (docs/scheduling.md#the-staging-cache): the checked,
//! typed staging of an input file, kept under the output's `_cache/` and
//! handed to the next run that reads the same file, so that a nightly run
//! checks only the drops that are new. Duplicates, unknown customers and
//! the model still see every row: only the row checks of one file are
//! skipped, and they would give the same rows.
//!
//! ```text
//! OUTPUT/_cache/v1/<source>/<key>/
//!     entry.json                    the key in full, what the checks found, the parts' names
//!     <run_id>.staged.parquet       the rows that passed (spec::staged_file_schema)
//!     <run_id>.rejected.parquet     the rows that failed (spec::rejected_schema)
//!     <run_id>.keys.parquet         the passed rows' key hashes, in sorted runs (spec::keys_schema)
//! ```
//!
//! The key is what the row checks of a file depend on ([`Key`]): the file
//! as listed (its source's location, path, size, ETag), how it is read (source, format, encoding,
//! `max_record_bytes`), `currency`, and the version of the rules ([`rules`]).
//! `as_of` is not in the key: only the last check, future_date, reads it,
//! and an entry says for which dates its rows hold ([`Entry::holds_for`]).
//!
//! A file task, under the output's lock:
//!
//! ```text
//!   look up <key>/entry.json ── key equal, holds for as_of, parts as the entry says ──► Hit
//!        │                       (the parts linked or copied into the run's scratch folder)
//!        └─ none, or anything else ──► Miss: read and check the file
//!              └─ the run is for the newest date, and the GET (or, for Parquet,
//!                 a HEAD after) saw the listed size and ETag
//!                   ──► put staged, rejected, keys parts ──► put entry.json ──► Written
//! ```
//!
//! entry.json goes last, and each put is atomic, so an entry names parts
//! that are whole; a crash between the puts leaves parts that no entry
//! names, which no run reads and the next eviction removes. Parts carry
//! the writing run's id, so an entry never names a part of another run's.
//! A cache that cannot be read or written is a miss and a warning, never a
//! failed run: deleting `_cache/` at any time only makes the next run
//! slower. After reading, the run evicts every object its own reading
//! neither used nor wrote ([`Cache::evict`]). A run for a date before one
//! already published (a backfill) only reads: it neither keeps nor
//! evicts, so the nightly entries survive it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path as FsPath;
use std::sync::{Mutex, OnceLock};

use chrono::NaiveDate;
use object_store::{GetOptions, ObjectStoreExt};
use serde::{Deserialize, Serialize};

use super::listing::{Format, InputFile};
use super::stage_sink::{Checked, Parts};
use super::{FileFound, FileTask};
use crate::config::Encoding;
use crate::domain::SourceName;
use crate::error::{Error, Result};
use crate::storage::Location;

/// Where the cache lives below the output; `v1` is the layout above.
pub const FOLDER: &str = "_cache/v1";

const ENTRY: &str = "entry.json";

/// The files whose text decides how a file's records are split, decoded
/// and checked. Their bytes are the rules' version: a change to any of
/// them (or to a dependency's version, through Cargo.lock) makes every
/// entry a miss. A test checks that every file of `src/sources` is here.
const RULE_FILES: &[(&str, &[u8])] = &[
    ("sources/cache.rs", include_bytes!("cache.rs")),
    ("sources/csv.rs", include_bytes!("csv.rs")),
    ("sources/csv_split.rs", include_bytes!("csv_split.rs")),
    ("sources/decode.rs", include_bytes!("decode.rs")),
    ("sources/fuzzing.rs", include_bytes!("fuzzing.rs")),
    ("sources/header.rs", include_bytes!("header.rs")),
    ("sources/key_hash.rs", include_bytes!("key_hash.rs")),
    ("sources/listing.rs", include_bytes!("listing.rs")),
    ("sources/mod.rs", include_bytes!("mod.rs")),
    ("sources/ndjson.rs", include_bytes!("ndjson.rs")),
    (
        "sources/object_reader.rs",
        include_bytes!("object_reader.rs"),
    ),
    ("sources/parquet_in.rs", include_bytes!("parquet_in.rs")),
    ("sources/record.rs", include_bytes!("record.rs")),
    ("sources/reread.rs", include_bytes!("reread.rs")),
    ("sources/spec.rs", include_bytes!("spec.rs")),
    ("sources/stage_sink.rs", include_bytes!("stage_sink.rs")),
    ("sources/validate.rs", include_bytes!("validate.rs")),
    ("sources/values.rs", include_bytes!("values.rs")),
    ("calendar.rs", include_bytes!("../calendar.rs")),
    ("domain.rs", include_bytes!("../domain.rs")),
    ("scratch.rs", include_bytes!("../scratch.rs")),
    ("storage.rs", include_bytes!("../storage.rs")),
    ("Cargo.lock", include_bytes!("../../Cargo.lock")),
];

/// FNV-1a, 64 bits: stable across Rust versions and machines, which
/// std's hasher does not promise.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The version of the row checks: a hash of [`RULE_FILES`].
pub fn rules() -> &'static str {
    static RULES: OnceLock<String> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut all = Vec::new();
        for (name, bytes) in RULE_FILES {
            all.extend_from_slice(name.as_bytes());
            all.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            all.extend_from_slice(bytes);
        }
        format!("{:016x}", fnv64(&all))
    })
}

/// Everything the row checks of one file depend on, but `as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// Where the source's files are (its location's URL).
    pub origin: String,
    pub source: SourceName,
    /// Relative to the source's prefix, as `rejected.file` names it.
    pub file: String,
    pub size: u64,
    pub e_tag: String,
    pub dt: Option<NaiveDate>,
    pub format: Format,
    pub encoding: Encoding,
    pub max_record_bytes: u64,
    pub currency: String,
    pub rules: String,
}

impl Key {
    /// The key of a file task's file; None for a file listed without an
    /// ETag, whose change the store could not show.
    pub(super) fn of(task: &FileTask) -> Option<Key> {
        Some(Key {
            origin: task.location.url(),
            source: task.source,
            file: task.file.relative.clone(),
            size: task.file.size,
            e_tag: task.file.e_tag.clone()?,
            dt: task.file.dt,
            format: task.file.format,
            encoding: task.settings.encoding,
            max_record_bytes: task.max_record_bytes as u64,
            currency: task.currency.clone(),
            rules: rules().to_owned(),
        })
    }

    /// `<source>/<hash of the key>`, below [`FOLDER`].
    fn folder(&self) -> String {
        let text = serde_json::to_vec(self).unwrap_or_default();
        format!("{}/{:016x}", self.source, fnv64(&text))
    }
}

/// One staged, rejected or keys part of an entry, as it must be found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Part {
    name: String,
    rows: u64,
    bytes: u64,
}

impl Part {
    /// The part in the local file `path`, to be kept as `name`.
    fn of(path: &FsPath, name: String) -> Result<Part> {
        Ok(Part {
            name,
            rows: footer_rows(path)?,
            bytes: std::fs::metadata(path)?.len(),
        })
    }

    /// The local file `path` is this part: its size, then (once the size
    /// says the footer is where the entry put it) its footer's row count,
    /// are the entry's.
    fn check(&self, path: &FsPath) -> Result<()> {
        let bytes = std::fs::metadata(path)?.len();
        if bytes != self.bytes {
            return Err(Error::internal(format!(
                "{}: {bytes} bytes, the entry says {}",
                self.name, self.bytes
            )));
        }
        let rows = footer_rows(path)?;
        if rows != self.rows {
            return Err(Error::internal(format!(
                "{}: {rows} rows, the entry says {}",
                self.name, self.rows
            )));
        }
        Ok(())
    }
}

fn footer_rows(path: &FsPath) -> Result<u64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path)?)?;
    Ok(reader.metadata().file_metadata().num_rows() as u64)
}

/// `entry.json`: what checking the file found, for the run that reuses it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    key: Key,
    /// The `as_of` the checks ran for.
    checked_as_of: NaiveDate,
    /// The latest date, in a column that must not be after `as_of`, of the
    /// rows staged.
    max_not_future: Option<NaiveDate>,
    records: u64,
    rejected_by_reason: BTreeMap<String, u64>,
    extra_columns: BTreeSet<String>,
    empty: bool,
    staged: Part,
    rejected: Part,
    keys: Part,
    run_id: String,
}

impl Entry {
    /// Whether checking the file for `as_of` gives the same rows. Every
    /// check but future_date ignores `as_of`; future_date then rejects
    /// nothing new when no staged date is after `as_of`, and takes back no
    /// rejection when it made none. (Its detail names `as_of`, so a file
    /// with future_date rejections holds for its own date only.)
    fn holds_for(&self, as_of: NaiveDate) -> bool {
        as_of == self.checked_as_of
            || (!self.rejected_by_reason.contains_key("future_date")
                && self.max_not_future.is_none_or(|d| d <= as_of))
    }
}

impl Entry {
    /// Every record is a staged or a rejected row, and every rejected row
    /// has its reason: else the entry is not the file's (a run would fail
    /// its reconciliation).
    fn adds_up(&self) -> Result<()> {
        let reasons: u64 = self.rejected_by_reason.values().sum();
        if self.records != self.staged.rows + self.rejected.rows
            || reasons != self.rejected.rows
            || self.keys.rows != self.staged.rows
        {
            return Err(Error::internal(format!(
                "{ENTRY}: {} records, but {} staged and {} rejected rows ({reasons} by reason), {} key hashes",
                self.records, self.staged.rows, self.rejected.rows, self.keys.rows
            )));
        }
        Ok(())
    }
}

/// What the cache did in one run, for the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCounts {
    /// Files whose staging came from the cache.
    pub hits: u64,
    /// Files read and checked.
    pub misses: u64,
    /// Misses whose staging was kept for the next run.
    pub written: u64,
    /// Objects removed by the eviction.
    pub evicted: u64,
}

/// A run's cache as it travels to another role ([`Cache::settings`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheSettings {
    /// The cache's folder (below the output), as a URL.
    pub root: String,
    pub run_id: String,
    pub as_of: NaiveDate,
    pub writes: bool,
}

impl CacheSettings {
    /// The cache these settings describe, its folder at `root`.
    pub fn cache(&self, root: Location) -> Cache {
        Cache {
            root,
            run_id: self.run_id.clone(),
            as_of: self.as_of,
            writes: self.writes,
            counts: Mutex::new(CacheCounts::default()),
            live: Mutex::new(BTreeSet::new()),
        }
    }
}

/// What a cache used ([`Cache::used`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CacheUse {
    pub counts: CacheCounts,
    pub live: BTreeSet<String>,
}

/// A hit: the file's parts are in place in the scratch folder.
pub(super) struct Hit {
    pub(super) found: FileFound,
    pub(super) checked: Checked,
}

/// The cache of one run (see the module doc).
pub struct Cache {
    root: Location,
    run_id: String,
    as_of: NaiveDate,
    /// Keeps and evicts (the run for the newest date); else only reads.
    writes: bool,
    counts: Mutex<CacheCounts>,
    /// Objects below `root` this run read or wrote: what eviction keeps.
    live: Mutex<BTreeSet<String>>,
}

impl Cache {
    /// The cache below `output`, for a run of `as_of`; `writes`: whether
    /// the run keeps what it reads and evicts what it did not use (the run
    /// for the newest date), or only reads (a backfill).
    pub fn new(output: &Location, run_id: &str, as_of: NaiveDate, writes: bool) -> Cache {
        Cache {
            root: output.child(FOLDER),
            run_id: run_id.to_owned(),
            as_of,
            writes,
            counts: Mutex::new(CacheCounts::default()),
            live: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn counts(&self) -> CacheCounts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// What this cache was made with: the output, the run, its date, and
    /// whether it writes; another role builds the same cache from them.
    pub fn settings(&self) -> CacheSettings {
        CacheSettings {
            root: self.root.url(),
            run_id: self.run_id.clone(),
            as_of: self.as_of,
            writes: self.writes,
        }
    }

    /// What a cache of the same run used elsewhere (an executor's): its
    /// counts and the objects it read or wrote, which eviction keeps.
    pub fn used(&self) -> CacheUse {
        CacheUse {
            counts: self.counts(),
            live: self.live.lock().map(|l| l.clone()).unwrap_or_default(),
        }
    }

    /// Adds what a cache of the same run used elsewhere to this one.
    pub fn absorb(&self, used: CacheUse) {
        self.count(|c| {
            c.hits += used.counts.hits;
            c.misses += used.counts.misses;
            c.written += used.counts.written;
        });
        if let Ok(mut live) = self.live.lock() {
            live.extend(used.live);
        }
    }

    fn count(&self, what: impl FnOnce(&mut CacheCounts)) {
        if let Ok(mut counts) = self.counts.lock() {
            what(&mut counts);
        }
    }

    fn keep_live(&self, key: &Key, entry: &Entry) {
        let folder = key.folder();
        if let Ok(mut live) = self.live.lock() {
            for name in [
                ENTRY,
                &entry.staged.name,
                &entry.rejected.name,
                &entry.keys.name,
            ] {
                live.insert(format!("{folder}/{name}"));
            }
        }
    }

    /// The file's staging from the cache, put at `parts`; None on a miss
    /// (the parts then are not there).
    pub(super) async fn restore(&self, key: &Key, parts: &Parts) -> Option<Hit> {
        let folder = self.root.child(&key.folder());
        match self.try_restore(key, &folder, parts).await {
            Ok(Some((entry, hit))) => {
                self.keep_live(key, &entry);
                self.count(|c| c.hits += 1);
                Some(hit)
            }
            Ok(None) => {
                self.count(|c| c.misses += 1);
                None
            }
            Err(e) => {
                tracing::warn!("staging cache: {folder}: {e}; reading the file instead");
                parts.remove();
                self.count(|c| c.misses += 1);
                None
            }
        }
    }

    async fn try_restore(
        &self,
        key: &Key,
        folder: &Location,
        parts: &Parts,
    ) -> Result<Option<(Entry, Hit)>> {
        let Some(bytes) = folder.read(ENTRY).await? else {
            return Ok(None);
        };
        let entry: Entry = serde_json::from_slice(&bytes)
            .map_err(|e| Error::internal(format!("{ENTRY} does not read: {e}")))?;
        if entry.key != *key || !entry.holds_for(self.as_of) {
            return Ok(None);
        }
        entry.adds_up()?;
        fetch(folder, &entry.staged, &parts.staged).await?;
        fetch(folder, &entry.rejected, &parts.rejected).await?;
        fetch(folder, &entry.keys, &parts.keys).await?;
        let hit = Hit {
            found: FileFound {
                records: entry.records,
                extra_columns: entry.extra_columns.clone(),
                empty: entry.empty,
                object: None,
            },
            checked: Checked {
                by_reason: entry.rejected_by_reason.clone(),
                max_not_future: entry.max_not_future,
            },
        };
        Ok(Some((entry, hit)))
    }

    /// Keeps the staging of the task's file just read into `parts`, when
    /// what was read is the file as listed.
    pub(super) async fn keep(
        &self,
        key: Key,
        task: &FileTask,
        found: &FileFound,
        checked: &Checked,
        parts: &Parts,
    ) {
        if !self.writes {
            return;
        }
        let folder = self.root.child(&key.folder());
        match self
            .try_keep(key, &folder, task, found, checked, parts)
            .await
        {
            Ok(true) => self.count(|c| c.written += 1),
            Ok(false) => {}
            Err(e) => tracing::warn!("staging cache: {folder}: {e}; not kept"),
        }
    }

    async fn try_keep(
        &self,
        key: Key,
        folder: &Location,
        task: &FileTask,
        found: &FileFound,
        checked: &Checked,
        parts: &Parts,
    ) -> Result<bool> {
        if !read_as_listed(&task.location, &task.file, found).await? {
            return Ok(false);
        }
        let run = &self.run_id;
        let entry = Entry {
            checked_as_of: self.as_of,
            max_not_future: checked.max_not_future,
            records: found.records,
            rejected_by_reason: checked.by_reason.clone(),
            extra_columns: found.extra_columns.clone(),
            empty: found.empty,
            staged: Part::of(&parts.staged, format!("{run}.staged.parquet"))?,
            rejected: Part::of(&parts.rejected, format!("{run}.rejected.parquet"))?,
            keys: Part::of(&parts.keys, format!("{run}.keys.parquet"))?,
            run_id: run.clone(),
            key,
        };
        put(folder, &parts.staged, &entry.staged.name).await?;
        put(folder, &parts.rejected, &entry.rejected.name).await?;
        put(folder, &parts.keys, &entry.keys.name).await?;
        folder.write_json(ENTRY, &entry).await?;
        self.keep_live(&entry.key, &entry);
        Ok(true)
    }

    /// Removes every object below the cache that this run neither read nor
    /// wrote, entries before parts; the number removed. Run only after all
    /// sources are read; nothing for a cache that only reads.
    pub async fn evict(&self) -> Result<u64> {
        if !self.writes {
            return Ok(0);
        }
        self.root.remove_hidden_temporaries()?;
        let live = self.live.lock().map(|l| l.clone()).unwrap_or_default();
        let (entries, parts): (Vec<_>, Vec<_>) = self
            .root
            .list()
            .await?
            .into_iter()
            .filter(|p| !live.contains(&self.root.relative(p)))
            .partition(|p| p.filename() == Some(ENTRY));
        for path in entries.iter().chain(&parts) {
            self.root.delete(path).await?;
        }
        if let Some(dir) = self.root.local_dir() {
            remove_empty_folders(&dir);
        }
        let evicted = (entries.len() + parts.len()) as u64;
        self.count(|c| c.evicted = evicted);
        Ok(evicted)
    }
}

/// Removes the folders below `dir` that a filesystem keeps after their
/// last file went (an object store has no folders to remove).
fn remove_empty_folders(dir: &FsPath) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        remove_empty_folders(&path);
        // Fails, as it should, while the folder holds anything.
        let _ = std::fs::remove_dir(&path);
    }
}

/// Whether the bytes read were the file as listed: a text file's one GET
/// answered with the listed size and ETag; a Parquet file, read in ranges,
/// is asked again after reading.
async fn read_as_listed(location: &Location, file: &InputFile, found: &FileFound) -> Result<bool> {
    let meta = match &found.object {
        Some(meta) => meta.clone(),
        None => location
            .store
            .head(&file.path)
            .await
            .map_err(|e| Error::storage(format!("asking {location}/{}", file.relative), e))?,
    };
    Ok(meta.size == file.size && meta.e_tag.is_some() && meta.e_tag == file.e_tag)
}

/// Puts the part `part` of the entry in `folder` at the local path `to`:
/// a hard link when the cache is on this machine's filesystem (a copy
/// where the link cannot be made), else a download; then checks it.
async fn fetch(folder: &Location, part: &Part, to: &FsPath) -> Result<()> {
    let _ = std::fs::remove_file(to);
    match folder.local_dir() {
        Some(dir) => {
            let from = dir.join(&part.name);
            if std::fs::hard_link(&from, to).is_err() {
                std::fs::copy(&from, to)?;
            }
        }
        None => {
            use std::io::Write;
            let mut file = std::fs::File::create(to)?;
            let label = format!("{folder}/{}", part.name);
            folder
                .stream(
                    &folder.path_of(&part.name),
                    GetOptions::default(),
                    &label,
                    |chunk| Ok(file.write_all(chunk)?),
                )
                .await?;
        }
    }
    part.check(to)
}

/// Puts the local file `from` in `folder` as `name`: a hard link when the
/// cache is on the same filesystem, else an upload.
async fn put(folder: &Location, from: &FsPath, name: &str) -> Result<()> {
    if let Some(dir) = folder.local_dir() {
        std::fs::create_dir_all(&dir)?;
        if std::fs::hard_link(from, dir.join(name)).is_ok() {
            return Ok(());
        }
    }
    folder.upload(name, from).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(checked: &str, max: Option<&str>, future_rejections: u64) -> Entry {
        let date = |d: &str| d.parse::<NaiveDate>().unwrap();
        let part = Part {
            name: String::new(),
            rows: 0,
            bytes: 0,
        };
        Entry {
            key: Key {
                origin: "file:///in/billing".into(),
                source: SourceName::Billing,
                file: "dt=2026-10-01/a.csv".into(),
                size: 1,
                e_tag: "e".into(),
                dt: None,
                format: Format::Csv,
                encoding: Encoding::default(),
                max_record_bytes: 1,
                currency: "EUR".into(),
                rules: rules().into(),
            },
            checked_as_of: date(checked),
            max_not_future: max.map(date),
            records: 0,
            rejected_by_reason: (future_rejections > 0)
                .then(|| ("future_date".to_owned(), future_rejections))
                .into_iter()
                .collect(),
            extra_columns: BTreeSet::new(),
            empty: false,
            staged: part.clone(),
            rejected: part.clone(),
            keys: part,
            run_id: String::new(),
        }
    }

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap()
    }

    #[test]
    fn an_entry_holds_for_any_date_not_before_its_latest_row() {
        let e = entry("2026-10-20", Some("2026-10-18"), 0);
        assert!(e.holds_for(day("2026-10-20")));
        assert!(e.holds_for(day("2026-11-30")));
        assert!(
            e.holds_for(day("2026-10-18")),
            "a backfill to the latest row"
        );
        assert!(
            !e.holds_for(day("2026-10-17")),
            "a row would be future_date"
        );
        assert!(entry("2026-10-20", None, 0).holds_for(day("2020-01-01")));
    }

    #[test]
    fn an_entry_with_future_date_rejections_holds_for_its_own_date_only() {
        let e = entry("2026-10-20", Some("2026-10-18"), 1);
        assert!(e.holds_for(day("2026-10-20")));
        assert!(!e.holds_for(day("2026-10-21")), "the row may now pass");
        assert!(!e.holds_for(day("2026-10-19")), "the detail names as_of");
    }

    #[test]
    fn every_file_of_the_sources_is_in_the_rules_version() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/sources");
        let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| format!("sources/{}", e.unwrap().file_name().to_string_lossy()))
            .collect();
        let hashed: BTreeSet<String> = RULE_FILES
            .iter()
            .map(|(n, _)| (*n).to_owned())
            .filter(|n| n.starts_with("sources/"))
            .collect();
        assert_eq!(on_disk, hashed);
    }

    #[test]
    fn a_key_names_its_folder_by_its_whole_text() {
        let a = entry("2026-10-20", None, 0).key;
        let mut b = a.clone();
        assert_eq!(a.folder(), b.folder());
        b.e_tag = "f".into();
        assert_ne!(a.folder(), b.folder());
        assert!(a.folder().starts_with("billing/"));
    }
}
