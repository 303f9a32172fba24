//! Exact arithmetic for the SQL of `sql/model/`:
//!
//! - `div_cents(a, b)`: a / b rounded once, half away from zero, to cents;
//! - `div_double(a, b)`: a / b as the nearest DOUBLE (rates, scores, ARPU);
//! - `annual_churn(churned, opened)`: 1 − (1 − churned/opened)^12 as the
//!   nearest DOUBLE;
//! - `ratio_sum_cents(factor, count, n1, d1, n2, d2, …)`:
//!   factor × (n1/d1 + n2/d2 + …) / count, rounded once to cents (a mean of
//!   clv over tiers whose denominators differ).
//!
//! DataFusion divides decimals at a scale of its own choosing, truncating, and
//! its DOUBLE arithmetic is binary; the metrics are exact values rounded once
//! (docs/metrics.md#conventions). Operands are exact decimals (integers are
//! widened to DECIMAL); the quotients are computed in 256-bit or
//! arbitrary-precision integers. A zero or null divisor gives null: every
//! ratio in docs/metrics.md is null when its denominator is 0.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, i256};
use num_traits::ToPrimitive;

use super::rational::Ratio;
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Which function, and so what it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Quotient {
    /// `div_cents`: DECIMAL(38, 2), rounded half away from zero.
    Cents,
    /// `div_double`: the nearest DOUBLE.
    Double,
    /// `annual_churn`: the nearest DOUBLE.
    AnnualChurn,
    /// `ratio_sum_cents`: DECIMAL(38, 2).
    RatioSumCents,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExactDiv {
    name: &'static str,
    quotient: Quotient,
    signature: Signature,
}

/// The functions, to register on a session.
pub fn functions() -> [ScalarUDF; 4] {
    [
        exact_div("div_cents", Quotient::Cents),
        exact_div("div_double", Quotient::Double),
        exact_div("annual_churn", Quotient::AnnualChurn),
        exact_div("ratio_sum_cents", Quotient::RatioSumCents),
    ]
}

fn exact_div(name: &'static str, quotient: Quotient) -> ScalarUDF {
    ScalarUDF::from(ExactDiv {
        name,
        quotient,
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

impl ScalarUDFImpl for ExactDiv {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.quotient {
            Quotient::Cents | Quotient::RatioSumCents => DataType::Decimal128(38, 2),
            Quotient::Double | Quotient::AnnualChurn => DataType::Float64,
        })
    }

    /// Integers and decimals keep their exact value; anything else is refused.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let arity_ok = match self.quotient {
            Quotient::RatioSumCents => arg_types.len() >= 4 && arg_types.len().is_multiple_of(2),
            _ => arg_types.len() == 2,
        };
        if !arity_ok {
            return plan_err!(
                "{}: wrong number of arguments ({})",
                self.name,
                arg_types.len()
            );
        }
        arg_types.iter().map(|t| exact_type(self.name, t)).collect()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let columns = arrays.iter().map(decimals).collect::<Result<Vec<_>>>()?;
        let rows = arrays.first().map_or(0, |a| a.len());
        let row = |i: usize| columns.iter().map(|c| c.get(i)).collect::<Vec<_>>();
        let result: ArrayRef = match self.quotient {
            Quotient::Cents => {
                let values = (0..rows)
                    .map(|i| match row(i)[..] {
                        [Some((a, sa)), Some((b, sb))] => divide(a, sa, b, sb, 2),
                        _ => Ok(None),
                    })
                    .collect::<Result<Vec<_>>>()?;
                Arc::new(Decimal128Array::from(values).with_precision_and_scale(38, 2)?)
            }
            Quotient::Double => {
                let values: Float64Array = (0..rows)
                    .map(|i| match row(i)[..] {
                        [Some((a, sa)), Some((b, sb))] => divide_double(a, sa, b, sb),
                        _ => None,
                    })
                    .collect();
                Arc::new(values)
            }
            Quotient::AnnualChurn => {
                let values: Float64Array = (0..rows)
                    .map(|i| match row(i)[..] {
                        [Some((c, sc)), Some((o, so))] => {
                            annual_churn(Ratio::decimal(c, sc), Ratio::decimal(o, so))
                        }
                        _ => None,
                    })
                    .collect();
                Arc::new(values)
            }
            Quotient::RatioSumCents => {
                let values = (0..rows)
                    .map(|i| ratio_sum_cents(&row(i)))
                    .collect::<Result<Vec<_>>>()?;
                Arc::new(Decimal128Array::from(values).with_precision_and_scale(38, 2)?)
            }
        };
        Ok(
            if args
                .args
                .iter()
                .all(|a| matches!(a, ColumnarValue::Scalar(_)))
            {
                ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&result, 0)?)
            } else {
                ColumnarValue::Array(result)
            },
        )
    }
}

