//! Exact rational arithmetic on big integers, for the few figures of
//! docs/metrics.md whose exact value does not fit DECIMAL(38): rounding a
//! quotient once, half away from zero, to a number of places, or to the nearest
//! DOUBLE.

use num_bigint::BigInt;
use num_traits::{One, Signed, ToPrimitive, Zero};

/// An exact fraction num / den, den ≠ 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    pub num: BigInt,
    pub den: BigInt,
}

impl Ratio {
    pub fn new(num: BigInt, den: BigInt) -> Option<Ratio> {
        (!den.is_zero()).then_some(Ratio { num, den })
    }

    /// A decimal mantissa at a scale: mantissa / 10^scale.
    pub fn decimal(mantissa: i128, scale: i8) -> Ratio {
        let ten = BigInt::from(10);
        if scale >= 0 {
            Ratio {
                num: mantissa.into(),
                den: ten.pow(scale as u32),
            }
        } else {
            Ratio {
                num: BigInt::from(mantissa) * ten.pow(scale.unsigned_abs() as u32),
                den: BigInt::one(),
            }
        }
    }

    pub fn add(&self, other: &Ratio) -> Ratio {
        Ratio {
            num: &self.num * &other.den + &other.num * &self.den,
            den: &self.den * &other.den,
        }
    }

    pub fn mul(&self, other: &Ratio) -> Ratio {
        Ratio {
            num: &self.num * &other.num,
            den: &self.den * &other.den,
        }
    }

    pub fn div(&self, other: &Ratio) -> Option<Ratio> {
        Ratio::new(&self.num * &other.den, &self.den * &other.num)
    }

    /// Rounded half away from zero to `places` decimals, as a mantissa.
    pub fn round(&self, places: u32) -> BigInt {
        let scaled = &self.num * BigInt::from(10).pow(places);
        let (num, den) = (scaled.abs(), self.den.abs());
        let mut q = &num / &den;
        if (&num % &den) * 2 >= den {
            q += 1;
        }
        if scaled.is_negative() != self.den.is_negative() {
            -q
        } else {
            q
        }
    }

    /// The nearest DOUBLE (ties to even), the way IEEE division rounds.
    pub fn to_f64(&self) -> f64 {
        if self.num.is_zero() {
            return 0.0;
        }
        let negative = self.num.is_negative() != self.den.is_negative();
        let (num, den) = (self.num.abs(), self.den.abs());
        // Scale so that the integer quotient has at least 55 significant bits.
        let shift = 55 + den.bits() as i64 - num.bits() as i64;
        let (n, d) = if shift >= 0 {
            (num << shift as u64, den)
        } else {
            (num, den << (-shift) as u64)
        };
        let q = &n / &d;
        let sticky = !(&n % &d).is_zero();
        let extra = q.bits() as i64 - 53;
        let mut mantissa = &q >> extra as u64;
        let dropped = &q - (&mantissa << extra as u64);
        let half = BigInt::one() << (extra - 1) as u64;
        let odd = (&mantissa % 2u32).is_one();
        if dropped > half || (dropped == half && (sticky || odd)) {
            mantissa += 1;
        }
        let value = mantissa.to_f64().unwrap_or(f64::NAN) * 2f64.powi((extra - shift) as i32);
        if negative { -value } else { value }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: i64, d: i64) -> Ratio {
        Ratio::new(n.into(), d.into()).unwrap()
    }

    #[test]
    fn doubles_are_correctly_rounded() {
        assert_eq!(r(1, 3).to_f64(), 1.0 / 3.0);
        assert_eq!(r(-2, 7).to_f64(), -2.0 / 7.0);
        assert_eq!(r(3, 200).to_f64(), 0.015);
        // 1 − 0.9^12, exactly: 0.717570463519, not the float formula's 0.7175704635189999.
        let exact = r(1, 1).add(&Ratio {
            num: -(BigInt::from(9).pow(12)),
            den: BigInt::from(10).pow(12),
        });
        assert_eq!(exact.to_f64(), 0.717570463519);
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(r(5, 1000).round(2), BigInt::from(1));
        assert_eq!(r(-5, 1000).round(2), BigInt::from(-1));
        assert_eq!(r(1, 3).round(2), BigInt::from(33));
    }
}
