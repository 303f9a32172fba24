//! `cvm-etl inspect`: what an output location holds, read from its run
//! manifests (`_runs/as_of=D/`): per date, the live run (the one
//! `latest.json` names) with its status, counts, partitions, stage times
//! and warnings, and the other runs that did not succeed, those a crash
//! left behind first.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;
use crate::manifest::{Latest, run_dates, runs_dir};
use crate::storage::Location;

/// One date of the output.
#[derive(Debug, Serialize)]
pub struct DateView {
    pub as_of: NaiveDate,
    /// The run whose outputs are live; None when no run published.
    pub live: Option<RunView>,
    /// Runs that did not succeed, oldest first.
    pub other_runs: Vec<RunView>,
}

/// One run, as its manifest tells it.
#[derive(Debug, Serialize)]
pub struct RunView {
    pub run_id: String,
    pub status: String,
    pub exit_code: Option<u64>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub partitions: usize,
    pub rows_written: u64,
    pub sources: Value,
    pub stages: Value,
    pub warnings: Vec<String>,
    pub manifest: String,
}

impl RunView {
    fn from_manifest(relative: String, m: &Value) -> RunView {
        let text = |key: &str| m[key].as_str().map(str::to_owned);
        let outputs = m["outputs"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        RunView {
            run_id: text("run_id").unwrap_or_default(),
            status: text("status").unwrap_or_else(|| "unknown".to_owned()),
            exit_code: m["exit_code"].as_u64(),
            error: text("error"),
            started_at: text("started_at"),
            ended_at: text("ended_at"),
            partitions: outputs.len(),
            rows_written: outputs.iter().filter_map(|o| o["rows"].as_u64()).sum(),
            sources: m["sources"].clone(),
            stages: m["stages"].clone(),
            warnings: m["warnings"]
                .as_array()
                .map(|w| {
                    w.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            manifest: relative,
        }
    }
}

/// Every date of the output (or only `as_of`), newest first.
pub async fn inspect(output: &Location, as_of: Option<NaiveDate>) -> Result<Vec<DateView>> {
    let dates = run_dates(output).await?;
    let mut views = Vec::new();
    for date in dates
        .into_iter()
        .filter(|d| as_of.is_none_or(|wanted| *d == wanted))
    {
        views.push(date_view(output, date).await?);
    }
    Ok(views)
}

async fn date_view(output: &Location, as_of: NaiveDate) -> Result<DateView> {
    let live_id = Latest::read(output, as_of).await?.map(|l| l.run_id);
    let folder = output.child(&runs_dir(as_of));
    let mut names: Vec<String> = folder
        .list()
        .await?
        .iter()
        .map(|p| folder.relative(p))
        .filter(|n| n.ends_with(".json") && n != "latest.json")
        .collect();
    // Run ids begin with their start time: by name is oldest first.
    names.sort();
    let mut view = DateView {
        as_of,
        live: None,
        other_runs: Vec::new(),
    };
    for name in names {
        let relative = format!("{}/{name}", runs_dir(as_of));
        let Some(bytes) = output.read(&relative).await? else {
            continue;
        };
        let Ok(manifest) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let run = RunView::from_manifest(relative, &manifest);
        if Some(&run.run_id) == live_id.as_ref() {
            view.live = Some(run);
        } else if !matches!(run.status.as_str(), "succeeded" | "rolled_forward") {
            view.other_runs.push(run);
        }
    }
    Ok(view)
}

/// The dates as a person reads them.
pub fn render(views: &[DateView]) -> String {
    let mut text = String::new();
    if views.is_empty() {
        text.push_str("no runs under this output\n");
    }
    for view in views {
        match &view.live {
            Some(run) => {
                text.push_str(&format!("{}  live: {}\n", view.as_of, headline(run)));
                text.push_str(&details(run));
            }
            None => text.push_str(&format!("{}  nothing published\n", view.as_of)),
        }
        for run in &view.other_runs {
            text.push_str(&format!("    also: {}\n", headline(run)));
            if let Some(what) = what_next(&run.status) {
                text.push_str(&format!("          {what}\n"));
            }
        }
    }
    text
}

fn headline(run: &RunView) -> String {
    let mut line = format!(
        "run {} {} (exit {}), {} partitions, {} rows",
        run.run_id,
        run.status,
        run.exit_code
            .map_or_else(|| "-".to_owned(), |c| c.to_string()),
        run.partitions,
        run.rows_written
    );
    if let Some(ended) = &run.ended_at {
        line.push_str(&format!(", ended {ended}"));
    }
    if let Some(error) = &run.error {
        line.push_str(&format!(": {error}"));
    }
    line
}

fn details(run: &RunView) -> String {
    let mut text = String::new();
    if let Some(sources) = run.sources.as_object() {
        let counts: Vec<String> = sources
            .iter()
            .map(|(name, c)| {
                format!(
                    "{name} {} read, {} accepted, {} rejected",
                    c["rows_read"], c["rows_accepted"], c["rows_rejected"]
                )
            })
            .collect();
        text.push_str(&format!("    sources: {}\n", counts.join("; ")));
    }
    if let Some(stages) = run.stages.as_array() {
        let times: Vec<String> = stages
            .iter()
            .map(|s| {
                let seconds = s["seconds"].as_f64().unwrap_or(0.0);
                format!("{} {seconds:.1}s", s["stage"].as_str().unwrap_or("?"))
            })
            .collect();
        text.push_str(&format!("    stages: {}\n", times.join(", ")));
    }
    for warning in &run.warnings {
        text.push_str(&format!("    warning: {warning}\n"));
    }
    text.push_str(&format!("    manifest: {}\n", run.manifest));
    text
}

/// What a run's status asks of the person reading.
fn what_next(status: &str) -> Option<&'static str> {
    match status {
        "running" => {
            Some("still running, or crashed: the next run of any date finishes or undoes it")
        }
        "committed" => {
            Some("committed but not all published: the next run of any date finishes it")
        }
        "interrupted" => Some("interrupted before its commit: its staging was undone"),
        _ => None,
    }
}