/// A column of exact decimals: (mantissa, scale) per row, None for null.
struct Decimals<'a> {
    array: &'a Decimal128Array,
    scale: i8,
}

impl Decimals<'_> {
    fn get(&self, i: usize) -> Option<(i128, i8)> {
        (!self.array.is_null(i)).then(|| (self.array.value(i), self.scale))
    }
}

fn decimals(a: &ArrayRef) -> Result<Decimals<'_>> {
    match a.data_type() {
        DataType::Decimal128(_, s) => Ok(Decimals {
            array: a.as_primitive::<Decimal128Type>(),
            scale: *s,
        }),
        other => exec_err!("exact arithmetic got {other}"),
    }
}

/// 1 − (1 − c/o)^12 = (o^12 − (o − c)^12) / o^12; None when o is 0.
fn annual_churn(churned: Ratio, opened: Ratio) -> Option<f64> {
    let kept = opened
        .add(&Ratio {
            num: -churned.num,
            den: churned.den,
        })
        .div(&opened)?;
    let mut power = Ratio::decimal(1, 0);
    for _ in 0..12 {
        power = power.mul(&kept);
    }
    Some(
        Ratio::decimal(1, 0)
            .add(&Ratio {
                num: -power.num,
                den: power.den,
            })
            .to_f64(),
    )
}

/// factor × Σ n_i/d_i / count to cents; pairs with a null or zero part are
/// left out; None when count is 0 or no pair is left.
fn ratio_sum_cents(row: &[Option<(i128, i8)>]) -> Result<Option<i128>> {
    let (Some((f, sf)), Some((k, sk))) = (row[0], row[1]) else {
        return Ok(None);
    };
    let mut sum: Option<Ratio> = None;
    for pair in row[2..].chunks(2) {
        if let [Some((n, sn)), Some((d, sd))] = pair
            && let Some(term) = Ratio::decimal(*n, *sn).div(&Ratio::decimal(*d, *sd))
        {
            sum = Some(match sum {
                Some(s) => s.add(&term),
                None => term,
            });
        }
    }
    let Some(sum) = sum else { return Ok(None) };
    let Some(mean) = sum.div(&Ratio::decimal(k, sk)) else {
        return Ok(None);
    };
    let cents = Ratio::decimal(f, sf).mul(&mean).round(2);
    cents
        .to_i128()
        .filter(|c| c.unsigned_abs() < 10u128.pow(38))
        .map(Some)
        .ok_or_else(|| {
            DataFusionError::Execution(format!("ratio_sum_cents overflows DECIMAL(38): {cents}"))
        })
}

fn exact_type(name: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Decimal128(p, s) => Ok(DataType::Decimal128(*p, *s)),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            Ok(DataType::Decimal128(20, 0))
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            Ok(DataType::Decimal128(20, 0))
        }
        DataType::Null => Ok(DataType::Decimal128(20, 0)),
        other => plan_err!("{name} divides exact numbers (DECIMAL or integers), not {other}"),
    }
}

