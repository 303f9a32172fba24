//! The words every stage shares: the input sources, the pyramid tiers and
//! the factors of the value score. They sit below the flow so that config,
//! sources, transforms and sinks name them the same way without importing
//! from one another.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The name of an input source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceName {
    Billing,
    Customers,
    Costs,
}

impl SourceName {
    /// In the order they are read: customers first, because the others are
    /// checked against it.
    pub const ALL: [SourceName; 3] = [
        SourceName::Customers,
        SourceName::Billing,
        SourceName::Costs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SourceName::Billing => "billing",
            SourceName::Customers => "customers",
            SourceName::Costs => "costs",
        }
    }
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A factor of the value score (docs/metrics.md#value-score).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Profit,
    Revenue,
    ReceivablesTurnover,
    CooperationScore,
}

impl Factor {
    pub fn name(self) -> &'static str {
        match self {
            Factor::Profit => "profit",
            Factor::Revenue => "revenue",
            Factor::ReceivablesTurnover => "receivables_turnover",
            Factor::CooperationScore => "cooperation_score",
        }
    }
}

/// A pyramid tier (docs/metrics.md#value-pyramid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Tier {
    #[serde(rename = "MVC")]
    Mvc,
    #[serde(rename = "MGC")]
    Mgc,
    #[serde(rename = "LVC")]
    Lvc,
    #[serde(rename = "BZ")]
    Bz,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Mvc, Tier::Mgc, Tier::Lvc, Tier::Bz];

    pub fn name(self) -> &'static str {
        match self {
            Tier::Mvc => "MVC",
            Tier::Mgc => "MGC",
            Tier::Lvc => "LVC",
            Tier::Bz => "BZ",
        }
    }
}
