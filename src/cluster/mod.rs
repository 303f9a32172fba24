//! The cluster engine: one pipeline, the same SQL, run by an Apache
//! DataFusion Ballista cluster instead of this process
//! (docs/scale-out.md). The one binary has three roles:
//!
//! ```text
//!   cvm-etl run --engine ballista://S:P      cvm-etl scheduler --bind S:P
//!   ┌──────────────────────────────┐  plans   ┌───────────────────────────┐
//!   │ driver: listing, lock, gate, │ ───────▶ │ scheduler: physical plans,│
//!   │ manifest, commit; plans each │ ◀─────── │ stages, tasks             │
//!   │ step and writes its result   │  results └───────────────────────────┘
//!   └──────────────────────────────┘              ▲ polls for tasks
//!                                      ┌──────────┴────────────────────┐
//!                                      │ executors (cvm-etl executor): │
//!                                      │ read, join, aggregate, rank,  │
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
    let state = state(config(), builder.build_arc()?)?;
    let url = format!("df://{scheduler}");
    let ctx = SessionContext::remote_with_state(&url, state)
        .await
        .map_err(|e| Error::config(format!("cannot reach the scheduler at {scheduler}: {e}")))?;
    for udf in transforms::functions() {
        ctx.register_udf(udf);
    }
    storage.register_all(&ctx)?;
    Ok(ctx)
}
