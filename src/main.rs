//! The `cvm-etl` command: parses arguments, calls the library, prints for
//! the person at the terminal, and maps errors to the exit codes of
//! README.md#exit-codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};

use cvm_etl::cluster;
use cvm_etl::config::{Endpoint, Engine, Overrides, Pipeline};
use cvm_etl::error::Error;
use cvm_etl::run::{RunFailure, RunReport, run};
use cvm_etl::sample::{SampleOptions, generate};
use cvm_etl::signals::Ending;
use cvm_etl::storage::Storage;

/// Customer value management ETL: billing and CRM exports in, Hive-partitioned Parquet out.
///
/// Exit codes: 0 success, 1 internal error, 2 usage or configuration error,
/// 3 data-quality gate failed, 4 inputs not ready, 5 storage or cluster error,
/// 6 another run for the same date holds the lock.
#[derive(Parser)]
#[command(name = "cvm-etl", version = cvm_etl::VERSION, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log filter for stderr, e.g. `info`, `debug`, `cvm_etl=debug` (also RUST_LOG).
    #[arg(long, global = true, default_value = "info", env = "CVM_ETL_LOG")]
    log: String,
    /// Log lines on stderr as text or as JSON, one object a line; every
    /// line of a run carries its run_id and as_of (default: text on a
    /// terminal, JSON otherwise).
    #[arg(long, global = true, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the job for one date.
    Run(RunArgs),
    /// Run the job for every date of a range, in order; stop at the first failure.
    Backfill(BackfillArgs),
    /// Check a pipeline file without touching any data.
    Validate(PipelineArgs),
    /// Write a deterministic sample of billing, customers and costs exports.
    SampleData(SampleArgs),
    /// Show what an output location holds: per date, the live run (status,
    /// counts, partitions, stage times, warnings) and runs left unfinished.
    Inspect(InspectArgs),
    /// Rebuild the finance report of one date (report/as_of=D/index.html)
    /// from its published outputs; a run writes it anyway.
    Report(PipelineArgs),
    /// Serve as the scheduler of a cluster: drivers (`run --engine
    /// ballista://HOST:PORT`) send it their queries, executors pull their
    /// tasks from it (docs/scale-out.md).
    Scheduler(SchedulerArgs),
    /// Serve as an executor of a cluster: run the tasks of the scheduler's
    /// queries; credentials for the stores come from this machine's
    /// environment or instance role.
    Executor(ExecutorArgs),
}

#[derive(Args)]
struct SchedulerArgs {
    /// Where to listen, HOST:PORT (port 0: a free one; the address is printed).
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:50050")]
    bind: Endpoint,
}

#[derive(Args)]
struct ExecutorArgs {
    /// The scheduler, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    scheduler: Endpoint,
    /// Where this executor serves its tasks' results to its peers and the
    /// driver, HOST:PORT; they must reach it there.
    #[arg(long, value_name = "HOST:PORT")]
    bind: Endpoint,
    /// Local folder for shuffle files and spills.
    #[arg(long, value_name = "DIR")]
    work_dir: PathBuf,
    /// Memory its tasks share, e.g. 8GiB, past which they spill (default:
    /// most of the machine's or container's memory).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<u64>,
}