/// (a / 10^sa) / (b / 10^sb), rounded half away from zero to `scale` places,
/// as a mantissa; None when b is 0.
pub fn divide(a: i128, sa: i8, b: i128, sb: i8, scale: i8) -> Result<Option<i128>> {
    if b == 0 {
        return Ok(None);
    }
    // a·10^(sb + scale) / (b·10^sa): shift whichever side needs it.
    let shift = i32::from(sb) + i32::from(scale) - i32::from(sa);
    let (mut num, mut den) = (i256::from_i128(a), i256::from_i128(b));
    let ten = i256::from_i128(10);
    let pow = ten
        .checked_pow(shift.unsigned_abs())
        .ok_or_else(|| overflow(a, b))?;
    if shift >= 0 {
        num = num.checked_mul(pow).ok_or_else(|| overflow(a, b))?;
    } else {
        den = den.checked_mul(pow).ok_or_else(|| overflow(a, b))?;
    }
    let negative = (num < i256::ZERO) != (den < i256::ZERO);
    let (num, den) = (num.wrapping_abs(), den.wrapping_abs());
    let mut q = num / den;
    if (num % den) * i256::from_i128(2) >= den {
        q += i256::ONE;
    }
    let q = if negative { -q } else { q };
    q.to_i128()
        .filter(|q| q.unsigned_abs() < 10u128.pow(38))
        .map(Some)
        .ok_or_else(|| overflow(a, b))
}

/// (a / 10^sa) / (b / 10^sb) as the nearest DOUBLE; None when b is 0.
///
/// Both sides are brought to one scale as integers; up to 2^53 they are
/// exact doubles and one IEEE division rounds correctly; beyond, the
/// quotient is rounded from the exact fraction.
pub fn divide_double(a: i128, sa: i8, b: i128, sb: i8) -> Option<f64> {
    if b == 0 {
        return None;
    }
    let shift = i32::from(sb) - i32::from(sa);
    let widen = |x: i128, by: i32| (0..by).try_fold(x, |x, _| x.checked_mul(10));
    let (num, den) = if shift >= 0 {
        (widen(a, shift), Some(b))
    } else {
        (Some(a), widen(b, -shift))
    };
    const EXACT: i128 = 1 << 53;
    match (num, den) {
        (Some(n), Some(d)) if n.abs() <= EXACT && d.abs() <= EXACT => Some(n as f64 / d as f64),
        _ => Ratio::decimal(a, sa)
            .div(&Ratio::decimal(b, sb))
            .map(|r| r.to_f64()),
    }
}

fn overflow(a: i128, b: i128) -> DataFusionError {
    DataFusionError::Execution(format!("exact division overflows DECIMAL(38): {a} / {b}"))
}

#[cfg(test)]
mod tests {
    use super::divide;

    #[test]
    fn halves_round_away_from_zero() {
        // 0.05 / 2 = 0.025 → 0.03; -0.05 / 2 → -0.03
        assert_eq!(divide(5, 2, 2, 0, 2).unwrap(), Some(3));
        assert_eq!(divide(-5, 2, 2, 0, 2).unwrap(), Some(-3));
        // 1 / 3 = 0.333… → 0.33; 2 / 3 → 0.67
        assert_eq!(divide(1, 0, 3, 0, 2).unwrap(), Some(33));
        assert_eq!(divide(2, 0, 3, 0, 2).unwrap(), Some(67));
    }

    #[test]
    fn scales_of_both_sides_are_honoured() {
        // 1.10 / 0.5 = 2.2
        assert_eq!(divide(110, 2, 5, 1, 2).unwrap(), Some(220));
        // 7 / 0.001 = 7000
        assert_eq!(divide(7, 0, 1, 3, 0).unwrap(), Some(7000));
    }

    #[test]
    fn doubles_are_the_nearest_to_the_exact_quotient() {
        use super::divide_double;
        assert_eq!(divide_double(1, 0, 3, 0), Some(1.0 / 3.0));
        // 0.3 / 2.00: the integers 30 and 200, one division.
        assert_eq!(divide_double(3, 1, 200, 2), Some(0.15));
        assert_eq!(divide_double(3, 1, 0, 2), None);
    }

    #[test]
    fn a_zero_divisor_is_null() {
        assert_eq!(divide(1, 0, 0, 0, 2).unwrap(), None);
    }
}
