//! The pipeline file: read, `${ENV}`-expanded, overridden by `--set`, and
//! resolved into [`Pipeline`], the validated settings of one run.
//!
//! Every error names where the bad value came from: `FILE:LINE:COL` for the
//! YAML, or the `--set` argument.

mod values;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use values::{
    Bounded, ByteSize, Date, Dec, Encoding, Growth, Money, MonthCount, Months, PositiveMonths,
    Ratio, RecordBytes, ScoreWeights, Share, TierAction, TierPolicy,
};

use crate::domain::SourceName;
use crate::error::{Error, Result};

/// One source's settings in the pipeline file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    pub path: Option<String>,
    pub encoding: Option<Encoding>,
}

/// The pipeline file as written: every key optional, unknown keys refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    pub name: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub temp_dir: Option<String>,
    /// Memory for the query engine; past it, sorts and joins spill to temp_dir.
    pub memory_limit: Option<ByteSize>,
    #[serde(default)]
    pub storage_options: BTreeMap<String, String>,
    /// Retries of a failing store request before the run gives up (exit 5).
    pub storage_max_retries: Option<u32>,
    #[serde(default)]
    pub sources: BTreeMap<SourceName, SourceFile>,
    pub as_of: Option<Date>,
    pub currency: Option<String>,
    pub window_months: Option<PositiveMonths>,
    pub trend_months: Option<PositiveMonths>,
    pub new_customer_months: Option<Months>,
    pub dormant_months: Option<Months>,
    pub growth_threshold: Option<Growth>,
    pub decline_threshold: Option<Ratio>,
    pub alert_drop: Option<Ratio>,
    pub mvc_share: Option<Share>,
    pub mgc_share: Option<Share>,
    pub a_share: Option<Share>,
    pub b_share: Option<Share>,
    pub b_rising_share: Option<Share>,
    pub score_weights: Option<ScoreWeights>,
    pub acquisition_cost: Option<Money>,
    pub churn_reduction_scenarios: Option<Vec<Ratio>>,
    pub monthly_discount_rate: Option<Ratio>,
    pub tier_policy: Option<TierPolicy>,
    pub max_reject_ratio: Option<Ratio>,
    pub max_volume_drop: Option<Ratio>,
    pub max_record_bytes: Option<RecordBytes>,
    pub require_partition_for_as_of: Option<Vec<SourceName>>,
}

/// Overrides a run gets from the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub as_of: Option<NaiveDate>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub temp_dir: Option<String>,
    pub memory_limit: Option<u64>,
    /// `NAME=VALUE` pairs, the value read as YAML.
    pub sets: Vec<String>,
}

/// A resolved source: where it lives and how its text is encoded.
#[derive(Debug, Clone, Serialize)]
pub struct SourceSettings {
    pub path: String,
    pub encoding: Encoding,
}

/// The parameters of SPEC §3, with defaults applied.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub as_of: Date,
    pub currency: String,
    pub window_months: u32,
    pub trend_months: u32,
    pub new_customer_months: u32,
    pub dormant_months: u32,
    pub growth_threshold: Dec,
    pub decline_threshold: Dec,
    pub alert_drop: Dec,
    pub mvc_share: Share,
    pub mgc_share: Share,
    pub a_share: Share,
    pub b_share: Share,
    pub b_rising_share: Share,
    pub score_weights: ScoreWeights,
    pub acquisition_cost: Dec,
    pub churn_reduction_scenarios: Vec<Dec>,
    pub monthly_discount_rate: Dec,
    pub tier_policy: TierPolicy,
    pub max_reject_ratio: Dec,
    /// 1 disables the volume check.
    pub max_volume_drop: Dec,
    pub max_record_bytes: u64,
    pub require_partition_for_as_of: Vec<SourceName>,
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
    /// Keys only: values may be credentials.
    #[serde(serialize_with = "keys_only")]
    pub storage_options: BTreeMap<String, String>,
    pub storage_max_retries: Option<u32>,
    pub sources: BTreeMap<SourceName, SourceSettings>,
    pub params: Params,
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

    /// Like [`Pipeline::load`], from text already in memory; `label` names it in errors.
    pub fn from_text(label: &str, text: &str, overrides: &Overrides) -> Result<Pipeline> {
        let expanded = expand_env(label, text)?;
        let mut file: PipelineFile = if expanded.trim().is_empty() {
            PipelineFile::default()
        } else {
            serde_yaml::from_str(&expanded).map_err(|e| yaml_error(label, &e))?
        };
        for set in &overrides.sets {
            apply_set(&mut file, set)?;
        }
        resolve(file, overrides)
    }
}

