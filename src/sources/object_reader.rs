//! Parquet's reader over an object store: ranged GETs, with the footer found
//! from the size the listing already gave us (no extra HEAD request). The
//! footer's bytes are kept: `parquet_in` reads the metadata twice, with
//! different schemas, and the second reading costs no request.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryFutureExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, MetadataFetch};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

/// One Parquet object of known size.
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    /// The ranges fetched to read the metadata, and their bytes.
    footer: Vec<(Range<u64>, Bytes)>,
}

impl ObjectReader {
    pub fn new(store: Arc<dyn ObjectStore>, path: Path, size: u64) -> ObjectReader {
        ObjectReader {
            store,
            path,
            size,
            footer: Vec::new(),
        }
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
        self.store
            .get_range(&self.path, range)
            .map_err(external)
            .boxed()
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
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
