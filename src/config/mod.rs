//! The pipeline file: read, `${ENV}`-expanded, overridden by `--set`, and
//! resolved into [`Pipeline`], the validated settings of one run.
//!
//! Every error names where the bad value came from: `FILE:LINE:COL` for the
//! YAML, or the `--set` argument.

mod check;
mod tree;
mod values;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use values::{
    Bounded, ByteSize, Date, Dec, Encoding, Endpoint, Engine, Growth, Money, MonthCount, Months,
    PositiveMonths, Ratio, RecordBytes, ScoreWeights, Share, TierAction, TierPolicy,
};

use crate::domain::SourceName;
use crate::error::{Error, Result};
use tree::Node;

/// One source's settings in the pipeline file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    pub path: Option<String>,
    pub encoding: Option<Encoding>,
}

/// The run's settings in the pipeline file: its name and where its inputs,
/// outputs and scratch space are. Unknown keys are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub name: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub temp_dir: Option<String>,
    /// Memory for the query engine; past it, sorts and joins spill to temp_dir.
    pub memory_limit: Option<ByteSize>,
    /// The most the query engine may spill to temp_dir (`--max-spill`).
    pub max_spill: Option<ByteSize>,
    /// Whether runs keep and reuse the staging of unchanged input files
    /// under the output's `_cache/` (`--no-cache`); on by default.
    pub cache: Option<bool>,
    pub storage_options: BTreeMap<String, String>,
    /// Retries of a failing store request before the run gives up (exit 5).
    pub storage_max_retries: Option<u32>,
    pub sources: BTreeMap<SourceName, SourceFile>,
    /// Where `run` writes Prometheus metrics at its end (`--metrics-file`).
    pub metrics_file: Option<String>,
    /// `local`, or the Ballista scheduler that runs the queries (`--engine`).
    pub engine: Option<Engine>,
}

/// Overrides a run gets from the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub as_of: Option<NaiveDate>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub temp_dir: Option<String>,
    pub memory_limit: Option<u64>,
    pub max_spill: Option<u64>,
    /// `--no-cache`.
    pub no_cache: bool,
    pub engine: Option<Engine>,
    /// `NAME=VALUE` pairs, the value read as YAML.
    pub sets: Vec<String>,
}

/// A resolved source: where it lives and how its text is encoded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceSettings {
    pub path: String,
    pub encoding: Encoding,
}

/// The parameters (docs/metrics.md#parameters): the one list of them. A
/// parameter is a field here, typed so that reading it checks it, and its
/// default below; the pipeline file and `--set` name it by its field name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    pub as_of: Date,
    pub currency: String,
    pub window_months: PositiveMonths,
    pub trend_months: PositiveMonths,
    pub new_customer_months: Months,
    pub dormant_months: Months,
    pub growth_threshold: Growth,
    pub decline_threshold: Ratio,
    pub alert_drop: Ratio,
    pub mvc_share: Share,
    pub mgc_share: Share,
    pub a_share: Share,
    pub b_share: Share,
    pub b_rising_share: Share,
    pub score_weights: ScoreWeights,
    pub acquisition_cost: Money,
    pub churn_reduction_scenarios: Vec<Ratio>,
    pub monthly_discount_rate: Ratio,
    pub tier_policy: TierPolicy,
    pub max_reject_ratio: Ratio,
    /// 1 disables the volume check.
    pub max_volume_drop: Ratio,
    pub max_record_bytes: RecordBytes,
    pub require_partition_for_as_of: Vec<SourceName>,
    /// How the finance report presents the figures (docs/report.md).
    pub report: ReportParams,
}

/// The finance report's settings: `report.materiality` and its like.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportParams {
    /// A change since the previous as_of larger than this share of the old
    /// figure is highlighted.
    pub materiality: Ratio,
}

impl Default for ReportParams {
    fn default() -> Self {
        ReportParams {
            materiality: Bounded(Dec(Decimal::new(10, 2))),
        }
    }
}

/// Where a parameter's value came from, for the report's assumptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Not given: the default of docs/metrics.md#parameters.
    Default,
    PipelineFile,
    /// A `--set NAME=VALUE` (the last word, over the file).
    Set,
    /// A flag of the command line (`--as-of`).
    Flag,
}

