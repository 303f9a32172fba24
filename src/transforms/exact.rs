//! Exact division for the SQL: `div_cents(a, b)`, `div_fine(a, b)` and
//! `div_double(a, b)`.
//!
//! DataFusion divides decimals at a scale of its own choosing, truncating,
//! and its DOUBLE arithmetic is binary. SPEC §4 wants quotients rounded once,
//! half away from zero; these functions divide the exact decimal operands in
//! 256-bit integers and round the true quotient to 2 (`div_cents`) or 12
//! (`div_fine`, for values that are summed further) places, or to the
//! nearest DOUBLE (`div_double`, for rates, scores and ARPU).
//! A zero or null divisor gives null: every quotient of SPEC §4 is "null
//! when that is 0".

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, i256};
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// Places of `div_fine`: far below a cent even after multiplying by a base
/// of millions of subscribers.
pub const FINE_SCALE: i8 = 12;

/// What a division returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Quotient {
    /// DECIMAL(38, scale), rounded half away from zero.
    Decimal(i8),
    /// The nearest DOUBLE.
    Double,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExactDiv {
    name: &'static str,
    quotient: Quotient,
    signature: Signature,
}

/// The division functions, to register on a session.
pub fn functions() -> [ScalarUDF; 3] {
    [
        exact_div("div_cents", Quotient::Decimal(2)),
        exact_div("div_fine", Quotient::Decimal(FINE_SCALE)),
        exact_div("div_double", Quotient::Double),
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
            Quotient::Decimal(scale) => DataType::Decimal128(38, scale),
            Quotient::Double => DataType::Float64,
        })
    }

    /// Integers and decimals keep their exact value; anything else is refused.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!("{} takes a dividend and a divisor", self.name);
        }
        arg_types.iter().map(|t| exact_type(self.name, t)).collect()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (a, b) = (&arrays[0], &arrays[1]);
        let (sa, sb) = (scale_of(a)?, scale_of(b)?);
        let (a, b) = (
            a.as_primitive::<Decimal128Type>(),
            b.as_primitive::<Decimal128Type>(),
        );
        let pairs = (0..a.len())
            .map(|i| (!a.is_null(i) && !b.is_null(i)).then(|| (a.value(i), b.value(i))));
        let result: ArrayRef = match self.quotient {
            Quotient::Decimal(scale) => {
                let values = pairs
                    .map(|p| p.map_or(Ok(None), |(a, b)| divide(a, sa, b, sb, scale)))
                    .collect::<Result<Vec<_>>>()?;
                Arc::new(Decimal128Array::from(values).with_precision_and_scale(38, scale)?)
            }
            Quotient::Double => {
                let values: Float64Array = pairs
                    .map(|p| p.and_then(|(a, b)| divide_double(a, sa, b, sb)))
                    .collect();
                Arc::new(values)
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

fn scale_of(a: &ArrayRef) -> Result<i8> {
    match a.data_type() {
        DataType::Decimal128(_, s) => Ok(*s),
        other => exec_err!("exact division got {other}"),
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
/// Both sides are brought to one scale as integers; when those are below
/// 2^53 they are exact doubles and one IEEE division rounds correctly.
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
    match (num, den) {
        (Some(num), Some(den)) => Some(num as f64 / den as f64),
        // Past i128: scale the quotient instead (not correctly rounded, and
        // far beyond any amount of money).
        _ => Some((a as f64 / b as f64) * 10f64.powi(shift)),
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
