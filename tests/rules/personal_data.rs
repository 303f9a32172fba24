//! Personal data (docs/inputs.md#personal-data): a customers header or line
//! that cannot be read is reported by file and line, never with its text, which
//! may be a customer's name or phone.

use super::common::*;

const NAME: &str = "Zhang Wei";
const PHONE: &str = "13800138000";

#[tokio::test]
async fn customers_text_that_cannot_be_parsed_is_never_quoted() {
    // Files without a header, whose first record has broken quoting.
    for first in [
        format!("C1,\"{NAME},{PHONE}\n"),
        format!("\"C1\"x,{NAME},{PHONE}\n"),
    ] {
        let f = Fixture::new();
        f.write(
            "customers/c.csv",
            format!("{first}C2,{NAME},{PHONE},north,consumer,2025-01-01,,,,\n"),
        );
        let failure = f.run().await.unwrap_err();
        assert_eq!(failure.error.exit_code(), 2);
        let message = failure.error.to_string();
        assert!(
            message.contains("customers/c.csv") && message.contains("line 1"),
            "{message}"
        );
        assert!(
            !message.contains("Zhang") && !message.contains(PHONE),
            "{message}"
        );
    }
    // NDJSON lines that are JSON, but not objects.
    let f = Fixture::new();
    f.write(
        "customers/c.ndjson",
        format!(
            "{{\"customer_id\":\"C1\",\"signup_date\":\"2025-01-01\"}}\n\"{NAME} {PHONE}\"\n{PHONE}\n[\"{NAME}\"]\ntrue\nnull\n"
        ),
    );
    f.run_ok().await;
    let rejected = f.rejected("customers").await;
    let lines: Vec<i64> = rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 6]);
    for r in &rejected {
        assert_eq!(
            (r.reason.as_str(), r.raw.as_str()),
            ("malformed_row", "<withheld>")
        );
        assert!(
            !r.detail.contains("Zhang") && !r.detail.contains(PHONE),
            "{}",
            r.detail
        );
    }
}
