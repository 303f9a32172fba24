//! `cvm-etl scheduler`: Ballista's scheduler, with our session state.
//! It keeps its state in memory: a scheduler that restarts loses the jobs
//! in flight, whose runs then fail and are run again (docs/scale-out.md).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::ConfigProducer;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_scheduler::SessionBuilder;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use crate::config::Endpoint;
use crate::error::{Error, Result};
use crate::storage::Storage;

/// Serves the scheduler at `bind` until the process ends; `ready` is told
/// the address it listens on (port 0 picks a free one) once it accepts
/// connections.
pub async fn serve(bind: &Endpoint, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let listener = tokio::net::TcpListener::bind((bind.host.as_str(), bind.port))
        .await
        .map_err(|e| Error::config(format!("scheduler: cannot listen on {bind}: {e}")))?;
    let at = listener.local_addr()?;
    // The scheduler lists the tables' files when it plans: it needs the
    // stores, with credentials from its own environment.
    let storage = Arc::new(Storage::new(BTreeMap::new()));
    let session_builder: SessionBuilder = Arc::new(move |config: SessionConfig| {
        let runtime = super::runtime(Arc::clone(&storage), RuntimeEnvBuilder::new())?;
        super::state(config, runtime)
    });
    let config_producer: ConfigProducer = Arc::new(super::config);
    let name = at.to_string();
    let cluster = BallistaCluster::new_memory(
        name.clone(),
        Arc::clone(&session_builder),
        Arc::clone(&config_producer),
    );
    let config = SchedulerConfig {
        scheduler_id: name,
        external_host: bind.host.clone(),
        bind_host: bind.host.clone(),
        bind_port: at.port(),
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        override_session_builder: Some(session_builder),
        override_config_producer: Some(config_producer),
        override_logical_codec: Some(Arc::new(super::codec::Codec::default())),
        override_physical_codec: Some(Arc::new(super::codec::PhysicalCodec::default())),
        ..SchedulerConfig::default()
    };
    let server = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config))
        .await
        .map_err(|e| Error::internal(format!("scheduler: {e}")))?;
    ready(at);
    start_grpc_service_with_listener(listener, server)
        .await
        .map_err(|e| Error::internal(format!("scheduler: {e}")))
}
