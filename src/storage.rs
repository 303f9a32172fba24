//! Object stores chosen by URL, the way datafusion-cli does: a local path or
//! `file://`, `memory://`, `s3://`, `gs://`, `az://`/`abfss://`.
//!
//! Cloud stores start from the environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`)
//! and take the pipeline's `storage_options` on top, so credentials never sit
//! in the pipeline file.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::prelude::SessionContext;
use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, GetResultPayload, ObjectMeta, ObjectStore, ObjectStoreExt};
use url::Url;

use crate::error::{Error, Result};

/// A folder in an object store: the store, its base URL and the prefix in it.
#[derive(Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    /// `scheme://authority/`, the key the store is registered under.
    pub base: Url,
    pub prefix: Path,
}

impl Location {
    /// The location at `url`, served by `store` (a role that has the
    /// store from its own registry).
    pub fn at(url: &Url, store: Arc<dyn ObjectStore>) -> Result<Location> {
        let prefix = Path::from_url_path(url.path())
            .map_err(|e| Error::internal(format!("invalid location '{url}': {e}")))?;
        Ok(Location {
            store,
            base: base_of(url),
            prefix,
        })
    }

    /// The location of `relative` (slash-separated) below this one.
    pub fn child(&self, relative: &str) -> Location {
        let mut prefix = self.prefix.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            prefix = prefix.clone().join(part);
        }
        Location {
            store: Arc::clone(&self.store),
            base: self.base.clone(),
            prefix,
        }
    }

    /// The object path of a file below this location.
    pub fn path_of(&self, relative: &str) -> Path {
        self.child(relative).prefix
    }

    /// The path of `path` relative to this location, `/`-separated.
    pub fn relative(&self, path: &Path) -> String {
        match path.prefix_match(&self.prefix) {
            Some(parts) => parts
                .map(|p| p.as_ref().to_owned())
                .collect::<Vec<_>>()
                .join("/"),
            None => path.to_string(),
        }
    }

    /// Feeds the bytes of the object at `path` to `feed` as they arrive, in
    /// one GET with `options` (a precondition such as `if_match` fails it
    /// before any byte is fed); the object's metadata as read.
    pub async fn stream(
        &self,
        path: &Path,
        options: GetOptions,
        label: &str,
        mut feed: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<ObjectMeta> {
        let failed = |e| Error::storage(format!("reading {label}"), e);
        let got = self.store.get_opts(path, options).await.map_err(failed)?;
        let meta = got.meta.clone();
        match got.payload {
            GetResultPayload::File(file, _) => {
                let mut chunks = local_chunks(file, label);
                while let Some(chunk) = chunks.next().await {
                    feed(&chunk?)?;
                }
            }
            GetResultPayload::Stream(mut chunks) => {
                while let Some(chunk) = chunks.next().await {
                    feed(&chunk.map_err(failed)?)?;
                }
            }
        }
        Ok(meta)
    }

    /// The bytes of the object at `relative`, or None when there is none.
    pub async fn read(&self, relative: &str) -> Result<Option<bytes::Bytes>> {
        let path = self.path_of(relative);
        let failed = |e| Error::storage(format!("reading {self}/{relative}"), e);
        match self.store.get(&path).await {
            Ok(got) => got.bytes().await.map(Some).map_err(failed),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    /// Every object below this location, recursively.
    pub async fn list(&self) -> Result<Vec<Path>> {
        use futures::TryStreamExt;
        self.store
            .list(Some(&self.prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| Error::storage(format!("listing {self}"), e))
    }

    /// The names of the folders directly below this location.
    pub async fn folders(&self) -> Result<Vec<String>> {
        let listed = self
            .store
            .list_with_delimiter(Some(&self.prefix))
            .await
            .map_err(|e| Error::storage(format!("listing {self}"), e))?;
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect())
    }

    /// The folder on this machine's filesystem, when the store is one.
    pub fn local_dir(&self) -> Option<std::path::PathBuf> {
        if self.base.scheme() != "file" {
            return None;
        }
        object_store::local::LocalFileSystem::new()
            .path_to_filesystem(&self.prefix)
            .ok()
    }

    /// Removes what object_store's listing of a filesystem hides: names
    /// ending in `#<digits>`, the temporaries of an interrupted write or
    /// copy, which Spark and pyarrow would read as data. Recursive; nothing
    /// to do on object stores, whose writes are atomic.
    pub fn remove_hidden_temporaries(&self) -> Result<usize> {
        let Some(dir) = self.local_dir() else {
            return Ok(0);
        };
        remove_temporaries_below(&dir)
            .map_err(|e| Error::internal(format!("cleaning {}: {e}", dir.display())))
    }

    /// Deletes the object at `path`; one already gone counts as deleted.
    pub async fn delete(&self, path: &Path) -> Result<()> {
        let what = format!("deleting {self}/{}", self.relative(path));
        idempotent(&what, || async {
            match self.store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(Error::storage(&what, e)),
            }
        })
        .await
    }

    /// Deletes every object below this location. A local filesystem keeps
    /// the empty folders; they hold no data.
    pub async fn remove_all(&self) -> Result<()> {
        for path in self.list().await? {
            self.delete(&path).await?;
        }
        Ok(())
    }

    /// Writes (replaces) the object at `relative`.
    pub async fn write(&self, relative: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path_of(relative);
        let payload = object_store::PutPayload::from(bytes);
        let what = format!("writing {self}/{relative}");
        idempotent(&what, || async {
            self.store
                .put(&path, payload.clone())
                .await
                .map(|_| ())
                .map_err(|e| Error::storage(&what, e))
        })
        .await
    }

    /// Writes (replaces) the object at `relative` with the bytes of the
    /// local file `from`, streamed in parts rather than held in memory;
    /// like every put, the object appears whole or not at all.
    pub async fn upload(&self, relative: &str, from: &std::path::Path) -> Result<()> {
        use std::io::Read;
        let path = self.path_of(relative);
        let what = format!("writing {self}/{relative}");
        let failed = |e| Error::storage(&what, e);
        let mut file = std::fs::File::open(from)?;
        let upload = self.store.put_multipart(&path).await.map_err(failed)?;
        let mut write = object_store::WriteMultipart::new(upload);
        let mut buffer = vec![0; 8 << 20];
        loop {
            let n = match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = write.abort().await;
                    return Err(e.into());
                }
            };
            if let Err(e) = write.wait_for_capacity(4).await {
                let _ = write.abort().await;
                return Err(failed(e));
            }
            write.write(&buffer[..n]);
        }
        write.finish().await.map(|_| ()).map_err(failed)
    }

    /// Copies `from` over `to` in one operation of the store (a server-side
    /// copy; a hard link renamed into place on a filesystem).
    pub async fn copy(&self, from: &Path, to: &Path) -> Result<()> {
        let what = format!(
            "copying {self}/{} to {}",
            self.relative(from),
            self.relative(to)
        );
        idempotent(&what, || async {
            self.store
                .copy(from, to)
                .await
                .map_err(|e| Error::storage(&what, e))
        })
        .await
    }

    /// Writes `value` as pretty JSON at `relative` (manifests, markers, locks).
    pub async fn write_json(&self, relative: &str, value: &impl serde::Serialize) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::internal(e.to_string()))?;
        self.write(relative, bytes).await
    }

    /// The URL DataFusion can read this location by.
    pub fn url(&self) -> String {
        format!("{}{}", self.base, self.prefix)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.url())
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.url())
    }
}