#[derive(Args)]
struct InspectArgs {
    /// The output location (URL or local path).
    output: String,
    /// Only this date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct PipelineArgs {
    /// The pipeline YAML file.
    pipeline: PathBuf,
    /// Override one parameter: NAME=VALUE, VALUE read as YAML (repeatable).
    /// NAME is a parameter listed in docs/metrics.md#parameters (e.g.
    /// `mvc_share=0.07`, `score_weights='{profit: 0.5, revenue: 0.5}'`), or
    /// `sources.NAME.path` / `sources.NAME.encoding`.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    sets: Vec<String>,
    /// The run date D, YYYY-MM-DD (default: the pipeline's as_of, else yesterday UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Root under which billing/, customers/ and costs/ live (URL or local path).
    #[arg(long, value_name = "URL")]
    input: Option<String>,
    /// Output location (URL or local path).
    #[arg(long, value_name = "URL")]
    output: Option<String>,
    /// Local folder for the run's scratch files and spills (default: the system temp folder).
    #[arg(long, value_name = "DIR")]
    temp_dir: Option<String>,
    /// Memory for the run, e.g. 1GiB: three quarters go to the query engine,
    /// whose aggregations and sorts spill to the temp folder past it
    /// (default: the pipeline's memory_limit, else unbounded).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<u64>,
    /// The most the query engine may spill to the temp folder, e.g. 50GiB;
    /// a run that would spill more stops with an error naming the folder
    /// rather than filling the disk (default: the pipeline's max_spill,
    /// else four times the bytes of the input files, at least 1GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_spill: Option<u64>,
    /// Read and check every input file again, rather than take an
    /// unchanged file's checked rows from the output's _cache/ (default:
    /// the pipeline's cache, else on).
    #[arg(long)]
    no_cache: bool,
    /// Where the queries run: `local` (this process), or
    /// `ballista://HOST:PORT`, a cluster's scheduler (default: the
    /// pipeline's engine, else local).
    #[arg(long, value_name = "ENGINE")]
    engine: Option<Engine>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// Print the physical plan of every SQL step with its metrics (rows,
    /// time, spills per operator), to see which step is slow.
    #[arg(long)]
    explain: bool,
    /// At the end of the run, success or failure, write its result as JSON
    /// to PATH (its shape: docs/results.schema.json).
    #[arg(long, value_name = "PATH")]
    results_file: Option<PathBuf>,
    /// At the end of the run, success or failure, write Prometheus metrics
    /// to PATH, for the node exporter's textfile collector (default: the
    /// pipeline's metrics_file).
    #[arg(long, value_name = "PATH")]
    metrics_file: Option<PathBuf>,
}

#[derive(Args)]
struct BackfillArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// The first date, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    from: NaiveDate,
    /// The last date, YYYY-MM-DD (inclusive).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    to: NaiveDate,
    /// Rerun dates whose outputs are already live (by default they are skipped).
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct SampleArgs {
    /// Number of customers.
    #[arg(long, default_value_t = 300)]
    customers: u64,
    /// Months of billing history.
    #[arg(long, default_value_t = 14)]
    months: u32,
    /// The last month of data, YYYY-MM.
    #[arg(long, default_value = "2026-10", value_parser = parse_month)]
    end_month: NaiveDate,
    /// Seed of the random generator; the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output folder; billing/, customers/ and costs/ are created in it.
    #[arg(long)]
    out: PathBuf,
    /// Leave out the handful of deliberately bad rows.
    #[arg(long)]
    no_bad_rows: bool,
    /// Plain exports for benchmarks: UTF-8 customers, every billing drop CSV.
    #[arg(long)]
    plain: bool,
}

fn parse_date(text: &str) -> Result<NaiveDate, String> {
    cvm_etl::calendar::parse_date(text).ok_or_else(|| format!("'{text}' is not a date YYYY-MM-DD"))
}

fn parse_size(text: &str) -> Result<u64, String> {
    cvm_etl::config::ByteSize::parse(text).map(|b| b.0)
}

fn parse_month(text: &str) -> Result<NaiveDate, String> {
    parse_date(&format!("{text}-01")).map_err(|_| format!("'{text}' is not a month YYYY-MM"))
}

fn main() -> ExitCode {
    cvm_etl::memory::limit_arenas();
    let cli = Cli::parse();
    init_logging(&cli.log, cli.log_format);
    quiet_panics();
    let executed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| execute(cli.command)));
    match executed {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(e.exit_code())
        }
        // A run catches its own panics (failed manifest, lock released);
        // this is for the rest of the command.
        Err(_) => ExitCode::from(1),
    }
}

/// A panic is a bug: report where it happened, never its message, which
/// may hold a value of the data (a customer's name, say).
fn quiet_panics() {
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        eprintln!(
            "internal error: the job panicked{at} (a bug: please report it with the run manifest)"
        );
    }));
}

