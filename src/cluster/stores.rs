//! The object stores of a cluster role, resolved by URL from our
//! [`Storage`]: the same stores, options and retries as a local run. An
//! executor's credentials come from its own environment or instance role;
//! none travels over gRPC with the plans.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::ObjectStore;
use url::Url;

use crate::storage::Storage;

/// An [`ObjectStoreRegistry`] that builds a store the first time a URL's
/// bucket is asked for, as [`Storage`] does for a run.
pub struct Stores(pub Arc<Storage>);

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("Stores")
    }
}

impl ObjectStoreRegistry for Stores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.0.put_store(url, store)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.0
            .store(url)
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }
}
