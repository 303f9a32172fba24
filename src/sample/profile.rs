//! One customer's standing traits, drawn from the customer's own seed so that
//! every file agrees on them without holding the base in memory.

use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::Span;

const REGIONS: &[&str] = &[
    "北京", "上海", "广东", "浙江", "江苏", "四川", "湖北", "山东", "福建", "河南",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "杰", "军", "勇", "婷", "雪",
];
const MANAGERS: &[&str] = &["张伟", "李娜", "王芳", "刘洋, 华东", "陈静"];

/// Random streams, one per kind of file, so that one file's draws never shift another's.
#[derive(Clone, Copy)]
pub(super) enum Stream {
    Profile = 1,
    Billing = 2,
    Costs = 3,
}

/// A customer of the sample base.
#[derive(Debug, Clone)]
pub struct Profile {
    pub index: u64,
    pub id: String,
    pub name: String,
    pub phone: String,
    pub region: &'static str,
    pub segment: &'static str,
    pub account_manager: &'static str,
    pub signup: NaiveDate,
    pub churn: Option<NaiveDate>,
    /// The monthly bill, in cents, before trend and noise.
    pub plan_cents: i64,
    /// Percent change of the bill per month of data.
    pub trend_pct: i64,
    /// Cost to serve, percent of the plan.
    pub cost_pct: i64,
    /// Day of month the invoice is cut; 0 is the last day.
    pub cycle_day: u32,
    /// Stops paying for the last months while still subscribed.
    pub goes_dormant: bool,
    pub receivables_turnover: Option<String>,
    pub cooperation_score: Option<u32>,
}

/// The base: who exists, and the seeds to draw them from.
pub(super) struct People {
    seed: u64,
    pub count: u64,
    first_day: NaiveDate,
    last_day: NaiveDate,
}

impl People {
    pub fn new(seed: u64, count: u64, span: &Span) -> People {
        People {
            seed,
            count,
            first_day: span.first_day(),
            last_day: span.last_day(),
        }
    }

    pub fn all(&self) -> impl Iterator<Item = Profile> + '_ {
        (0..self.count).map(|i| self.get(i))
    }

    /// The random stream of customer `index` in `month` (0 for its profile).
    pub fn rng(&self, stream: Stream, index: u64, month: u64) -> ChaCha8Rng {
        let key = splitmix(splitmix(splitmix(self.seed) ^ stream as u64) ^ index) ^ month;
        ChaCha8Rng::seed_from_u64(splitmix(key))
    }

    pub fn id(&self, index: u64) -> String {
        format!("C{:07}", index + 1)
    }

    pub fn get(&self, index: u64) -> Profile {
        let mut r = self.rng(Stream::Profile, index, 0);
        let business = r.random_bool(0.2);
        let signup = self.signup(&mut r);
        let churn = self.churn(&mut r, signup);
        Profile {
            index,
            id: self.id(index),
            name: format!(
                "{}{}{}",
                pick(&mut r, SURNAMES),
                pick(&mut r, GIVEN),
                pick(&mut r, GIVEN)
            ),
            phone: format!("138{:08}", r.random_range(0..100_000_000u32)),
            region: if r.random_bool(0.08) {
                ""
            } else {
                pick(&mut r, REGIONS)
            },
            segment: match (business, r.random_bool(0.03)) {
                (_, true) => "",
                (true, _) => "business",
                (false, _) => "consumer",
            },
            account_manager: if business { pick(&mut r, MANAGERS) } else { "" },
            signup,
            churn,
            plan_cents: if business {
                r.random_range(200..3000) * 100 + r.random_range(0..2) * 50
            } else {
                r.random_range(19..129) * 100 + r.random_range(0..2) * 90
            },
            trend_pct: r.random_range(-6..=6),
            cost_pct: if r.random_bool(0.08) {
                r.random_range(110..180)
            } else {
                r.random_range(0..35)
            },
            cycle_day: [1, 10, 20, 0][r.random_range(0..4)],
            goes_dormant: r.random_bool(0.04),
            receivables_turnover: business
                .then(|| format!("{}.{}", r.random_range(3..12), r.random_range(0..10))),
            cooperation_score: r.random_bool(0.7).then(|| r.random_range(0..=100)),
        }
    }

    /// Most customers joined before the data starts; some during it.
    fn signup(&self, r: &mut ChaCha8Rng) -> NaiveDate {
        let (from, to) = if r.random_bool(0.85) {
            (
                self.first_day - Duration::days(6 * 365),
                self.first_day - Duration::days(1),
            )
        } else {
            (self.first_day, self.last_day - Duration::days(3))
        };
        day_between(r, from, to)
    }

    /// About a fifth churn, mostly inside the data; a few are scheduled to
    /// churn after it ends (valid: a churn_date after the run date).
    fn churn(&self, r: &mut ChaCha8Rng, signup: NaiveDate) -> Option<NaiveDate> {
        let roll = r.random_range(0..100);
        let day = match roll {
            0..20 => day_between(r, self.first_day - Duration::days(60), self.last_day),
            20..21 => self.last_day + Duration::days(r.random_range(1..40)),
            _ => return None,
        };
        (day > signup).then_some(day)
    }
}

fn pick<T: Copy>(r: &mut ChaCha8Rng, items: &[T]) -> T {
    items[r.random_range(0..items.len())]
}

pub(super) fn day_between(r: &mut ChaCha8Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0);
    from + Duration::days(r.random_range(0..=span))
}

/// SplitMix64's finaliser: spreads neighbouring seeds far apart.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
