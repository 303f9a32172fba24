//! Typed parameter values, each checked where it is read so that a bad value
//! is reported at its YAML line (or its `--set`).
//!
//! Numbers are read from their source text, never through an `f64` (parameters
//! are exact, docs/metrics.md#conventions): serde_yaml hands a scalar's raw
//! text to `deserialize_str`, which is what every numeric type here asks for.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::domain::{Factor, Tier};

/// Reads a scalar as its source text and parses it with `parse`. The parse
/// runs inside the visitor, while the YAML reader still points at the scalar,
/// so that an error carries the scalar's line and column.
fn from_text<'de, D, T>(
    deserializer: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct TextVisitor<T> {
        expecting: &'static str,
        parse: fn(&str) -> Result<T, String>,
    }
    impl<T> Visitor<'_> for TextVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.parse)(v.trim()).map_err(E::custom)
        }
    }
    deserializer.deserialize_str(TextVisitor { expecting, parse })
}

/// Reads a map and checks it as a whole inside the visitor, so that an error
/// carries the map's line and column.
fn checked_map<'de, D, K, V>(
    deserializer: D,
    expecting: &'static str,
    check: fn(&BTreeMap<K, V>) -> Result<(), String>,
) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de>,
{
    struct MapVisitor<K, V> {
        expecting: &'static str,
        check: fn(&BTreeMap<K, V>) -> Result<(), String>,
    }
    impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Visitor<'de> for MapVisitor<K, V> {
        type Value = BTreeMap<K, V>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut map = BTreeMap::new();
            while let Some((k, v)) = access.next_entry()? {
                map.insert(k, v);
            }
            (self.check)(&map).map_err(de::Error::custom)?;
            Ok(map)
        }
    }
    deserializer.deserialize_map(MapVisitor { expecting, check })
}

/// Decimal places a parameter may have.
pub const MAX_PLACES: u32 = 12;

/// An exact decimal parameter, kept as written (`0.10` stays `0.10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dec(pub Decimal);

impl Dec {
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed = if text.contains(['e', 'E']) {
            Decimal::from_scientific(text)
        } else {
            Decimal::from_str_exact(text)
        };
        let d = parsed.map_err(|_| format!("expected an exact decimal number, got '{text}'"))?;
        // Products of two parameters and a count must stay within DECIMAL(38).
        if d.scale() > MAX_PLACES {
            return Err(format!("at most {MAX_PLACES} decimal places, got '{text}'"));
        }
        Ok(Dec(d))
    }

    pub fn value(self) -> Decimal {
        self.0
    }

    /// The value as an Arrow Decimal128 mantissa and scale.
    pub fn mantissa_scale(self) -> (i128, u32) {
        (self.0.mantissa(), self.0.scale())
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Dec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Dec::parse(s)
    }
}

impl<'de> Deserialize<'de> for Dec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a decimal number", Dec::parse)
    }
}

impl Serialize for Dec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// A share of customers: an exact decimal in 0..1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Share(pub Dec);

impl Share {
    fn parse(text: &str) -> Result<Self, String> {
        let d = Dec::parse(text)?;
        if d.0 < Decimal::ZERO || d.0 > Decimal::ONE {
            return Err(format!("a share must be between 0 and 1, got {text}"));
        }
        Ok(Share(d))
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a share between 0 and 1", Share::parse)
    }
}

/// An exact decimal within `LO..=HI` (a parameter's bounds,
/// docs/metrics.md#parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Bounded<const LO: i64, const HI: i64>(pub Dec);

/// A rate or threshold in 0..1: decline_threshold, alert_drop,
/// max_reject_ratio, max_volume_drop, monthly_discount_rate, a scenario.
pub type Ratio = Bounded<0, 1>;
/// growth_threshold: 0..1000.
pub type Growth = Bounded<0, 1000>;