fn init_logging(filter: &str, format: Option<LogFormat>) {
    use std::io::IsTerminal;
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_owned());
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false);
    let terminal = std::io::stderr().is_terminal();
    match format.unwrap_or(if terminal {
        LogFormat::Text
    } else {
        LogFormat::Json
    }) {
        LogFormat::Text => {
            if terminal {
                cvm_etl::progress::observe(Box::new(Bar::default()));
            }
            logs.init()
        }
        // The run's span (run_id, as_of) on every line, flattened into it.
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// A progress bar on stderr, for the person at the terminal: files (or
/// partitions) done, bytes and rows.
#[derive(Default)]
struct Bar {
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
    bytes: std::sync::atomic::AtomicU64,
    rows: std::sync::atomic::AtomicU64,
}

impl cvm_etl::progress::Observer for Bar {
    fn start(&self, stage: &str, items: u64, bytes: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(items),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let template = "{prefix:>18} [{bar:30}] {pos}/{len} {msg} ({elapsed})";
        if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(stage.to_owned());
        self.bytes.store(0, Relaxed);
        self.rows.store(0, Relaxed);
        if bytes > 0 {
            bar.set_message(format!("of {}", indicatif::HumanBytes(bytes)));
        }
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, bytes: u64, rows: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let bytes = self.bytes.fetch_add(bytes, Relaxed) + bytes;
        let rows = self.rows.fetch_add(rows, Relaxed) + rows;
        if let Ok(slot) = self.bar.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(1);
            bar.set_message(format!("{}, {rows} rows", indicatif::HumanBytes(bytes)));
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish_and_clear();
        }
    }
}

fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Run(args) => run_command(&args),
        Command::Backfill(args) => backfill_command(&args),
        Command::Validate(args) => validate_command(&args),
        Command::SampleData(args) => sample_command(&args),
        Command::Inspect(args) => inspect_command(&args),
        Command::Report(args) => report_command(&args),
        Command::Scheduler(args) => scheduler_command(&args),
        Command::Executor(args) => executor_command(args),
    }
}

fn scheduler_command(args: &SchedulerArgs) -> Result<(), Error> {
    runtime()?.block_on(cluster::scheduler::serve(&args.bind, |at| {
        // On stdout, for whoever started it and waits for it.
        println!("scheduler listening on {at}");
    }))
}

fn executor_command(args: ExecutorArgs) -> Result<(), Error> {
    runtime()?.block_on(cluster::executor::serve(cluster::executor::Options {
        scheduler: args.scheduler,
        bind: args.bind,
        work_dir: args.work_dir,
        memory_limit: args.memory_limit,
    }))
}

fn overrides(args: &PipelineArgs) -> Overrides {
    Overrides {
        as_of: args.as_of,
        input: args.input.clone(),
        output: args.output.clone(),
        temp_dir: args.temp_dir.clone(),
        memory_limit: args.memory_limit,
        max_spill: args.max_spill,
        no_cache: args.no_cache,
        engine: args.engine.clone(),
        sets: args.sets.clone(),
    }
}

fn load(args: &PipelineArgs) -> Result<Pipeline, Error> {
    Pipeline::load(&args.pipeline, &overrides(args))
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::from)
}

fn run_command(args: &RunArgs) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let (name, metrics_file, outcome) = match load(&args.pipeline) {
        Ok(pipeline) => {
            let metrics_file = args
                .metrics_file
                .clone()
                .or_else(|| pipeline.metrics_file.clone().map(PathBuf::from));
            let outcome = run_loaded(&pipeline, args.explain);
            (pipeline.name.clone(), metrics_file, outcome)
        }
        Err(error) => {
            let name = args.pipeline.pipeline.file_stem().map_or_else(
                || "cvm-etl".to_owned(),
                |s| s.to_string_lossy().into_owned(),
            );
            let failure = RunFailure {
                error,
                report: None,
            };
            (name, args.metrics_file.clone(), Err(Box::new(failure)))
        }
    };
    let (report, error) = match &outcome {
        Ok(report) => (Some(report), None),
        Err(failure) => (failure.report.as_ref(), Some(&failure.error)),
    };
    let ending = Ending {
        pipeline: &name,
        exit_code: error.map_or(0, Error::exit_code),
        error: error.map(Error::to_string),
        report,
        ended_at: chrono::Utc::now(),
        seconds: started.elapsed().as_secs_f64(),
    };
    write_signals(
        &ending,
        args.results_file.as_deref(),
        metrics_file.as_deref(),
    );
    outcome.map(drop).map_err(|failure| failure.error)
}

/// Writes the results and metrics files; a file that cannot be written is
/// reported and does not change the run's exit code.
fn write_signals(ending: &Ending, results: Option<&Path>, metrics: Option<&Path>) {
    use cvm_etl::signals;
    if let Some(path) = results {
        let text = format!("{:#}\n", signals::results(ending));
        if let Err(e) = signals::write_atomically(path, &text) {
            eprintln!(
                "error: cannot write the results file {}: {e}",
                path.display()
            );
        }
    }
    if let Some(path) = metrics {
        let text = signals::metrics(ending, signals::previous_success(path));
        if let Err(e) = signals::write_atomically(path, &text) {
            eprintln!(
                "error: cannot write the metrics file {}: {e}",
                path.display()
            );
        }
    }
}

