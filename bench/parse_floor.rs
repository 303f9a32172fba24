//! The parse floor of the benchmark: DataFusion's own CSV reader turning the
//! billing CSVs into Arrow, every column as text, and nothing else. Counting
//! each column makes the reader materialise all of them.
//!
//!     cargo build --release --example parse_floor
//!     target/release/examples/parse_floor DATA_DIR

use std::time::Instant;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{CsvReadOptions, SessionContext};

const COLUMNS: [&str; 7] = [
    "invoice_id",
    "line_no",
    "customer_id",
    "invoice_date",
    "service",
    "amount",
    "currency",
];

#[tokio::main]
async fn main() -> datafusion::error::Result<()> {
    let data = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "bench/data".into());
    let schema = Schema::new(
        COLUMNS
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    );
    let started = Instant::now();
    let ctx = SessionContext::new();
    let options = CsvReadOptions::new().schema(&schema).file_extension(".csv");
    ctx.register_csv("billing", &format!("{data}/billing/"), options)
        .await?;
    let counts: Vec<String> = COLUMNS.iter().map(|c| format!("COUNT({c})")).collect();
    let sql = format!("SELECT COUNT(*), {} FROM billing", counts.join(", "));
    let batches = ctx.sql(&sql).await?.collect().await?;
    let rows = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?;
    println!("{rows}");
    println!(
        "DataFusion parsed the billing CSVs in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