impl<const LO: i64, const HI: i64> Bounded<LO, HI> {
    fn parse(text: &str) -> Result<Self, String> {
        let d = Dec::parse(text)?;
        if d.0 < Decimal::from(LO) || d.0 > Decimal::from(HI) {
            return Err(format!("must be between {LO} and {HI}, got {text}"));
        }
        Ok(Bounded(d))
    }
}

impl<'de, const LO: i64, const HI: i64> Deserialize<'de> for Bounded<LO, HI> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a bounded decimal number", Bounded::parse)
    }
}

/// An amount of money a parameter gives (acquisition_cost): at least 0,
/// at most 16 digits before the point, like an input amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Money(pub Dec);

impl Money {
    fn parse(text: &str) -> Result<Self, String> {
        let d = Dec::parse(text)?;
        if d.0 < Decimal::ZERO || d.0.trunc() >= Decimal::from(10_000_000_000_000_000_i64) {
            return Err(format!(
                "must be at least 0 with at most 16 digits before the point, got {text}"
            ));
        }
        Ok(Money(d))
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "an amount of money", Money::parse)
    }
}

/// A whole number of months within `LO..=HI`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct MonthCount<const LO: u32, const HI: u32>(pub u32);

/// window_months and trend_months: 1..120. The calendar
/// (sql/model/10_calendar.sql) counts W's months with two digits up to 119:
/// a higher bound needs a third.
pub type PositiveMonths = MonthCount<1, 120>;
/// new_customer_months and dormant_months: 0..1200.
pub type Months = MonthCount<0, 1200>;

impl<const LO: u32, const HI: u32> MonthCount<LO, HI> {
    fn parse(text: &str) -> Result<Self, String> {
        match text.parse::<u32>() {
            Ok(n) if (LO..=HI).contains(&n) => Ok(MonthCount(n)),
            _ => Err(format!(
                "expected a whole number of months from {LO} to {HI}, got '{text}'"
            )),
        }
    }
}

impl<'de, const LO: u32, const HI: u32> Deserialize<'de> for MonthCount<LO, HI> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a whole number of months", MonthCount::parse)
    }
}

/// max_record_bytes: a size from 1 KiB to 1 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RecordBytes(pub u64);

impl RecordBytes {
    pub const DEFAULT: RecordBytes = RecordBytes(1 << 20);

    fn parse(text: &str) -> Result<Self, String> {
        let size = ByteSize::parse(text)?.0;
        if !(1 << 10..=1 << 30).contains(&size) {
            return Err(format!("must be between 1KiB and 1GiB, got '{text}'"));
        }
        Ok(RecordBytes(size))
    }
}

impl<'de> Deserialize<'de> for RecordBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a size from 1KiB to 1GiB", RecordBytes::parse)
    }
}

/// A calendar date written exactly `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

impl Date {
    pub fn parse(text: &str) -> Result<Self, String> {
        crate::calendar::parse_date(text)
            .map(Date)
            .ok_or_else(|| format!("expected a date YYYY-MM-DD, got '{text}'"))
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a date YYYY-MM-DD", Date::parse)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.format("%Y-%m-%d").to_string())
    }
}

/// The text encoding of a source's CSV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
    #[serde(rename = "gb18030", alias = "GB18030")]
    Gb18030,
    #[serde(rename = "gbk", alias = "GBK")]
    Gbk,
}

/// Score weights: not empty, known factors, summing to more than zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ScoreWeights(pub BTreeMap<Factor, Dec>);

impl ScoreWeights {
    pub fn default_weights() -> Self {
        ScoreWeights(BTreeMap::from([(Factor::Profit, Dec(Decimal::ONE))]))
    }
}

impl<'de> Deserialize<'de> for ScoreWeights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_map(
            d,
            "score weights {factor: weight}",
            |map: &BTreeMap<Factor, Dec>| {
                if map.is_empty() {
                    return Err("score_weights must name at least one factor".to_owned());
                }
                let sum = map
                    .values()
                    .try_fold(Decimal::ZERO, |sum, w| sum.checked_add(w.0))
                    .ok_or("score_weights are too large to add up")?;
                if sum <= Decimal::ZERO {
                    return Err(format!("score_weights must sum to more than 0, got {sum}"));
                }
                Ok(())
            },
        )
        .map(ScoreWeights)
    }
}