fn run_loaded(pipeline: &Pipeline, explain: bool) -> Result<RunReport, Box<RunFailure>> {
    let storage = Storage::for_pipeline(pipeline);
    let runtime = runtime().map_err(|e| Box::new(RunFailure::from(e)))?;
    match runtime.block_on(run(pipeline, &storage)) {
        Ok(report) => {
            if explain {
                for (step, plan) in &report.manifest.plans {
                    println!("-- sql/model step {step}\n{plan}");
                }
            }
            print_summary(&report);
            Ok(report)
        }
        Err(failure) => {
            if let Some(path) = failure
                .report
                .as_ref()
                .and_then(|r| r.manifest_path.clone())
            {
                eprintln!("run manifest: {path}");
            }
            Err(Box::new(failure))
        }
    }
}

fn backfill_command(args: &BackfillArgs) -> Result<(), Error> {
    use cvm_etl::backfill::{DateOutcome, backfill};
    if args.pipeline.as_of.is_some() {
        return Err(Error::config("backfill takes --from and --to, not --as-of"));
    }
    if args.from > args.to {
        return Err(Error::config(format!(
            "--from {} is after --to {}",
            args.from, args.to
        )));
    }
    let base = load(&args.pipeline)?;
    let storage = Storage::for_pipeline(&base);
    let pipeline_for = |day: NaiveDate| {
        let mut overrides = overrides(&args.pipeline);
        overrides.as_of = Some(day);
        Pipeline::load(&args.pipeline.pipeline, &overrides)
    };
    let report = |day: NaiveDate, outcome: &DateOutcome| match outcome {
        DateOutcome::Succeeded { run_id } => println!("{day}: succeeded (run {run_id})"),
        DateOutcome::Skipped { run_id } => {
            println!("{day}: skipped, outputs of run {run_id} are live (--force reruns)")
        }
        DateOutcome::Failed { error, run_id } => {
            println!(
                "{day}: failed (run {}): {error}",
                run_id.as_deref().unwrap_or("-")
            )
        }
    };
    let done = runtime()?.block_on(backfill(
        pipeline_for,
        &storage,
        args.from,
        args.to,
        args.force,
        report,
    ));
    let count = |f: fn(&DateOutcome) -> bool| done.iter().filter(|(_, o)| f(o)).count();
    let succeeded = count(|o| matches!(o, DateOutcome::Succeeded { .. }));
    let skipped = count(|o| matches!(o, DateOutcome::Skipped { .. }));
    let total = args.from.iter_days().take_while(|d| *d <= args.to).count();
    println!(
        "backfill {}..{}: {succeeded} succeeded, {skipped} skipped, {} not run",
        args.from,
        args.to,
        total - done.len()
    );
    match done.into_iter().find_map(|(day, o)| match o {
        DateOutcome::Failed { error, .. } => Some((day, error)),
        _ => None,
    }) {
        Some((day, error)) => {
            eprintln!("backfill stopped at {day}");
            Err(error)
        }
        None => Ok(()),
    }
}

fn validate_command(args: &PipelineArgs) -> Result<(), Error> {
    let pipeline = load(args)?;
    let storage = Storage::for_pipeline(&pipeline);
    storage.location(&pipeline.output)?;
    for source in pipeline.sources.values() {
        storage.location(&source.path)?;
    }
    println!(
        "{}: valid (pipeline '{}', as_of {}, output {})",
        args.pipeline.display(),
        pipeline.name,
        pipeline.params.as_of.0,
        pipeline.output
    );
    Ok(())
}

fn report_command(args: &PipelineArgs) -> Result<(), Error> {
    let pipeline = load(args)?;
    let storage = Storage::for_pipeline(&pipeline);
    let output = storage.location(&pipeline.output)?;
    let materiality = pipeline.params.report.materiality.0.value();
    let written = runtime()?.block_on(cvm_etl::report::rebuild(
        &storage,
        &output,
        pipeline.params.as_of.0,
        materiality,
        cvm_etl::run::LOCK_LEASE,
    ))?;
    println!("report written: {written}");
    Ok(())
}