/// The stores of one run, built once per base URL and shared with DataFusion.
pub struct Storage {
    options: BTreeMap<String, String>,
    max_retries: usize,
    stores: Mutex<BTreeMap<String, Arc<dyn ObjectStore>>>,
}

impl Storage {
    pub fn new(options: BTreeMap<String, String>) -> Storage {
        Storage {
            options,
            max_retries: 10,
            stores: Mutex::new(BTreeMap::new()),
        }
    }

    /// The stores of a pipeline: its storage options and retry budget.
    pub fn for_pipeline(pipeline: &crate::config::Pipeline) -> Storage {
        let mut storage = Storage::new(pipeline.storage_options.clone());
        if let Some(n) = pipeline.storage_max_retries {
            storage.max_retries = n as usize;
        }
        storage
    }

    /// Uses `store` for every location under `base` (tests use this for `memory://`).
    pub fn with_store(self, base: &str, store: Arc<dyn ObjectStore>) -> Result<Storage> {
        self.put_store(&parse_url(base)?, store);
        Ok(self)
    }

    /// Resolves a location given as a URL or a local path.
    pub fn location(&self, location: &str) -> Result<Location> {
        let url = parse_url(location)?;
        let base = base_of(&url);
        let store = self.store_for(&url, &base)?;
        let prefix = Path::from_url_path(url.path())
            .map_err(|e| Error::config(format!("invalid location '{location}': {e}")))?;
        Ok(Location {
            store,
            base,
            prefix,
        })
    }

