//! The CRM snapshots: GB18030 CSV, as a Chinese Excel export writes them.

use std::io::Write;

use chrono::NaiveDate;

use super::profile::{People, Profile};
use super::{SampleOptions, SampleSummary, Span, create, csv_field};
use crate::calendar::last_of_month;

const HEADER: &str = "customer_id,name,phone,region,segment,signup_date,churn_date,account_manager,receivables_turnover,cooperation_score";

/// Two snapshots: the end of the month before the last, and the last; a run
/// reads only the latest one at or before its date.
pub(super) fn write(
    options: &SampleOptions,
    people: &People,
    span: &Span,
    summary: &mut SampleSummary,
) -> std::io::Result<()> {
    let previous = last_of_month(span.months_back(1));
    if previous < span.last_day() {
        snapshot(options, people, previous, None)?;
        summary.files += 1;
    }
    let written = snapshot(options, people, span.last_day(), Some(summary))?;
    summary.customers = written;
    summary.files += 1;
    Ok(())
}

fn snapshot(
    options: &SampleOptions,
    people: &People,
    dt: NaiveDate,
    summary: Option<&mut SampleSummary>,
) -> std::io::Result<u64> {
    let path = options.out.join(format!("customers/dt={dt}/customers.csv"));
    let mut out = create(&path)?;
    let mut rows = 0;
    let line =
        |out: &mut std::io::BufWriter<std::fs::File>, text: &str| line(out, text, options.plain);
    line(&mut out, HEADER)?;
    for p in people.all().filter(|p| p.signup <= dt) {
        line(&mut out, &record(&p, dt))?;
        rows += 1;
    }
    if let (true, Some(summary)) = (options.bad_rows, summary) {
        // A row cut short by a bad export, and one churning before it signed up.
        line(
            &mut out,
            "C9000001,赵六,13800000000,北京,consumer,2024-02-30",
        )?;
        summary.bad("customers", "malformed_row");
        line(
            &mut out,
            "C9000002,钱七,13800000001,上海,consumer,2024-05-01,2024-03-01,,,",
        )?;
        summary.bad("customers", "churn_before_signup");
    }
    out.flush()?;
    Ok(rows)
}

fn record(p: &Profile, dt: NaiveDate) -> String {
    // The snapshot knows churns up to its date and the ones already scheduled.
    let churn = p.churn.filter(|c| *c <= dt + chrono::Duration::days(45));
    let fields = [
        p.id.clone(),
        p.name.clone(),
        p.phone.clone(),
        p.region.to_owned(),
        p.segment.to_owned(),
        p.signup.to_string(),
        churn.map(|c| c.to_string()).unwrap_or_default(),
        p.account_manager.to_owned(),
        p.receivables_turnover.clone().unwrap_or_default(),
        p.cooperation_score
            .map(|s| s.to_string())
            .unwrap_or_default(),
    ];
    fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
}

/// One CRLF line, GB18030 as Chinese Excel writes it (UTF-8 when plain).
fn line(out: &mut impl Write, text: &str, plain: bool) -> std::io::Result<()> {
    if plain {
        out.write_all(text.as_bytes())?;
    } else {
        out.write_all(&encoding_rs::GB18030.encode(text).0)?;
    }
    out.write_all(b"\r\n")
}