fn inspect_command(args: &InspectArgs) -> Result<(), Error> {
    use cvm_etl::inspect::{inspect, render};
    let output = Storage::new(Default::default()).location(&args.output)?;
    let views = runtime()?.block_on(inspect(&output, args.as_of))?;
    if args.json {
        let json = serde_json::to_string_pretty(&views).map_err(Error::internal)?;
        println!("{json}");
    } else {
        print!("{}", render(&views));
    }
    Ok(())
}

fn sample_command(args: &SampleArgs) -> Result<(), Error> {
    let options = SampleOptions {
        customers: args.customers,
        months: args.months,
        end_month: args.end_month,
        seed: args.seed,
        out: args.out.clone(),
        bad_rows: !args.no_bad_rows,
        plain: args.plain,
    };
    let summary = generate(&options)?;
    println!(
        "wrote {} customers, {} billing lines, {} cost items in {} files under {}",
        summary.customers,
        summary.billing_lines,
        summary.cost_items,
        summary.files,
        args.out.display()
    );
    for (what, n) in &summary.bad_rows {
        println!("  bad rows on purpose: {what} {n}");
    }
    Ok(())
}

fn print_summary(report: &RunReport) {
    let m = &report.manifest;
    println!("run {} for as_of {}: {}", m.run_id, m.as_of, m.status);
    println!(
        "{:<10} {:>10} {:>10} {:>10} {:>12}",
        "source", "read", "accepted", "rejected", "out_of_scope"
    );
    for (source, c) in report.counts() {
        println!(
            "{:<10} {:>10} {:>10} {:>10} {:>12}",
            source, c.rows_read, c.rows_accepted, c.rows_rejected, c.rows_out_of_scope
        );
        for (reason, n) in &c.rejected_by_reason {
            println!("{:<10}   {reason}: {n}", "");
        }
    }
    if let Some(c) = &m.cache {
        println!(
            "staging cache: {} of {} files reused, {} kept for the next run",
            c.hits,
            c.hits + c.misses,
            c.written
        );
    }
    print_memory(m);
    if let Some(summary) = &m.summary {
        print_model_summary(summary);
    }
    println!("outputs under {}", report.output);
    let page = m.outputs.iter().find(|o| o.table == cvm_etl::report::TABLE);
    if let Some(file) = page.and_then(|p| p.files.first()) {
        println!("finance report: {}/{}", report.output, file.path);
    }
    if let Some(path) = &report.manifest_path {
        println!("run manifest: {path}");
    }
}

/// The run's memory high-water mark and the stage that reached it.
fn print_memory(m: &cvm_etl::manifest::Manifest) {
    let gib = |bytes: u64| bytes as f64 / f64::from(1 << 30);
    let Some(peak) = m.peak_rss_bytes else {
        return;
    };
    let highest = m
        .stages
        .iter()
        .filter_map(|s| Some((&s.stage, s.memory?)))
        .max_by_key(|(_, p)| p.rss_bytes);
    match highest {
        Some((stage, p)) => println!(
            "peak memory: {:.2} GiB; highest in {stage}, {:.2} GiB of it in the engine's pool",
            gib(peak),
            gib(p.engine_bytes)
        ),
        None => println!("peak memory: {:.2} GiB", gib(peak)),
    }
}

fn print_model_summary(s: &cvm_etl::summary::ModelSummary) {
    let join = |map: &std::collections::BTreeMap<String, u64>| {
        map.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("customers in scope: {}", s.customers_in_scope);
    println!("  pyramid: {}", join(&s.pyramid_tier));
    println!(
        "  abc:     {} (b_rising {})",
        join(&s.abc_class),
        s.b_rising
    );
    println!("churn watchlist: {} customers", s.watchlist);
    let wanted = s
        .retention_savings
        .iter()
        .find(|r| r.get("scenario").is_some_and(|v| v == "0.01"))
        .or_else(|| s.retention_savings.first());
    if let Some(r) = wanted {
        let field = |k: &str| {
            r.get(k)
                .filter(|v| !v.is_empty())
                .map_or("n/a", String::as_str)
        };
        println!(
            "retention savings (all, churn cut {}): {} of {} subscribers kept, acquisition cost avoided {} {}, revenue kept {} a month, lifetime value {}",
            field("scenario"),
            field("customers_retained"),
            field("base_subscribers"),
            field("acquisition_cost_avoided"),
            field("currency"),
            field("monthly_revenue_retained"),
            field("lifetime_value_retained"),
        );
    }
}
