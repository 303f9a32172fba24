//! Backfill: one run per date of a range, in order, each with its own lock
//! and manifest. Dates whose outputs are already live are skipped unless
//! forced; the first failure stops the backfill.

use chrono::NaiveDate;

use crate::config::Pipeline;
use crate::error::{Error, Result};
use crate::run::{RunFailure, run};
use crate::storage::Storage;

/// What happened to one date.
#[derive(Debug)]
pub enum DateOutcome {
    Succeeded {
        run_id: String,
    },
    Skipped {
        run_id: String,
    },
    Failed {
        error: Error,
        run_id: Option<String>,
    },
}

/// Runs `pipeline_for(D)` for D = from ..= to, stopping at the first failure.
pub async fn backfill(
    pipeline_for: impl Fn(NaiveDate) -> Result<Pipeline>,
    storage: &Storage,
    from: NaiveDate,
    to: NaiveDate,
    force: bool,
    mut on_date: impl FnMut(NaiveDate, &DateOutcome),
) -> Vec<(NaiveDate, DateOutcome)> {
    let mut done = Vec::new();
    for day in from.iter_days().take_while(|d| *d <= to) {
        let outcome = one_date(&pipeline_for, storage, day, force).await;
        on_date(day, &outcome);
        let failed = matches!(outcome, DateOutcome::Failed { .. });
        done.push((day, outcome));
        if failed {
            break;
        }
    }
    done
}

async fn one_date(
    pipeline_for: &impl Fn(NaiveDate) -> Result<Pipeline>,
    storage: &Storage,
    day: NaiveDate,
    force: bool,
) -> DateOutcome {
    let pipeline = match pipeline_for(day) {
        Ok(p) => p,
        Err(error) => {
            return DateOutcome::Failed {
                error,
                run_id: None,
            };
        }
    };
    if !force {
        match live_run(&pipeline, storage, day).await {
            Ok(Some(run_id)) => return DateOutcome::Skipped { run_id },
            Ok(None) => {}
            Err(error) => {
                return DateOutcome::Failed {
                    error,
                    run_id: None,
                };
            }
        }
    }
    match run(&pipeline, storage).await {
        Ok(report) => DateOutcome::Succeeded {
            run_id: report.run_id,
        },
        Err(RunFailure { error, report }) => DateOutcome::Failed {
            error,
            run_id: report.map(|r| r.run_id),
        },
    }
}

/// The run whose outputs are live for `day`, from `_runs/as_of=D/latest.json`.
pub async fn live_run(
    pipeline: &Pipeline,
    storage: &Storage,
    day: NaiveDate,
) -> Result<Option<String>> {
    let output = storage.location(&pipeline.output)?;
    let Some(bytes) = output
        .read(&format!("_runs/as_of={day}/latest.json"))
        .await?
    else {
        return Ok(None);
    };
    let latest: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok(latest["run_id"].as_str().map(str::to_owned))
}