impl Default for Params {
    fn default() -> Self {
        let dec = |mantissa: i64, scale: u32| Dec(Decimal::new(mantissa, scale));
        let yesterday = Utc::now().date_naive() - Duration::days(1);
        Params {
            as_of: Date(yesterday),
            currency: "CNY".to_owned(),
            window_months: MonthCount(12),
            trend_months: MonthCount(3),
            new_customer_months: MonthCount(3),
            dormant_months: MonthCount(2),
            growth_threshold: Bounded(dec(10, 2)),
            decline_threshold: Bounded(dec(20, 2)),
            alert_drop: Bounded(dec(30, 2)),
            mvc_share: Share(dec(5, 2)),
            mgc_share: Share(dec(15, 2)),
            a_share: Share(dec(20, 2)),
            b_share: Share(dec(30, 2)),
            b_rising_share: Share(dec(20, 2)),
            score_weights: ScoreWeights::default_weights(),
            acquisition_cost: Money(dec(55900, 2)),
            churn_reduction_scenarios: vec![
                Bounded(dec(5, 3)),
                Bounded(dec(1, 2)),
                Bounded(dec(2, 2)),
            ],
            monthly_discount_rate: Bounded(dec(1, 2)),
            tier_policy: TierPolicy::default_policy(),
            max_reject_ratio: Bounded(dec(1, 2)),
            max_volume_drop: Bounded(dec(5, 1)),
            max_record_bytes: RecordBytes::DEFAULT,
            require_partition_for_as_of: Vec::new(),
            report: ReportParams::default(),
        }
    }
}

/// The spill budget when none is given: four times the bytes of the input
/// files read, and at least 1 GiB. A run that needs more has outgrown its
/// memory limit; it stops with an error naming the folder rather than
/// filling the disk.
pub fn default_max_spill(input_bytes: u64) -> u64 {
    input_bytes.saturating_mul(4).max(1 << 30)
}

/// Everything one run needs to know, validated.
#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    pub name: String,
    pub output: String,
    #[serde(skip)]
    pub temp_dir: Option<String>,
    /// Bytes for the query engine (a fair, spilling pool); None: unbounded.
    pub memory_limit: Option<u64>,
    /// Bytes the engine may spill; None: [`default_max_spill`] of the input.
    pub max_spill: Option<u64>,
    /// Keep and reuse the staging of unchanged input files (`_cache/`).
    pub cache: bool,
    /// Keys only: values may be credentials.
    #[serde(serialize_with = "keys_only")]
    pub storage_options: BTreeMap<String, String>,
    pub storage_max_retries: Option<u32>,
    pub sources: BTreeMap<SourceName, SourceSettings>,
    #[serde(skip)]
    pub metrics_file: Option<String>,
    /// Where the queries run (docs/scale-out.md).
    pub engine: Engine,
    pub params: Params,
    /// Where each top-level parameter given came from; a parameter not
    /// listed took its default.
    pub origins: BTreeMap<String, Origin>,
}

fn keys_only<S: serde::Serializer>(
    map: &BTreeMap<String, String>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    s.collect_seq(map.keys())
}

impl Pipeline {
    /// Reads, expands, overrides and validates a pipeline file.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Pipeline> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("{label}: cannot read pipeline file: {e}")))?;
        Pipeline::from_text(&label, &text, overrides)
    }

    /// Like [`Pipeline::load`], from text already in memory; `label` names it
    /// in errors. Every error of the file and of the `--set`s is reported,
    /// one a line, not only the first.
    pub fn from_text(label: &str, text: &str, overrides: &Overrides) -> Result<Pipeline> {
        let expanded = expand_env(label, text)?;
        let mut errors = check::file_errors(label, &expanded);
        // A file that cannot be read as a tree has its error above; its
        // `--set`s are still checked, against nothing.
        let mut tree = match Node::parse(&expanded) {
            Ok(tree) => tree,
            Err(e) if errors.is_empty() => return Err(yaml_error(label, &e)),
            Err(_) => Node::Null,
        };
        for set in &overrides.sets {
            if let Err(message) = check::apply_set(&mut tree, set) {
                errors.push(format!("--set {set}: {message}"));
            }
        }
        if !errors.is_empty() {
            return Err(Error::config(errors.join("\n")));
        }
        let origins = origins(&tree, overrides);
        apply_overrides(&mut tree, overrides);
        let (settings, params) =
            check::split(tree).map_err(|e| Error::config(format!("{label}: {e}")))?;
        let mut pipeline = resolve(settings, params)?;
        pipeline.origins = origins;
        Ok(pipeline)
    }
}

