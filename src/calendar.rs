//! The calendar of one run (SPEC §4.1): the last closed month and the window.

use chrono::{Datelike, Months, NaiveDate};

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

#[cfg(test)]
mod tests {
    use super::*;

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