/// How one pyramid tier is treated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TierAction {
    pub points_multiplier: i64,
    pub action: String,
}

/// The policy of every tier; a missing tier is an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TierPolicy(pub BTreeMap<Tier, TierAction>);

impl TierPolicy {
    pub fn default_policy() -> Self {
        let entry = |m: i64, a: &str| TierAction {
            points_multiplier: m,
            action: a.to_owned(),
        };
        TierPolicy(BTreeMap::from([
            (Tier::Mvc, entry(3, "retain")),
            (Tier::Mgc, entry(2, "cultivate")),
            (Tier::Lvc, entry(1, "upgrade")),
            (Tier::Bz, entry(0, "phase_out")),
        ]))
    }
}

impl<'de> Deserialize<'de> for TierPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        checked_map(
            d,
            "a policy per tier",
            |map: &BTreeMap<Tier, TierAction>| {
                if let Some(missing) = Tier::ALL.iter().find(|t| !map.contains_key(t)) {
                    return Err(format!("tier_policy is missing tier {}", missing.name()));
                }
                match map
                    .iter()
                    .find(|(_, a)| !(0..=1000).contains(&a.points_multiplier))
                {
                    Some((tier, a)) => Err(format!(
                        "tier_policy.{}.points_multiplier must be between 0 and 1000, got {}",
                        tier.name(),
                        a.points_multiplier
                    )),
                    None => Ok(()),
                }
            },
        )
        .map(TierPolicy)
    }
}

/// A size in bytes, written `1073741824`, `512MiB`, `1GiB` or `1G`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ByteSize(pub u64);

impl ByteSize {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1 << 10,
            "m" | "mb" | "mib" => 1 << 20,
            "g" | "gb" | "gib" => 1 << 30,
            "t" | "tb" | "tib" => 1 << 40,
            _ => return Err(format!("expected a size like 512MiB or 1GiB, got '{text}'")),
        };
        digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .filter(|n| *n > 0)
            .map(ByteSize)
            .ok_or_else(|| format!("expected a size like 512MiB or 1GiB, got '{text}'"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "a size like 512MiB or 1GiB", ByteSize::parse)
    }
}

/// A host and port, written `HOST:PORT`: where a cluster role listens or
/// is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("expected HOST:PORT, got '{text}'");
        let (host, port) = text.trim().rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port.parse::<u16>().map_err(|_| bad())?;
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(bad());
        }
        Ok(Endpoint {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.host.contains(':') {
            true => write!(f, "[{}]:{}", self.host, self.port),
            false => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

impl FromStr for Endpoint {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Endpoint::parse(text)
    }
}

/// Where a run's queries execute: in this process (`local`, the default),
/// or on a Ballista cluster whose scheduler is at `ballista://HOST:PORT`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    #[default]
    Local,
    Ballista(Endpoint),
}

impl Engine {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "local" {
            return Ok(Engine::Local);
        }
        match text.strip_prefix("ballista://") {
            Some(rest) => Endpoint::parse(rest.trim_end_matches('/')).map(Engine::Ballista),
            None => Err(format!(
                "expected `local` or `ballista://HOST:PORT`, got '{text}'"
            )),
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Engine::Local => f.write_str("local"),
            Engine::Ballista(at) => write!(f, "ballista://{at}"),
        }
    }
}

impl FromStr for Engine {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Engine::parse(text)
    }
}

impl<'de> Deserialize<'de> for Engine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_text(d, "`local` or `ballista://HOST:PORT`", Engine::parse)
    }
}

