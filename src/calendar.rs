//! Dates and times as every stage names them: the calendar of one run
//! (docs/metrics.md#calendar: the last closed month and the window), a date's
//! text form (docs/inputs.md#value-rules) and its Arrow form, and the
//! timestamps of manifests and locks.

use chrono::{DateTime, Datelike, Months, NaiveDate, SecondsFormat, Utc};

/// The months a run looks at, derived from `as_of` and `window_months`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub as_of: NaiveDate,
    /// First day of M_last, the last closed month.
    pub last_month: NaiveDate,
    /// First day of the window's first month.
    pub window_start: NaiveDate,
    /// Last day of M_last.
    pub window_end: NaiveDate,
}

impl Calendar {
    pub fn new(as_of: NaiveDate, window_months: u32) -> Calendar {
        let this_month = first_of_month(as_of);
        let last_month = if as_of == last_of_month(as_of) {
            this_month
        } else {
            this_month - Months::new(1)
        };
        Calendar {
            as_of,
            last_month,
            window_start: last_month - Months::new(window_months.saturating_sub(1)),
            window_end: last_of_month(last_month),
        }
    }

    /// First days of the window's months, oldest first.
    pub fn months(&self) -> Vec<NaiveDate> {
        let mut months = Vec::new();
        let mut m = self.window_start;
        while m <= self.last_month {
            months.push(m);
            m = m + Months::new(1);
        }
        months
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        self.window_start <= day && day <= self.window_end
    }
}

pub fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a first day")
}

pub fn last_of_month(day: NaiveDate) -> NaiveDate {
    first_of_month(day) + Months::new(1) - chrono::Duration::days(1)
}

/// A date written exactly `YYYY-MM-DD` that is a real calendar day.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> u32 {
        b[r].iter().fold(0, |acc, c| acc * 10 + u32::from(c - b'0'))
    };
    // Year 0 is a real day to chrono, but not a date the range of valid dates
    // 0001-01-01..9999-12-31 holds (docs/inputs.md#value-rules).
    let year = num(0..4);
    if year == 0 {
        return None;
    }
    NaiveDate::from_ymd_opt(year as i32, num(5..7), num(8..10))
}

/// Days since 1970-01-01, Arrow's Date32.
pub fn date32(day: NaiveDate) -> i32 {
    const EPOCH_DAYS_FROM_CE: i32 = 719_163;
    day.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// A UTC time as manifests and locks write it: RFC 3339, milliseconds.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_exactly_yyyy_mm_dd_and_real() {
        assert!(parse_date("2026-01-05").is_some());
        assert!(parse_date("2028-02-29").is_some());
        assert!(parse_date("0001-01-01").is_some());
        assert!(parse_date("9999-12-31").is_some());
        for bad in [
            "2026-1-5",
            "2026/01/05",
            "2026-01-05T00:00:00",
            " 2026-01-05",
            "2026-01-05 ",
            "2026-02-30",
            "20260105",
            "２０２６-01-05",
            "0000-01-01",
        ] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn month_end_as_of_closes_its_own_month() {
        let c = Calendar::new(d("2026-10-31"), 12);
        assert_eq!(c.last_month, d("2026-10-01"));
        assert_eq!(c.window_start, d("2025-11-01"));
        assert_eq!(c.window_end, d("2026-10-31"));
        assert_eq!(c.months().len(), 12);
    }

    #[test]
    fn mid_month_as_of_closes_the_month_before() {
        let c = Calendar::new(d("2026-03-15"), 2);
        assert_eq!(c.last_month, d("2026-02-01"));
        assert_eq!(c.window_start, d("2026-01-01"));
        assert_eq!(c.window_end, d("2026-02-28"));
    }

    #[test]
    fn leap_february_end_is_a_month_end() {
        let c = Calendar::new(d("2028-02-29"), 1);
        assert_eq!(c.last_month, d("2028-02-01"));
        assert_eq!(c.window_start, d("2028-02-01"));
    }
}
