//! Numbers as finance reads them: thousands separators, money to the cent
//! in the pipeline's currency, rates as percentages.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};

/// `1234567.5` → `1,234,567.50`: exact decimal text (as the tables hold
/// money) grouped by thousands, rounded half away from zero to the cent
/// (a parameter such as acquisition_cost may have more places).
pub fn money(text: &str) -> String {
    match Decimal::from_str(text) {
        Ok(d) => {
            let cents = d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            // No "-0.00": a negative amount that rounds to nothing is nothing.
            let cents = if cents.is_zero() {
                Decimal::ZERO
            } else {
                cents
            };
            cents_text(&format!("{cents:.2}"))
        }
        // Past Decimal's 28 digits (or empty): the text as it is, cut to the cent.
        Err(_) => cents_text(text),
    }
}

fn cents_text(text: &str) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut cents: String = fraction.chars().take(2).collect();
    while cents.len() < 2 {
        cents.push('0');
    }
    format!("{sign}{}.{cents}", group(whole))
}

/// Money with its currency: `15,093,000.00 CNY`.
pub fn amount(text: &str, currency: &str) -> String {
    format!("{} {currency}", money(text))
}

/// A count: `2,700,000`.
pub fn count(n: u64) -> String {
    group(&n.to_string())
}

/// A figure that need not be whole (customers retained): grouped, with at
/// most two decimals and no trailing zeros.
pub fn quantity(v: f64) -> String {
    let text = format!("{:.2}", v.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    let sign = if v < 0.0 && text != "0.00" { "-" } else { "" };
    match fraction.is_empty() {
        true => format!("{sign}{}", group(whole)),
        false => format!("{sign}{}.{fraction}", group(whole)),
    }
}

/// A double as money (ARPU): two decimals, grouped.
pub fn money_of(v: f64) -> String {
    money(&format!("{v:.2}"))
}

/// A rate as a percentage with two decimals: `0.0123` → `1.23%`.
pub fn percent(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// A churn cut in points: `0.01` → `1 point`, `0.005` → `0.5 points`.
pub fn points(scenario: f64) -> String {
    let p = quantity(scenario * 100.0);
    match p.as_str() {
        "1" => "1 point".to_owned(),
        _ => format!("{p} points"),
    }
}

/// An axis label: 1,200 or 1.2M, short enough for the axis.
pub fn compact(v: f64) -> String {
    let a = v.abs();
    let (scaled, unit) = match a {
        a if a >= 1e9 => (v / 1e9, "B"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e4 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    match unit {
        "" => quantity((v * 100.0).round() / 100.0),
        _ => format!("{}{unit}", quantity((scaled * 10.0).round() / 10.0)),
    }
}

fn group(digits: &str) -> String {
    let digits = if digits.is_empty() { "0" } else { digits };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_thousands_separators_and_two_decimals() {
        assert_eq!(money("15093000.00"), "15,093,000.00");
        assert_eq!(money("-1234.5"), "-1,234.50");
        assert_eq!(money("0.07"), "0.07");
        assert_eq!(money("999"), "999.00");
        assert_eq!(amount("1104300.00", "CNY"), "1,104,300.00 CNY");
        assert_eq!(money(""), "0.00");
    }

    #[test]
    fn money_is_rounded_to_the_cent_half_away_from_zero_and_never_minus_zero() {
        assert_eq!(money("559.999"), "560.00");
        assert_eq!(money("0.005"), "0.01");
        assert_eq!(money("-0.005"), "-0.01");
        assert_eq!(money("-0.004"), "0.00");
        assert_eq!(money_of(-0.001), "0.00");
        assert_eq!(money("-0.50"), "-0.50");
    }

    #[test]
    fn the_retention_example_reads_as_finance_writes_it() {
        assert_eq!(count(2_700_000), "2,700,000");
        assert_eq!(quantity(27_000.0), "27,000");
        assert_eq!(quantity(13.5), "13.5");
        assert_eq!(points(0.01), "1 point");
        assert_eq!(points(0.005), "0.5 points");
        assert_eq!(points(0.02), "2 points");
    }

    #[test]
    fn rates_are_percentages() {
        assert_eq!(percent(0.0123), "1.23%");
        assert_eq!(money_of(40.9), "40.90");
        assert_eq!(compact(1_500_000.0), "1.5M");
        assert_eq!(compact(950.0), "950");
    }
}
