//! Locations are URLs: inputs and outputs may live in different stores.

use std::sync::Arc;

use cvm_etl::config::{Overrides, Pipeline};
use cvm_etl::run::run;
use cvm_etl::storage::Storage;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::common::*;

#[tokio::test]
async fn inputs_in_memory_and_outputs_on_local_disk() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let put = |path: &str, text: String| {
        let store = Arc::clone(&store);
        let path = Path::from(path);
        async move {
            store
                .put(&path, PutPayload::from(text.into_bytes()))
                .await
                .unwrap()
        }
    };
    put(
        "exports/customers/dt=2026-03-31/c.csv",
        format!("{CUSTOMERS_HEADER}C1,n,p,r,s,2025-01-01,,,,\n"),
    )
    .await;
    put(
        "exports/billing/dt=2026-03-01/b.csv",
        format!("{BILLING_HEADER}I1,1,C1,2026-03-01,,9.99,CNY\nI2,1,C1,2026-03-01,,x,CNY\n"),
    )
    .await;

    let out = tempfile::tempdir().unwrap();
    let yaml = format!(
        "input: memory://test/exports\noutput: {}\nas_of: 2026-03-31\nmax_reject_ratio: 1\n",
        out.path().display()
    );
    let pipeline = Pipeline::from_text("t.yaml", &yaml, &Overrides::default()).unwrap();
    let storage = Storage::new(Default::default())
        .with_store("memory://test/", Arc::clone(&store))
        .unwrap();
    let report = run(&pipeline, &storage).await.map_err(|f| f.error).unwrap();
    let billing = &report.manifest.sources["billing"];
    assert_eq!(
        (
            billing.rows_read,
            billing.rows_accepted,
            billing.rows_rejected
        ),
        (2, 1, 1)
    );
    assert!(
        report.manifest.inputs[0]
            .path
            .starts_with("memory://test/exports/"),
        "{}",
        report.manifest.inputs[0].path
    );
    assert!(
        out.path()
            .join("rejected/as_of=2026-03-31/source=billing")
            .is_dir()
    );
}