/// Where each parameter of the tree (the file with its `--set`s applied)
/// came from; the flags win.
fn origins(tree: &Node, overrides: &Overrides) -> BTreeMap<String, Origin> {
    let set: Vec<&str> = overrides
        .sets
        .iter()
        .filter_map(|s| s.split(['=', '.']).next())
        .collect();
    let mut origins: BTreeMap<String, Origin> = check::param_names()
        .iter()
        .filter(|name| tree.entry(name).is_some_and(|n| !matches!(n, Node::Null)))
        .map(|name| {
            let origin = match set.contains(name) {
                true => Origin::Set,
                false => Origin::PipelineFile,
            };
            ((*name).to_owned(), origin)
        })
        .collect();
    if overrides.as_of.is_some() {
        origins.insert("as_of".to_owned(), Origin::Flag);
    }
    origins
}

/// The command line's flags, which win over the file and `--set`.
fn apply_overrides(tree: &mut Node, overrides: &Overrides) {
    let text = |key: &str, value: Option<String>, tree: &mut Node| {
        if let Some(value) = value {
            tree.set(&[key], Node::Scalar(value));
        }
    };
    text("as_of", overrides.as_of.map(|d| d.to_string()), tree);
    text("input", overrides.input.clone(), tree);
    text("output", overrides.output.clone(), tree);
    text("temp_dir", overrides.temp_dir.clone(), tree);
    text(
        "memory_limit",
        overrides.memory_limit.map(|m| m.to_string()),
        tree,
    );
    text(
        "max_spill",
        overrides.max_spill.map(|m| m.to_string()),
        tree,
    );
    text(
        "cache",
        overrides.no_cache.then(|| "false".to_owned()),
        tree,
    );
    text(
        "engine",
        overrides.engine.as_ref().map(Engine::to_string),
        tree,
    );
}

fn yaml_error(label: &str, e: &serde_yaml::Error) -> Error {
    Error::config(check::located(label, e))
}

/// Replaces `${NAME}` with the environment variable NAME; a missing one is an error.
fn expand_env(label: &str, text: &str) -> Result<String> {
    let pattern = regex::Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}").expect("valid regex");
    let mut missing = None;
    let expanded = pattern.replace_all(text, |caps: &regex::Captures| {
        let name = &caps[1];
        std::env::var(name).unwrap_or_else(|_| {
            if missing.is_none() {
                let at = caps.get(0).map_or(0, |m| m.start());
                missing = Some((name.to_owned(), at));
            }
            String::new()
        })
    });
    if let Some((name, at)) = missing {
        let line = text[..at].matches('\n').count() + 1;
        let column = at - text[..at].rfind('\n').map_or(0, |p| p + 1) + 1;
        return Err(Error::config(format!(
            "{label}:{line}:{column}: environment variable {name} is not set"
        )));
    }
    Ok(expanded.into_owned())
}

fn resolve(settings: Settings, params: Params) -> Result<Pipeline> {
    let sources = resolve_sources(&settings, settings.input.as_deref())?;
    let output = settings
        .output
        .ok_or_else(|| Error::config("no output location: set `output:` or pass --output"))?;
    Ok(Pipeline {
        name: settings.name.unwrap_or_else(|| "cvm-etl".to_owned()),
        output,
        temp_dir: settings.temp_dir,
        memory_limit: settings.memory_limit.map(|m| m.0),
        max_spill: settings.max_spill.map(|m| m.0),
        cache: settings.cache.unwrap_or(true),
        storage_options: settings.storage_options,
        storage_max_retries: settings.storage_max_retries,
        sources,
        metrics_file: settings.metrics_file,
        engine: settings.engine.unwrap_or_default(),
        params,
        origins: BTreeMap::new(),
    })
}

