//! Parquet's reader over an object store: ranged GETs, with the footer found
//! from the size the listing already gave us (no extra HEAD request). The
//! footer's bytes are kept: `parquet_in` reads the metadata twice, with
//! different schemas, and the second reading costs no request. With an
//! ETag, every GET is conditional on it, so a re-read of a file that was
//! replaced fails instead of reading the new file's rows.
//!
//! parquet's own `ParquetObjectReader` is deprecated (parquet 59.2): its
//! advice is to implement `AsyncFileReader` on the store, as here.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, MetadataFetch};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

/// One Parquet object of known size.
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    /// The version every read must find, when set.
    if_match: Option<String>,
    /// The ranges fetched to read the metadata, and their bytes.
    footer: Vec<(Range<u64>, Bytes)>,
}

impl ObjectReader {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        path: Path,
        size: u64,
        if_match: Option<String>,
    ) -> ObjectReader {
        ObjectReader {
            store,
            path,
            size,
            if_match,
            footer: Vec::new(),
        }
    }

    /// One ranged GET, conditional on the ETag.
    async fn get_if_match(&self, range: Range<u64>, e_tag: String) -> Result<Bytes> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            if_match: Some(e_tag),
            ..GetOptions::default()
        };
        let got = self.store.get_opts(&self.path, options).await;
        got.map_err(external)?.bytes().await.map_err(external)
    }
}

/// Fetches the metadata's ranges through the reader, each range once.
struct FooterFetch<'a>(&'a mut ObjectReader);

impl MetadataFetch for FooterFetch<'_> {
    fn fetch(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        async move {
            if let Some((_, bytes)) = self.0.footer.iter().find(|(r, _)| *r == range) {
                return Ok(bytes.clone());
            }
            let bytes = self.0.get_bytes(range.clone()).await?;
            self.0.footer.push((range, bytes.clone()));
            Ok(bytes)
        }
        .boxed()
    }
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes>> {
        match self.if_match.clone() {
            Some(e_tag) => async move { self.get_if_match(range, e_tag).await }.boxed(),
            None => self
                .store
                .get_range(&self.path, range)
                .map_err(external)
                .boxed(),
        }
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, Result<Vec<Bytes>>> {
        async move {
            match self.if_match.clone() {
                // A re-read of a few records: one conditional GET per range.
                Some(e_tag) => {
                    let gets = ranges
                        .into_iter()
                        .map(|r| self.get_if_match(r, e_tag.clone()));
                    futures::future::try_join_all(gets).await
                }
                None => self
                    .store
                    .get_ranges(&self.path, &ranges)
                    .await
                    .map_err(external),
            }
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(FooterFetch(self), size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}