impl Serialize for Engine {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_is_local_or_a_ballista_scheduler() {
        assert_eq!(Engine::parse("local"), Ok(Engine::Local));
        let at = Engine::parse("ballista://10.0.0.5:50050").unwrap();
        assert_eq!(
            at,
            Engine::Ballista(Endpoint {
                host: "10.0.0.5".to_owned(),
                port: 50050
            })
        );
        assert_eq!(at.to_string(), "ballista://10.0.0.5:50050");
        assert!(Engine::parse("ballista://scheduler").is_err());
        assert!(Engine::parse("spark://x:1").is_err());
        assert!(Engine::parse("ballista://x:70000").is_err());
        assert_eq!(Endpoint::parse("[::1]:9").unwrap().to_string(), "[::1]:9");
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(ByteSize::parse("1GiB").unwrap().0, 1 << 30);
        assert_eq!(ByteSize::parse("512M").unwrap().0, 512 << 20);
        assert_eq!(ByteSize::parse("1000").unwrap().0, 1000);
        assert!(ByteSize::parse("1.5G").is_err());
        assert!(ByteSize::parse("0").is_err());
    }

    #[test]
    fn decimals_keep_their_text() {
        let d: Dec = serde_yaml::from_str("0.07").unwrap();
        assert_eq!(d.to_string(), "0.07");
        let d: Dec = serde_yaml::from_str("0.10").unwrap();
        assert_eq!(d.0, Decimal::new(1, 1));
        assert!(serde_yaml::from_str::<Dec>("0.0000000000001").is_err());
        let d: Dec = serde_yaml::from_str("1e-2").unwrap();
        assert_eq!(d.0, Decimal::new(1, 2));
    }

    #[test]
    fn a_share_outside_zero_one_is_refused() {
        assert!(serde_yaml::from_str::<Share>("1.5").is_err());
        assert!(serde_yaml::from_str::<Share>("-0.1").is_err());
        assert!(serde_yaml::from_str::<Share>("1").is_ok());
    }

    #[test]
    fn score_weights_summing_to_zero_are_refused() {
        assert!(serde_yaml::from_str::<ScoreWeights>("{profit: 0}").is_err());
        assert!(serde_yaml::from_str::<ScoreWeights>("{}").is_err());
        assert!(serde_yaml::from_str::<ScoreWeights>("{margin: 1}").is_err());
        assert!(serde_yaml::from_str::<ScoreWeights>("{profit: 0, revenue: 1}").is_ok());
    }

    #[test]
    fn parameters_outside_their_bounds_are_refused() {
        assert!(serde_yaml::from_str::<PositiveMonths>("4000000").is_err());
        assert!(serde_yaml::from_str::<PositiveMonths>("120").is_ok());
        assert!(serde_yaml::from_str::<Months>("1201").is_err());
        assert!(serde_yaml::from_str::<Ratio>("1e20").is_err());
        assert!(serde_yaml::from_str::<Growth>("1000").is_ok());
        assert!(serde_yaml::from_str::<Growth>("1000.01").is_err());
        assert!(serde_yaml::from_str::<Money>("9999999999999999.99").is_ok());
        assert!(serde_yaml::from_str::<Money>("10000000000000000").is_err());
        assert!(serde_yaml::from_str::<Money>("-1").is_err());
        assert!(serde_yaml::from_str::<RecordBytes>("1023").is_err());
        assert!(serde_yaml::from_str::<RecordBytes>("1GiB").is_ok());
        assert!(serde_yaml::from_str::<RecordBytes>("2GiB").is_err());
        let policy = "{MVC: {points_multiplier: 3000, action: a}, MGC: {points_multiplier: 1, action: a}, LVC: {points_multiplier: 1, action: a}, BZ: {points_multiplier: 0, action: a}}";
        assert!(serde_yaml::from_str::<TierPolicy>(policy).is_err());
    }

    #[test]
    fn tier_policy_must_name_every_tier() {
        let text = "{MVC: {points_multiplier: 3, action: retain}}";
        assert!(serde_yaml::from_str::<TierPolicy>(text).is_err());
    }
}