fn resolve_sources(
    settings: &Settings,
    input: Option<&str>,
) -> Result<BTreeMap<SourceName, SourceSettings>> {
    let mut sources = BTreeMap::new();
    for source in SourceName::ALL {
        let given = settings.sources.get(&source).cloned().unwrap_or_default();
        let path = match (given.path, input) {
            (Some(path), _) => path,
            (None, Some(root)) => format!("{}/{}", root.trim_end_matches('/'), source.name()),
            (None, None) => {
                return Err(Error::config(format!(
                    "no location for source {source}: set `input:`, `sources.{source}.path` or pass --input"
                )));
            }
        };
        let encoding = given.encoding.unwrap_or_default();
        sources.insert(source, SourceSettings { path, encoding });
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str, sets: &[&str]) -> Result<Pipeline> {
        let overrides = Overrides {
            sets: sets.iter().map(|s| (*s).to_owned()).collect(),
            ..Overrides::default()
        };
        Pipeline::from_text(
            "p.yaml",
            &format!("output: out\ninput: in\n{yaml}"),
            &overrides,
        )
    }

    #[test]
    fn a_parameter_left_out_takes_its_default() {
        let p = load("", &[]).unwrap();
        assert_eq!(p.params.window_months.0, 12);
        assert_eq!(p.params.acquisition_cost.0.to_string(), "559.00");
        assert_eq!(p.name, "cvm-etl");
    }

    #[test]
    fn a_set_keeps_its_number_text_exactly() {
        // 19 significant digits: an f64 would read 1234567890.1234568.
        let p = load(
            "acquisition_cost: 1.00\n",
            &["acquisition_cost=1234567890.123456789"],
        )
        .unwrap();
        assert_eq!(
            p.params.acquisition_cost.0.to_string(),
            "1234567890.123456789"
        );
    }

    #[test]
    fn a_dotted_set_lands_in_the_nested_mapping() {
        let yaml = "sources:\n  customers: {encoding: gb18030}\n";
        let p = load(yaml, &["sources.billing.path=s3://b/billing"]).unwrap();
        assert_eq!(p.sources[&SourceName::Billing].path, "s3://b/billing");
        assert_eq!(
            p.sources[&SourceName::Customers].encoding,
            Encoding::Gb18030
        );
        assert_eq!(p.sources[&SourceName::Costs].path, "in/costs");
    }

    #[test]
    fn the_spill_budget_defaults_to_four_times_the_input_and_at_least_a_gibibyte() {
        assert_eq!(default_max_spill(10 << 30), 40 << 30);
        assert_eq!(default_max_spill(1_000), 1 << 30);
        let p = load("max_spill: 2GiB\n", &[]).unwrap();
        assert_eq!(p.max_spill, Some(2 << 30));
    }

    #[test]
    fn each_parameter_given_names_where_it_came_from() {
        let overrides = Overrides {
            as_of: Some(NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
            sets: vec!["report.materiality=0.2".into(), "mvc_share=0.07".into()],
            ..Overrides::default()
        };
        let text =
            "output: out\ninput: in\nmvc_share: 0.06\nacquisition_cost: 600\nas_of: 2026-01-31\n";
        let p = Pipeline::from_text("p.yaml", text, &overrides).unwrap();
        assert_eq!(p.origins["mvc_share"], Origin::Set);
        assert_eq!(p.origins["report"], Origin::Set);
        assert_eq!(p.origins["acquisition_cost"], Origin::PipelineFile);
        assert_eq!(p.origins["as_of"], Origin::Flag);
        assert!(!p.origins.contains_key("mgc_share"), "a default");
        assert!(
            !p.origins.contains_key("output"),
            "a setting, not a parameter"
        );
        assert_eq!(p.params.report.materiality.0.to_string(), "0.2");
    }

    #[test]
    fn the_last_set_of_a_name_wins_and_flags_win_over_sets() {
        let overrides = Overrides {
            output: Some("flag-out".into()),
            sets: vec![
                "mvc_share=0.07".into(),
                "mvc_share=0.08".into(),
                "output=set-out".into(),
            ],
            ..Overrides::default()
        };
        let p = Pipeline::from_text("p.yaml", "output: out\ninput: in\n", &overrides).unwrap();
        assert_eq!(p.params.mvc_share.0.to_string(), "0.08");
        assert_eq!(p.output, "flag-out");
    }
}
