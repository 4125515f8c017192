//! Resource quantities (`500m`, `2`, `1.5Gi`, `1e3`) as whole milli-units, so sums and
//! comparisons are exact, as with the apiserver's `resource.Quantity`.

use serde_json::Value;

/// A quantity in thousandths of its unit, rounded up like `Quantity.MilliValue`.
pub fn milli(value: &Value) -> Option<i128> {
    match value {
        Value::String(s) => parse_milli(s),
        Value::Number(n) => parse_milli(&n.to_string()),
        _ => None,
    }
}

pub fn parse_milli(text: &str) -> Option<i128> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let (negative, number) = match number.as_bytes().first() {
        Some(b'-') => (true, &number[1..]),
        Some(b'+') => (false, &number[1..]),
        _ => (false, number),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !(whole.bytes().all(|b| b.is_ascii_digit()) && fraction.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mantissa: i128 = format!("{whole}{fraction}").parse().ok()?;
    let scale = 10i128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
    let (numerator, denominator) = match multiplier(suffix)? {
        Multiplier::Binary(factor) => (mantissa * factor * 1000, scale),
        Multiplier::Decimal(exponent) => {
            let shifted = exponent + 3;
            if shifted >= 0 {
                (
                    mantissa * 10i128.checked_pow(shifted.unsigned_abs())?,
                    scale,
                )
            } else {
                (
                    mantissa,
                    scale * 10i128.checked_pow(shifted.unsigned_abs())?,
                )
            }
        }
    };
    let value = (numerator + denominator - 1) / denominator;
    Some(if negative { -value } else { value })
}

enum Multiplier {
    Binary(i128),
    Decimal(i32),
}

fn multiplier(suffix: &str) -> Option<Multiplier> {
    let binary = |power: u32| Some(Multiplier::Binary(1i128 << power));
    match suffix {
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        "n" => Some(Multiplier::Decimal(-9)),
        "u" => Some(Multiplier::Decimal(-6)),
        "m" => Some(Multiplier::Decimal(-3)),
        "" => Some(Multiplier::Decimal(0)),
        "k" => Some(Multiplier::Decimal(3)),
        "M" => Some(Multiplier::Decimal(6)),
        "G" => Some(Multiplier::Decimal(9)),
        "T" => Some(Multiplier::Decimal(12)),
        "P" => Some(Multiplier::Decimal(15)),
        "E" => Some(Multiplier::Decimal(18)),
        exponent => {
            let digits = exponent.strip_prefix(['e', 'E'])?;
            Some(Multiplier::Decimal(digits.parse().ok()?))
        }
    }
}

/// Extended resources (`nvidia.com/gpu`) are those outside the `kubernetes.io` domain;
/// the apiserver only lets Pods ask for whole units of them.
pub fn is_extended(resource: &str) -> bool {
    match resource.split_once('/') {
        Some((domain, _)) => {
            domain != "kubernetes.io"
                && !domain.ends_with(".kubernetes.io")
                && !resource.starts_with("requests.")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_milli;

    #[test]
    fn quantities_parse_to_exact_milli_units() {
        assert_eq!(parse_milli("500m"), Some(500));
        assert_eq!(parse_milli("2"), Some(2000));
        assert_eq!(parse_milli("0.5"), Some(500));
        assert_eq!(parse_milli("1Gi"), Some(1_073_741_824_000));
        assert_eq!(parse_milli("1.5Ki"), Some(1_536_000));
        assert_eq!(parse_milli("1e3"), Some(1_000_000));
        assert_eq!(parse_milli("1k"), Some(1_000_000));
        assert_eq!(parse_milli("1n"), Some(1));
        assert_eq!(parse_milli("x"), None);
        assert_eq!(parse_milli("1Qi"), None);
    }
}
