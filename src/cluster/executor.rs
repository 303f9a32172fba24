//! `cvm-etl executor`: Ballista's executor, with our functions, codec and
//! stores. It pulls tasks from the scheduler, keeps the shuffle files of
//! its tasks in its work folder and serves them to its peers on its port.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;

use crate::config::Endpoint;
use crate::error::{Error, Result};
use crate::storage::Storage;

/// How an executor is started (`cvm-etl executor --help`).
#[derive(Debug, Clone)]
pub struct Options {
    pub scheduler: Endpoint,
    /// Where its shuffle (Arrow Flight) service listens; peers and the
    /// driver fetch results from it, so a wildcard host (`0.0.0.0`) is
    /// announced as the address the scheduler sees it connect from.
    pub bind: Endpoint,
    /// Shuffle files and spills.
    pub work_dir: PathBuf,
    /// The memory its tasks share, past which they spill; None: most of
    /// the machine's (or container's) memory.
    pub memory_limit: Option<u64>,
}

/// Serves until the process is stopped (SIGTERM or Ctrl-C: running tasks
/// are finished first).
pub async fn serve(options: Options) -> Result<()> {
    std::fs::create_dir_all(&options.work_dir).map_err(|e| {
        Error::config(format!(
            "executor: cannot create the work folder {}: {e}",
            options.work_dir.display()
        ))
    })?;
    let work_dir = options
        .work_dir
        .to_str()
        .ok_or_else(|| Error::config("executor: the work folder's path is not UTF-8"))?
        .to_owned();
    // Stores from this machine's environment or instance role.
    let storage = Arc::new(Storage::new(BTreeMap::new()));
    let functions = {
        let runtime = super::runtime(Arc::clone(&storage), RuntimeEnvBuilder::new())?;
        BallistaFunctionRegistry::from(&super::state(super::config(), runtime)?)
    };
    let spills = work_dir.clone();
    let runtime_producer: RuntimeProducer = Arc::new(move |_| {
        let builder = RuntimeEnvBuilder::new().with_temp_file_path(spills.clone());
        super::runtime(Arc::clone(&storage), builder)
    });
    let config_producer: ConfigProducer = Arc::new(super::config);
    let wildcard = matches!(options.bind.host.as_str(), "0.0.0.0" | "::");
    let process = ExecutorProcessConfig {
        bind_host: bind_address(&options.bind).await?,
        external_host: (!wildcard).then(|| options.bind.host.clone()),
        port: options.bind.port,
        grpc_port: options.bind.port,
        scheduler_host: options.scheduler.host.clone(),
        scheduler_port: options.scheduler.port,
        // Started beside its scheduler (compose, a pod), it waits for it.
        scheduler_connect_timeout_seconds: 60,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir: Some(work_dir),
        print_thread_info: false,
        memory_pool_size: options.memory_limit,
        override_function_registry: Some(Arc::new(functions)),
        override_runtime_producer: Some(runtime_producer),
        override_config_producer: Some(config_producer),
        override_logical_codec: Some(Arc::new(super::codec::Codec::default())),
        override_physical_codec: Some(Arc::new(super::codec::PhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(process))
        .await
        .map_err(|e| Error::internal(format!("executor: {e}")))
}

/// The address to listen on: Ballista's executor takes an IP only, so a
/// host name (`executor-1` in a compose file) is resolved here, and
/// announced to the scheduler as it was written.
async fn bind_address(bind: &Endpoint) -> Result<String> {
    let mut addresses = tokio::net::lookup_host((bind.host.as_str(), bind.port))
        .await
        .map_err(|e| Error::config(format!("executor: cannot resolve --bind {bind}: {e}")))?;
    addresses
        .next()
        .map(|a| a.ip().to_string())
        .ok_or_else(|| Error::config(format!("executor: --bind {bind} resolves to no address")))
}
