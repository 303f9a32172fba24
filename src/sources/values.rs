//! The value rules (docs/inputs.md#value-rules): what a date, an amount, a line
//! number and a double look like in text. Nothing is trimmed, rounded or
//! guessed.

/// The most significant digits an amount may have before its point.
const MAX_INTEGER_DIGITS: usize = 16;

/// An amount in cents: optional sign, digits, optional `.` and at most two
/// decimals, at least one digit, at most 16 significant integer digits.
pub fn parse_cents(text: &str) -> Option<i64> {
    let (negative, body) = split_sign(text);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    let digits_ok =
        int.bytes().all(|c| c.is_ascii_digit()) && frac.bytes().all(|c| c.is_ascii_digit());
    if !digits_ok || frac.len() > 2 || int.len() + frac.len() == 0 {
        return None;
    }
    let significant = int.trim_start_matches('0');
    if significant.len() > MAX_INTEGER_DIGITS {
        return None;
    }
    let whole: i64 = if significant.is_empty() {
        0
    } else {
        significant.parse().ok()?
    };
    let mut cents_part: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    if frac.len() == 1 {
        cents_part *= 10;
    }
    let cents = whole * 100 + cents_part;
    Some(if negative { -cents } else { cents })
}

/// A line number: optional sign and digits, as a 64-bit integer.
pub fn parse_int(text: &str) -> Option<i64> {
    let (negative, body) = split_sign(text);
    if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = body.trim_start_matches('0');
    if digits.is_empty() {
        return Some(0);
    }
    // Parse with the sign so that i64::MIN is representable.
    let signed = if negative {
        format!("-{digits}")
    } else {
        digits.to_owned()
    };
    signed.parse().ok()
}

/// A finite double in decimal or exponent notation with ASCII digits.
pub fn parse_double(text: &str) -> Option<f64> {
    let (_, body) = split_sign(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mantissa_ok = int.len() + frac.len() > 0
        && int.bytes().all(|c| c.is_ascii_digit())
        && frac.bytes().all(|c| c.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let (_, digits) = split_sign(e);
        !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
    });
    if !mantissa_ok || !exponent_ok {
        return None;
    }
    // `-0` and `0` are one value: a tie in every ranking (+ 0.0 drops the sign).
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(|v| v + 0.0)
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// Null, empty or only whitespace: a required field is missing, an optional one is null.
pub fn is_blank(text: Option<&str>) -> bool {
    text.is_none_or(|t| t.chars().all(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_at_most_two_decimals_and_sixteen_integer_digits() {
        let ok = [
            ("10", 1000),
            ("10.", 1000),
            ("10.5", 1050),
            ("-3.20", -320),
            (".5", 50),
            ("+5.00", 500),
            ("0000000000000000000001.00", 100),
        ];
        for (text, cents) in ok {
            assert_eq!(parse_cents(text), Some(cents), "{text}");
        }
        assert_eq!(
            parse_cents("9999999999999999.99"),
            Some(999_999_999_999_999_999)
        );
        for bad in [
            "10.005",
            "1,234.00",
            "1e3",
            "¥5",
            " 5",
            "5 ",
            "",
            ".",
            "-",
            "+.",
            "12345678901234567",
            "--5",
            "5-",
            "0x10",
        ] {
            assert_eq!(parse_cents(bad), None, "{bad}");
        }
    }

    #[test]
    fn line_numbers_are_64_bit_integers() {
        assert_eq!(parse_int("01"), Some(1));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), None);
        for bad in ["1.0", "", " 1", "1e2", "+"] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }

    #[test]
    fn doubles_are_finite_with_ascii_digits() {
        assert_eq!(parse_double("6.5"), Some(6.5));
        assert_eq!(parse_double("1e3"), Some(1000.0));
        assert!(parse_double("-0").unwrap().is_sign_positive());
        assert_eq!(parse_double("-.5E-1"), Some(-0.05));
        for bad in [
            "NaN", "Infinity", "inf", "1_000", "1e999", "", " 1", "1e", "e5", "١",
        ] {
            assert_eq!(parse_double(bad), None, "{bad}");
        }
    }
}
