//! Which files a run reads (docs/inputs.md#which-files-a-run-reads).

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::ObjectMeta;
use object_store::path::Path;

use crate::calendar::Calendar;
use crate::calendar::parse_date;
use crate::domain::SourceName;
use crate::error::{Error, Result};
use crate::storage::Location;

/// How a file is read, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Parquet,
    Ndjson,
}

/// One file a run reads.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: Path,
    /// Relative to the source prefix, `/`-separated.
    pub relative: String,
    pub dt: Option<NaiveDate>,
    pub format: Format,
    pub size: u64,
    pub e_tag: Option<String>,
    pub last_modified: DateTime<Utc>,
}

/// The files chosen for one source and date, and what was skipped.
#[derive(Debug, Default)]
pub struct Selection {
    pub files: Vec<InputFile>,
    pub warnings: Vec<String>,
    /// The prefix holds at least one file (hidden ones aside).
    pub exists: bool,
    /// The prefix holds at least one `dt=` folder.
    pub partitioned: bool,
    /// Valid `dt=` values present.
    pub partitions: BTreeSet<NaiveDate>,
}

/// Lists every object under the source prefix.
pub async fn list(location: &Location) -> Result<Vec<ObjectMeta>> {
    let listed: std::result::Result<Vec<ObjectMeta>, _> = location
        .store
        .list(Some(&location.prefix))
        .try_collect()
        .await;
    match listed {
        Ok(mut metas) => {
            metas.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
            Ok(metas)
        }
        Err(object_store::Error::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(Error::storage(format!("listing {location}"), e)),
    }
}

/// Applies the partition and format rules for the run date.
pub fn select(
    source: SourceName,
    location: &Location,
    metas: &[ObjectMeta],
    calendar: &Calendar,
) -> Selection {
    let visible: Vec<(&ObjectMeta, Vec<String>)> = metas
        .iter()
        .map(|m| {
            (
                m,
                location
                    .relative(&m.location)
                    .split('/')
                    .map(str::to_owned)
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, parts)| {
            !parts
                .iter()
                .any(|p| p.starts_with('.') || p.starts_with('_'))
        })
        .collect();
    let mut selection = Selection {
        exists: !visible.is_empty(),
        partitioned: visible
            .iter()
            .any(|(_, p)| p.len() > 1 && p[0].starts_with("dt=")),
        ..Selection::default()
    };
    let mut candidates = Vec::new();
    let mut bad_folders = BTreeSet::new();
    for (meta, parts) in &visible {
        let relative = parts.join("/");
        let dt = if selection.partitioned {
            match partition_of(parts) {
                Partition::Date(d) => Some(d),
                Partition::Invalid(folder) => {
                    if bad_folders.insert(folder.clone()) {
                        selection.warnings.push(format!(
                            "{source}: ignoring folder '{folder}': not a dt=YYYY-MM-DD partition"
                        ));
                    }
                    continue;
                }
                Partition::None => {
                    selection.warnings.push(format!(
                        "{source}: ignoring '{relative}': not inside a dt= partition"
                    ));
                    continue;
                }
            }
        } else {
            None
        };
        if let Some(d) = dt {
            selection.partitions.insert(d);
        }
        candidates.push((*meta, relative, dt));
    }
    let wanted = wanted_partitions(source, &selection.partitions, calendar);
    for (meta, relative, dt) in candidates {
        if dt.is_some_and(|d| !wanted.contains(&d)) {
            continue;
        }
        match format_of(&relative) {
            Some(format) => selection.files.push(InputFile {
                path: meta.location.clone(),
                relative,
                dt,
                format,
                size: meta.size,
                e_tag: meta.e_tag.clone(),
                last_modified: meta.last_modified,
            }),
            None => selection.warnings.push(format!(
                "{source}: ignoring '{relative}': not .csv, .parquet, .ndjson, .jsonl or .json"
            )),
        }
    }
    selection
}

enum Partition {
    Date(NaiveDate),
    Invalid(String),
    None,
}

fn partition_of(parts: &[String]) -> Partition {
    if parts.len() < 2 {
        return Partition::None;
    }
    match parts[0].strip_prefix("dt=") {
        Some(value) => {
            parse_date(value).map_or_else(|| Partition::Invalid(parts[0].clone()), Partition::Date)
        }
        None => Partition::Invalid(parts[0].clone()),
    }
}

/// customers: the latest dt ≤ D; billing and costs: window_start ≤ dt ≤ D.
fn wanted_partitions(
    source: SourceName,
    present: &BTreeSet<NaiveDate>,
    calendar: &Calendar,
) -> BTreeSet<NaiveDate> {
    match source {
        SourceName::Customers => present
            .range(..=calendar.as_of)
            .next_back()
            .copied()
            .into_iter()
            .collect(),
        SourceName::Billing | SourceName::Costs => present
            .range(calendar.window_start..=calendar.as_of)
            .copied()
            .collect(),
    }
}

fn format_of(relative: &str) -> Option<Format> {
    let name = relative
        .rsplit('/')
        .next()
        .unwrap_or(relative)
        .to_ascii_lowercase();
    let extension = name.rsplit_once('.').map(|(_, e)| e)?;
    match extension {
        "csv" => Some(Format::Csv),
        "parquet" => Some(Format::Parquet),
        "ndjson" | "jsonl" | "json" => Some(Format::Ndjson),
        _ => None,
    }
}