    /// The store that serves `url`, built the first time its base is asked for.
    pub fn store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.store_for(url, &base_of(url))
    }

    /// Uses `store` for `url`'s base from now on; the store it replaces, if any.
    pub fn put_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        let mut stores = self.stores.lock().ok()?;
        stores.insert(base_of(url).to_string(), store)
    }

    /// Registers every store built so far with DataFusion.
    pub fn register_all(&self, ctx: &SessionContext) -> Result<()> {
        let stores = self
            .stores
            .lock()
            .map_err(|_| Error::internal("storage registry poisoned"))?;
        for (base, store) in stores.iter() {
            let url = Url::parse(base).map_err(|e| Error::internal(e.to_string()))?;
            ctx.register_object_store(&url, Arc::clone(store));
        }
        Ok(())
    }

    fn store_for(&self, url: &Url, base: &Url) -> Result<Arc<dyn ObjectStore>> {
        let mut stores = self
            .stores
            .lock()
            .map_err(|_| Error::internal("storage registry poisoned"))?;
        if let Some(store) = stores.get(base.as_str()) {
            return Ok(Arc::clone(store));
        }
        let store = build_store(url, &self.options, self.max_retries)?;
        stores.insert(base.to_string(), Arc::clone(&store));
        Ok(store)
    }
}

/// A local file's bytes, 1 MiB at a time. object_store streams local files
/// in 8 KiB reads, one blocking task each, which costs more in thread
/// hand-offs than the reads themselves.
fn local_chunks(
    file: std::fs::File,
    label: &str,
) -> futures::stream::BoxStream<'static, Result<bytes::Bytes>> {
    const CHUNK: u64 = 1 << 20;
    let label = label.to_owned();
    futures::stream::try_unfold(Some(file), move |file| {
        let label = label.clone();
        async move {
            let Some(file) = file else { return Ok(None) };
            let read = tokio::task::spawn_blocking(move || {
                use std::io::Read;
                let mut buffer = Vec::with_capacity(CHUNK as usize);
                let mut file = file;
                (&mut file).take(CHUNK).read_to_end(&mut buffer)?;
                Ok::<_, std::io::Error>((buffer, file))
            })
            .await
            .map_err(|e| Error::internal(format!("reading {label}: {e}")))?;
            let (buffer, file) = read.map_err(|e| {
                let source = object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(e),
                };
                Error::storage(format!("reading {label}"), source)
            })?;
            if buffer.is_empty() {
                return Ok(None);
            }
            let more = (buffer.len() as u64 == CHUNK).then_some(file);
            Ok(Some((bytes::Bytes::from(buffer), more)))
        }
    })
    .boxed()
}

/// Whether a file name is a filesystem store's temporary: `name#123`.
pub fn is_hidden_temporary(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn remove_temporaries_below(dir: &std::path::Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            removed += remove_temporaries_below(&entry.path())?;
        } else if is_hidden_temporary(&entry.file_name().to_string_lossy()) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// A URL for a location; a plain path is a local folder.
fn parse_url(location: &str) -> Result<Url> {
    let looks_like_url = location.contains("://");
    if looks_like_url {
        return Url::parse(location)
            .map_err(|e| Error::config(format!("invalid location '{location}': {e}")));
    }
    let absolute = std::path::absolute(location)
        .map_err(|e| Error::config(format!("invalid local path '{location}': {e}")))?;
    Url::from_directory_path(&absolute)
        .map_err(|_| Error::config(format!("invalid local path '{location}'")))
}

fn base_of(url: &Url) -> Url {
    let mut base = url.clone();
    base.set_path("/");
    base.set_query(None);
    base.set_fragment(None);
    base
}

/// Retries of transient store failures (5xx, 429/503 throttling, connection
/// resets, timeouts): exponential backoff from 100 ms up to 15 s between
/// tries, at most `max_retries` (default 10, `storage_max_retries`) and 3
/// minutes per request; then the run ends with exit 5 naming the operation
/// and the URL. Requests are not re-signed between retries, so the total
/// stays well under credential lifetimes.
pub fn retry_config(max_retries: usize) -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_secs(15),
            base: 2.0,
        },
        max_retries,
        retry_timeout: std::time::Duration::from_secs(180),
    }
}

/// How many times [`idempotent`] tries an operation in all.
const IDEMPOTENT_ATTEMPTS: u32 = 6;

/// Runs an idempotent storage operation again, with backoff, while it fails
/// with a storage error. object_store resends a request by itself only when
/// it knows the request never reached the server or the method is "safe"
/// (GET, HEAD); a DELETE or COPY whose connection dropped after it was sent
/// comes back as an error, though sending it again is harmless.
pub async fn idempotent<T, F, Fut>(what: &str, op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    retry(what, std::time::Duration::from_millis(200), op).await
}

