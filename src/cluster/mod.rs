//! The cluster engine: one pipeline, the same SQL, run by an Apache
//! DataFusion Ballista cluster instead of this process
//! (docs/scale-out.md). The one binary has three roles:
//!
//! ```text
//!   cvm-etl run --engine ballista://S:P      cvm-etl scheduler --bind S:P
//!   ┌──────────────────────────────┐  plans   ┌───────────────────────────┐
//!   │ driver: lock, recovery,      │ ───────▶ │ scheduler: physical plans,│
//!   │ listing, gates, manifest,    │ ◀─────── │ stages, tasks             │
//!   │ staging and commit           │  results └───────────────────────────┘
//!   └──────────────────────────────┘              ▲ polls for tasks
//!                                      ┌──────────┴────────────────────┐
//!                                      │ executors (cvm-etl executor): │
//!                                      │ read and check the sources    │
//!                                      │ ([`read`]), run the checks and│
//!                                      │ steps, write their tables to  │
//!                                      │ OUTPUT/_scratch/<run_id>/,    │
//!                                      │ shuffle through their work dir│
//!                                      └───────────────────────────────┘
//! ```
//!
//! Ballista finds functions on an executor by name, in the executor's own
//! registry, and decodes plans with the codec the executor was started
//! with. So every role builds the same session state here, from
//! [`config`], [`state`] and [`runtime`]: our settings, our functions, our
//! codec ([`codec`]), our object stores ([`stores`]). Tasks are pulled by
//! the executors (Ballista's pull-staged policy): an executor needs no
//! port the scheduler can reach, only its shuffle port for its peers.

pub mod codec;
pub mod executor;
pub mod read;
pub mod scheduler;
mod stores;

use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use datafusion::execution::SessionState;
use datafusion::execution::registry::FunctionRegistry;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::config::Endpoint;
use crate::error::{Error, Result};
use crate::session;
use crate::storage::Storage;
use crate::transforms;

/// The session settings of every role: a local run's, with Ballista's
/// settings and our codec added.
pub fn config() -> SessionConfig {
    session::config()
        .upgrade_for_ballista()
        .with_ballista_adaptive_query_planner(false)
        .with_ballista_logical_extension_codec(Arc::new(codec::Codec::default()))
        .with_ballista_physical_extension_codec(Arc::new(codec::PhysicalCodec::default()))
}

/// A role's session state on `runtime`: Ballista's defaults (DataFusion's
/// functions, its optimizer rules) and our functions.
pub fn state(
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
) -> datafusion::common::Result<SessionState> {
    let defaults = ballista_core::utils::default_session_builder(config)?;
    let mut state = SessionStateBuilder::new_from_existing(defaults)
        .with_runtime_env(runtime)
        .build();
    for udf in transforms::functions() {
        state.register_udf(Arc::new(udf))?;
    }
    Ok(state)
}

/// A role's runtime: `builder`'s pool and folders, and the stores of
/// `storage`, built as URLs are asked for.
pub fn runtime(
    storage: Arc<Storage>,
    builder: RuntimeEnvBuilder,
) -> datafusion::common::Result<Arc<RuntimeEnv>> {
    builder
        .with_object_store_registry(Arc::new(stores::Stores(storage)))
        .build_arc()
}

/// The driver's session: what it plans runs on the cluster whose
/// scheduler is at `scheduler`; `builder` is the driver's own pool and
/// spill folder, for the results it writes.
pub async fn driver(
    storage: &Storage,
    scheduler: &Endpoint,
    builder: RuntimeEnvBuilder,
) -> Result<SessionContext> {
    reach(scheduler).await?;
    let state = state(config(), builder.build_arc()?)?;
    let url = format!("df://{scheduler}");
    let ctx = SessionContext::remote_with_state(&url, state)
        .await
        .map_err(|e| {
            Error::config(format!(
                "ballista://{scheduler}: not a scheduler's address: {e}"
            ))
        })?;
    storage.register_all(&ctx)?;
    Ok(ctx)
}

/// Tries the scheduler's port a few times, a second apart, so that a run
/// whose cluster is down (or still starting) ends at once with an error
/// that says so, rather than at its first query with a transport error.
async fn reach(scheduler: &Endpoint) -> Result<()> {
    const TRIES: u32 = 5;
    let mut last = None;
    for attempt in 0..TRIES {
        if attempt > 0 {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        let connect = tokio::net::TcpStream::connect((scheduler.host.as_str(), scheduler.port));
        match tokio::time::timeout(std::time::Duration::from_secs(5), connect).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = Some(e.to_string()),
            Err(_) => last = Some("no answer within 5 s".to_owned()),
        }
    }
    Err(Error::Cluster(format!(
        "cannot reach the scheduler at {scheduler} ({TRIES} tries): {}",
        last.unwrap_or_default()
    )))
}

/// An engine error that comes from the cluster going away under a query
/// (the scheduler or every executor unreachable, or lost) is a cluster
/// error, worth a retry; any other error is left as it is.
pub fn explain(error: Error, scheduler: &Endpoint) -> Error {
    const LOST: &[&str] = &[
        "tcp connect error",
        "transport error",
        "executors were lost",
        "no executors remain",
    ];
    let text = error.to_string();
    match &error {
        Error::DataFusion(_) if LOST.iter().any(|l| text.contains(l)) => Error::Cluster(format!(
            "the cluster of the scheduler at {scheduler} failed under a query: {text}"
        )),
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::error::DataFusionError;

    fn at() -> Endpoint {
        Endpoint {
            host: "127.0.0.1".to_owned(),
            port: 50050,
        }
    }

    #[test]
    fn a_cluster_lost_under_a_query_is_exit_5_and_other_engine_errors_are_not() {
        let lost = DataFusionError::Execution(
            "tonic::transport::Error(Transport, ConnectError(\"tcp connect error\"))".to_owned(),
        );
        let error = explain(Error::DataFusion(lost), &at());
        assert_eq!(error.exit_code(), 5);
        assert!(error.to_string().contains("127.0.0.1:50050"), "{error}");
        let bug = DataFusionError::Plan("no such column".to_owned());
        assert_eq!(explain(Error::DataFusion(bug), &at()).exit_code(), 1);
    }
}
