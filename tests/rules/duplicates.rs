//! duplicate_key (docs/inputs.md#order-of-checks), decided among the rows that
//! passed the row checks; the row from the latest (dt, path, line) is kept.

use super::common::*;

fn line(id: &str, amount: &str) -> String {
    format!("{id},1,C1,2026-01-15,voice,{amount},CNY\n")
}

#[tokio::test]
async fn the_row_from_the_latest_partition_is_kept() {
    let f = Fixture::with_customers();
    f.write(
        "billing/dt=2026-02-01/z.csv",
        format!("{BILLING_HEADER}{}", line("I1", "1.00")),
    );
    f.write(
        "billing/dt=2026-02-02/a.csv",
        format!("{BILLING_HEADER}{}", line("I1", "2.00")),
    );
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT amount FROM billing").await,
        vec![strings(&["2.00"])]
    );
    f.run_ok().await;
    let rejected = f.rejected("billing").await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        (rejected[0].file.as_str(), rejected[0].reason.as_str()),
        ("dt=2026-02-01/z.csv", "duplicate_key")
    );
    assert!(
        rejected[0].detail.contains("dt=2026-02-02/a.csv line 2"),
        "{}",
        rejected[0].detail
    );
}

#[tokio::test]
async fn within_a_partition_the_later_path_then_the_later_line_wins() {
    let f = Fixture::with_customers();
    f.write(
        "billing/a.csv",
        format!(
            "{BILLING_HEADER}{}{}",
            line("I1", "1.00"),
            line("I1", "2.00")
        ),
    );
    f.write(
        "billing/b.csv",
        format!(
            "{BILLING_HEADER}{}{}",
            line("I2", "3.00"),
            line("I1", "4.00")
        ),
    );
    let a = f.accepted().await;
    let rows = query(
        &a,
        "SELECT invoice_id, amount FROM billing ORDER BY invoice_id",
    )
    .await;
    assert_eq!(
        rows,
        vec![strings(&["I1", "4.00"]), strings(&["I2", "3.00"])]
    );
}

#[tokio::test]
async fn line_numbers_compare_as_integers_so_01_and_1_are_one_key() {
    let f = Fixture::with_customers();
    f.write(
        "billing/a.csv",
        format!("{BILLING_HEADER}I1,01,C1,2026-01-15,voice,1.00,CNY\nI1,1,C1,2026-01-15,voice,2.00,CNY\n"),
    );
    f.run_ok().await;
    assert_eq!(
        f.reasons("billing").await,
        vec![("duplicate_key".into(), 2)]
    );
}

#[tokio::test]
async fn a_row_rejected_by_a_row_check_does_not_take_part_in_duplicates() {
    let f = Fixture::with_customers();
    f.write(
        "billing/a.csv",
        format!(
            "{BILLING_HEADER}I1,1,C1,2026-01-15,voice,1.00,CNY\nI1,1,C1,2026-01-15,voice,bad,CNY\n"
        ),
    );
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT amount FROM billing").await,
        vec![strings(&["1.00"])]
    );
}

#[tokio::test]
async fn customers_duplicates_keep_the_latest_row() {
    let f = Fixture::new();
    f.write(
        "customers/c.csv",
        format!("{CUSTOMERS_HEADER}C1,n,p,old,s,2025-01-01,,,,\nC1,n,p,new,s,2025-01-01,,,,\n"),
    );
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT region FROM customers").await,
        vec![strings(&["new"])]
    );
}

/// Paths compare by their UTF-8 bytes: `B` before `a` (not by case), `10`
/// before `9` (not naturally), `z` before `é` (not by locale), `Ａ` (U+FF21)
/// before `😀` (U+1F600, whose UTF-16 form would sort first).
#[tokio::test]
async fn paths_compare_by_their_utf8_bytes() {
    let f = Fixture::with_customers();
    for (file, id, amount) in [
        ("B.csv", "I1", "1.00"),
        ("a.csv", "I1", "2.00"),
        ("10.csv", "I2", "3.00"),
        ("9.csv", "I2", "4.00"),
        ("z.csv", "I3", "5.00"),
        ("é.csv", "I3", "6.00"),
        ("Ａ.csv", "I4", "7.00"),
        ("😀.csv", "I4", "8.00"),
    ] {
        f.write(
            &format!("billing/{file}"),
            format!("{BILLING_HEADER}{}", line(id, amount)),
        );
    }
    let a = f.accepted().await;
    let rows = query(
        &a,
        "SELECT invoice_id, amount FROM billing ORDER BY invoice_id",
    )
    .await;
    assert_eq!(
        rows,
        vec![
            strings(&["I1", "2.00"]),
            strings(&["I2", "4.00"]),
            strings(&["I3", "6.00"]),
            strings(&["I4", "8.00"])
        ]
    );
}

/// Lines compare as integers: line 10 is later than line 9 (as text, "9" > "10").
#[tokio::test]
async fn line_10_is_later_than_line_9() {
    let f = Fixture::with_customers();
    // Header on line 1, F1-F7 on lines 2-8, I1 on lines 9 and 10.
    let filler: String = (1..=7).map(|i| line(&format!("F{i}"), "0.00")).collect();
    f.write(
        "billing/a.csv",
        format!(
            "{BILLING_HEADER}{filler}{}{}",
            line("I1", "1.00"),
            line("I1", "2.00")
        ),
    );
    let a = f.accepted().await;
    assert_eq!(
        query(&a, "SELECT amount FROM billing WHERE invoice_id = 'I1'").await,
        vec![strings(&["2.00"])]
    );
    f.run_ok().await;
    let rejected = f.rejected("billing").await;
    assert_eq!(
        rejected
            .iter()
            .map(|r| (r.reason.as_str(), r.line, r.detail.as_str()))
            .collect::<Vec<_>>(),
        [(
            "duplicate_key",
            9,
            "invoice_id 'I1' line_no 1 is kept from a.csv line 10"
        )]
    );
}