async fn retry<T, F, Fut>(what: &str, mut wait: std::time::Duration, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    for _ in 1..IDEMPOTENT_ATTEMPTS {
        match op().await {
            Err(Error::Storage { context, source }) => {
                tracing::warn!("{context}: {source}; {what} again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            done => return done,
        }
    }
    op().await
}

/// One place maps a URL scheme to a store builder.
fn build_store(
    url: &Url,
    options: &BTreeMap<String, String>,
    max_retries: usize,
) -> Result<Arc<dyn ObjectStore>> {
    use object_store::aws::AmazonS3Builder;
    use object_store::azure::MicrosoftAzureBuilder;
    use object_store::gcp::GoogleCloudStorageBuilder;

    let bad_option = |key: &str, e: object_store::Error| {
        Error::config(format!(
            "storage_options.{key}: not an option for {}: {e}",
            url.scheme()
        ))
    };
    let built = match url.scheme() {
        "file" => return Ok(Arc::new(object_store::local::LocalFileSystem::new())),
        "memory" => return Ok(Arc::new(object_store::memory::InMemory::new())),
        "s3" | "s3a" => {
            let mut b = AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .with_retry(retry_config(max_retries));
            for (k, v) in options {
                b = b.with_config(k.parse().map_err(|e| bad_option(k, e))?, v);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "gs" => {
            let mut b = GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry_config(max_retries));
            for (k, v) in options {
                b = b.with_config(k.parse().map_err(|e| bad_option(k, e))?, v);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        "az" | "azure" | "abfs" | "abfss" | "adl" => {
            let mut b = MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry_config(max_retries));
            for (k, v) in options {
                b = b.with_config(k.parse().map_err(|e| bad_option(k, e))?, v);
            }
            b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
        }
        other => {
            return Err(Error::config(format!(
                "unsupported location scheme '{other}://' (use a local path, file://, memory://, s3://, gs://, az:// or abfss://)"
            )));
        }
    };
    built.map_err(|e| Error::config(format!("cannot open store for {url}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn lost_answer() -> Error {
        Error::storage(
            "deleting memory:///x",
            object_store::Error::Generic {
                store: "test",
                source: "connection closed before message completed".into(),
            },
        )
    }

    #[tokio::test]
    async fn an_idempotent_operation_is_sent_again_after_a_lost_answer() {
        let tries = std::sync::atomic::AtomicU32::new(0);
        let done = retry("deleting", Duration::ZERO, || async {
            match tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0 | 1 => Err(lost_answer()),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(done.unwrap(), 2);
    }

    #[tokio::test]
    async fn an_idempotent_operation_gives_up_after_its_attempts() {
        let tries = std::sync::atomic::AtomicU32::new(0);
        let done: Result<()> = retry("deleting", Duration::ZERO, || async {
            tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(lost_answer())
        })
        .await;
        assert_eq!(done.unwrap_err().exit_code(), 5);
        assert_eq!(tries.into_inner(), IDEMPOTENT_ATTEMPTS);
    }

    #[tokio::test]
    async fn only_storage_errors_are_retried() {
        let tries = std::sync::atomic::AtomicU32::new(0);
        let done: Result<()> = retry("deleting", Duration::ZERO, || async {
            tries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(Error::internal("not a storage error"))
        })
        .await;
        assert!(done.is_err());
        assert_eq!(tries.into_inner(), 1);
    }

    #[test]
    fn hidden_temporaries_are_names_ending_in_a_hash_and_digits() {
        assert!(is_hidden_temporary("part-00000.parquet#0"));
        assert!(is_hidden_temporary("_SUCCESS#12"));
        assert!(!is_hidden_temporary("part-00000.parquet"));
        assert!(!is_hidden_temporary("a#b"));
        assert!(!is_hidden_temporary("a#"));
    }

    #[test]
    fn relative_paths_are_local_folders() {
        let storage = Storage::new(BTreeMap::new());
        let loc = storage.location("some/dir").unwrap();
        assert_eq!(loc.base.scheme(), "file");
        assert!(loc.url().ends_with("some/dir"));
    }

    #[test]
    fn memory_stores_are_shared_by_base() {
        let storage = Storage::new(BTreeMap::new());
        let a = storage.location("memory://bucket/a").unwrap();
        let b = storage.location("memory://bucket/b").unwrap();
        assert!(Arc::ptr_eq(&a.store, &b.store));
        assert_eq!(a.relative(&a.child("x/y.csv").prefix), "x/y.csv");
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let storage = Storage::new(BTreeMap::new());
        assert!(matches!(
            storage.location("ftp://x/y"),
            Err(Error::Config(_))
        ));
    }
}