/// `FILE:LINE:COL: message`, the way compilers point at a line.
fn yaml_error(label: &str, e: &serde_yaml::Error) -> Error {
    let message = e.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_owned();
    match e.location() {
        Some(loc) => Error::config(format!(
            "{label}:{}:{}: {message}",
            loc.line(),
            loc.column()
        )),
        None => Error::config(format!("{label}: {message}")),
    }
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

fn parse_set<T: DeserializeOwned>(set: &str, value: &str) -> Result<T> {
    serde_yaml::from_str(value).map_err(|e| {
        let message = e.to_string();
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        Error::config(format!("--set {set}: {message}"))
    })
}

/// Applies one `--set NAME=VALUE`, NAME being a SPEC §3 parameter or
/// `sources.NAME.path` / `sources.NAME.encoding`.
fn apply_set(file: &mut PipelineFile, set: &str) -> Result<()> {
    let Some((key, value)) = set.split_once('=') else {
        return Err(Error::config(format!("--set {set}: expected NAME=VALUE")));
    };
    let key = key.trim();
    macro_rules! fields {
        ($($name:ident),*) => {
            match key {
                $(stringify!($name) => file.$name = Some(parse_set(set, value)?),)*
                _ => return apply_source_set(file, set, key, value),
            }
        };
    }
    fields!(
        name,
        input,
        output,
        memory_limit,
        storage_max_retries,
        as_of,
        currency,
        window_months,
        trend_months,
        new_customer_months,
        dormant_months,
        growth_threshold,
        decline_threshold,
        alert_drop,
        mvc_share,
        mgc_share,
        a_share,
        b_share,
        b_rising_share,
        score_weights,
        acquisition_cost,
        churn_reduction_scenarios,
        monthly_discount_rate,
        tier_policy,
        max_reject_ratio,
        max_volume_drop,
        max_record_bytes,
        require_partition_for_as_of
    );
    Ok(())
}

fn apply_source_set(file: &mut PipelineFile, set: &str, key: &str, value: &str) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let ["sources", source, field] = parts.as_slice() else {
        return Err(Error::config(format!(
            "--set {set}: unknown parameter '{key}'"
        )));
    };
    let source: SourceName = parse_set(set, source)?;
    let entry = file.sources.entry(source).or_default();
    match *field {
        "path" => entry.path = Some(parse_set(set, value)?),
        "encoding" => entry.encoding = Some(parse_set(set, value)?),
        _ => {
            return Err(Error::config(format!(
                "--set {set}: unknown source setting '{field}' (expected path or encoding)"
            )));
        }
    }
    Ok(())
}

fn resolve(file: PipelineFile, overrides: &Overrides) -> Result<Pipeline> {
    let input = overrides.input.clone().or(file.input.clone());
    let sources = resolve_sources(&file, input.as_deref())?;
    let output = overrides
        .output
        .clone()
        .or(file.output.clone())
        .ok_or_else(|| Error::config("no output location: set `output:` or pass --output"))?;
    let params = resolve_params(&file, overrides);
    Ok(Pipeline {
        name: file.name.unwrap_or_else(|| "cvm-etl".to_owned()),
        output,
        temp_dir: overrides.temp_dir.clone().or(file.temp_dir),
        memory_limit: overrides.memory_limit.or(file.memory_limit.map(|m| m.0)),
        storage_options: file.storage_options,
        storage_max_retries: file.storage_max_retries,
        sources,
        params,
    })
}

fn resolve_sources(
    file: &PipelineFile,
    input: Option<&str>,
) -> Result<BTreeMap<SourceName, SourceSettings>> {
    let mut sources = BTreeMap::new();
    for source in SourceName::ALL {
        let given = file.sources.get(&source).cloned().unwrap_or_default();
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

fn dec(mantissa: i64, scale: u32) -> Dec {
    Dec(Decimal::new(mantissa, scale))
}

fn share(mantissa: i64, scale: u32) -> Share {
    Share(dec(mantissa, scale))
}

fn resolve_params(file: &PipelineFile, overrides: &Overrides) -> Params {
    let yesterday = Utc::now().date_naive() - Duration::days(1);
    let f = file.clone();
    Params {
        as_of: overrides
            .as_of
            .map(Date)
            .or(f.as_of)
            .unwrap_or(Date(yesterday)),
        currency: f.currency.unwrap_or_else(|| "CNY".to_owned()),
        window_months: f.window_months.map_or(12, |m| m.0),
        trend_months: f.trend_months.map_or(3, |m| m.0),
        new_customer_months: f.new_customer_months.map_or(3, |m| m.0),
        dormant_months: f.dormant_months.map_or(2, |m| m.0),
        growth_threshold: f.growth_threshold.map_or(dec(10, 2), |b| b.0),
        decline_threshold: f.decline_threshold.map_or(dec(20, 2), |b| b.0),
        alert_drop: f.alert_drop.map_or(dec(30, 2), |b| b.0),
        mvc_share: f.mvc_share.unwrap_or(share(5, 2)),
        mgc_share: f.mgc_share.unwrap_or(share(15, 2)),
        a_share: f.a_share.unwrap_or(share(20, 2)),
        b_share: f.b_share.unwrap_or(share(30, 2)),
        b_rising_share: f.b_rising_share.unwrap_or(share(20, 2)),
        score_weights: f
            .score_weights
            .unwrap_or_else(ScoreWeights::default_weights),
        acquisition_cost: f.acquisition_cost.map_or(dec(55900, 2), |m| m.0),
        churn_reduction_scenarios: f.churn_reduction_scenarios.map_or_else(
            || vec![dec(5, 3), dec(1, 2), dec(2, 2)],
            |s| s.into_iter().map(|r| r.0).collect(),
        ),
        monthly_discount_rate: f.monthly_discount_rate.map_or(dec(1, 2), |r| r.0),
        tier_policy: f.tier_policy.unwrap_or_else(TierPolicy::default_policy),
        max_reject_ratio: f.max_reject_ratio.map_or(dec(1, 2), |r| r.0),
        max_volume_drop: f.max_volume_drop.map_or(dec(5, 1), |r| r.0),
        max_record_bytes: f.max_record_bytes.unwrap_or(RecordBytes::DEFAULT).0,
        require_partition_for_as_of: f.require_partition_for_as_of.unwrap_or_default(),
    }
}
