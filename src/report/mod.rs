//! The finance report (docs/report.md): one self-contained HTML page per
//! date, `report/as_of=D/index.html`, for a person to read and sign off.
//!
//! A run builds it from the tables it has staged and publishes it with
//! them, through the same commit (docs/publishing.md); `cvm-etl report`
//! rebuilds it from the published tables. Either way the page is a
//! function of three things only: the date's tables, the live run's
//! manifest (its parameters, counts and summary) and the summary of the
//! previous date's live run, so a rebuild gives the page the run wrote.
//!
//! No network at view time: the styles and the charts (SVG) are inline,
//! and the page's content security policy forbids every request.

mod changes;
mod charts;
mod figures;
mod format;
mod page;

use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::storage::{Location, Storage};

pub use page::Page;

/// The table the report is published as, and its one file.
pub const TABLE: &str = "report";
pub const FILE: &str = "index.html";

const TEMPLATE: &str = include_str!("report.html");

/// What a report is built from.
pub struct Sources<'a> {
    pub storage: &'a Storage,
    /// The output location: the previous date's manifest is read there.
    pub output: &'a Location,
    /// Where the date's tables are, laid out as published.
    pub tables: &'a Location,
    /// The live run's manifest, as written.
    pub manifest: &'a serde_json::Value,
    /// A change larger than this share of the old figure is highlighted.
    pub materiality: Decimal,
}

/// Builds the page.
pub async fn build(sources: &Sources<'_>) -> Result<String> {
    let page = Page::gather(sources).await?;
    render(&page)
}

/// Renders a page through the template.
pub fn render(page: &Page) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)
        .map_err(|e| Error::internal(format!("the report template: {e}")))?;
    env.get_template("report.html")
        .and_then(|t| t.render(page))
        .map_err(|e| Error::internal(format!("rendering the report: {e}")))
}

/// `report/as_of=D`: the partition of a date's report.
pub fn partition(as_of: &str) -> String {
    crate::sinks::partition::segment("as_of", as_of)
}

/// Rebuilds the report of `as_of` from the published tables and the live
/// run's manifest, and writes it in place, under the output's lock so that
/// no run publishes meanwhile. The page is replaced in one write; its
/// `_SUCCESS` still names the live run, whose outputs it shows. Returns
/// where it was written.
///
/// It leaves recovery to runs: an output whose lock is taken (a live run,
/// or one that died) or that holds an unfinished run's staging is refused,
/// so that the next run still finds, and finishes or undoes, what a dead
/// run left. Its own lock names no date, so a rebuild that dies leaves no
/// run record behind.
pub async fn rebuild(
    storage: &Storage,
    output: &Location,
    as_of: chrono::NaiveDate,
    materiality: Decimal,
    lease: std::time::Duration,
) -> Result<String> {
    refuse_unfinished(output).await?;
    let holder = format!("report-{}", uuid::Uuid::now_v7().simple());
    let (lock, _) = crate::lock::acquire(output, &holder, "", lease).await?;
    let written = write_rebuilt(storage, output, as_of, materiality, &lock).await;
    if let Err(e) = lock.release().await {
        tracing::warn!("could not release the lock (the next run takes it over): {e}");
    }
    written
}

async fn refuse_unfinished(output: &Location) -> Result<()> {
    if let Some(bytes) = output.read(crate::lock::LOCK).await? {
        let holder: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        return Err(Error::Locked(format!(
            "{output} is locked by run {} (as_of {}): rebuild the report once it is done; \
             a run that died is taken over by the next `cvm-etl run`, which finishes or undoes its work",
            text_of(&holder["run_id"]),
            text_of(&holder["as_of"])
        )));
    }
    if !output.child("_staging").list().await?.is_empty() {
        return Err(Error::Locked(format!(
            "{output}/_staging holds an unfinished run: the next `cvm-etl run` publishes or removes it; \
             rebuild the report after that"
        )));
    }
    Ok(())
}

async fn write_rebuilt(
    storage: &Storage,
    output: &Location,
    as_of: chrono::NaiveDate,
    materiality: Decimal,
    lock: &crate::lock::Lock,
) -> Result<String> {
    // Read under the lock: no run can publish between the manifest and the tables.
    let Some(manifest) = crate::manifest::live_manifest(output, as_of).await? else {
        return Err(Error::config(format!(
            "no run for {as_of} has published to {output}: nothing to report (run `cvm-etl run` for that date first)"
        )));
    };
    let date = as_of.to_string();
    let sources = Sources {
        storage,
        output,
        tables: output,
        manifest: &manifest,
        materiality,
    };
    let html = build(&sources).await?;
    let folder = format!("{TABLE}/{}", partition(&date));
    lock.ensure_held().await?;
    output
        .write(&format!("{folder}/{FILE}"), html.into_bytes())
        .await?;
    let file = crate::sinks::WrittenFile {
        path: format!("{folder}/{FILE}"),
        rows: 0,
    };
    lock.ensure_held().await?;
    let run_id = text_of(&manifest["run_id"]);
    crate::sinks::publish::write_marker(output, &folder, &run_id, &date, file).await?;
    Ok(format!("{output}/{folder}/{FILE}"))
}

fn text_of(v: &serde_json::Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}
