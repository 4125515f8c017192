//! `Quantity`: a Kubernetes resource quantity (`4`, `500m`, `16Gi`, `1.5e3`), parsed
//! with the API server's full grammar so a quota Longshore accepts is one Kubernetes
//! accepts too, and compared by amount (`1Gi` = `1024Mi`, `1` = `1000m`).
//!
//! ```text
//! quantity := number suffix          number := digits | digits.digits | digits. | .digits
//! suffix   := binarySI | decimalSI | decimalExponent
//! binarySI := Ki | Mi | Gi | Ti | Pi | Ei
//! decimalSI := n | u | m | "" | k | M | G | T | P | E
//! decimalExponent := (e | E) [+|-] digits
//! ```
//!
//! Quotas are never negative, so a sign other than `+` is refused.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::ParseError;
use super::newtype::StringOrNumber;

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// A non-negative Kubernetes resource quantity.
///
/// It keeps the text as given (minus a leading `+`): the API server canonicalizes what
/// it stores, and Longshore compares quantities by amount, never by spelling. The
/// amount is held in nano-units, the finest the grammar can express; finer fractions
/// round up, as Kubernetes rounds them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "StringOrNumber", into = "String")]
pub struct Quantity {
    text: String,
    nanos: i128,
}

impl Quantity {
    pub fn parse(input: &str) -> Result<Quantity, ParseError> {
        let text = input.strip_prefix('+').unwrap_or(input);
        let nanos = amount(text).map_err(|why| {
            ParseError::new(format!(
                "`{input}` is not a valid Kubernetes quantity: {why}"
            ))
        })?;
        Ok(Quantity {
            text: text.to_owned(),
            nanos,
        })
    }

    /// Zero, spelled `0`: what the GPU rule writes into keys it clears.
    pub fn zero() -> Quantity {
        Quantity {
            text: "0".to_owned(),
            nanos: 0,
        }
    }

    /// A whole number of units, e.g. `Quantity::whole(2)` is `2`.
    pub fn whole(units: u64) -> Quantity {
        Quantity {
            text: units.to_string(),
            nanos: i128::from(units) * NANOS_PER_UNIT,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The unit after the number: `Gi` in `16Gi`, `m` in `500m`, `e3` in `1.5e3`, `""`
    /// for a bare number.
    pub fn suffix(&self) -> &str {
        let number_len = self
            .text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(self.text.len());
        &self.text[number_len..]
    }

    /// The amount in billionths of a unit (a nano-core, a nano-byte).
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// The amount in thousandths of a unit, rounded up (Kubernetes' `MilliValue`):
    /// `500m` → 500, `2` → 2000.
    pub fn milli_value(&self) -> i128 {
        ceil_div(self.nanos, 1_000_000)
    }

    /// The amount in whole units, rounded up (Kubernetes' `Value`): `1Gi` →
    /// 1073741824, `500m` → 1.
    pub fn value(&self) -> i128 {
        ceil_div(self.nanos, NANOS_PER_UNIT)
    }

    /// The amount as a float, for display and ratios; compare with
    /// [`cmp_amount`](Self::cmp_amount), which is exact.
    pub fn as_f64(&self) -> f64 {
        self.nanos as f64 / NANOS_PER_UNIT as f64
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// Compares amounts, whatever the spelling: `1Gi` equals `1024Mi`.
    pub fn cmp_amount(&self, other: &Quantity) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }

    pub fn same_amount(&self, other: &Quantity) -> bool {
        self.nanos == other.nanos
    }
}

impl TryFrom<StringOrNumber> for Quantity {
    type Error = ParseError;
    fn try_from(value: StringOrNumber) -> Result<Self, Self::Error> {
        Quantity::parse(&value.0)
    }
}

impl TryFrom<String> for Quantity {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Quantity::parse(&value)
    }
}

impl std::str::FromStr for Quantity {
    type Err = ParseError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Quantity::parse(value)
    }
}

impl From<Quantity> for String {
    fn from(value: Quantity) -> String {
        value.text
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl schemars::JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": ["string", "number"],
            "minimum": 0,
            "pattern": "^\\+?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]+)?$",
            "description": "A non-negative Kubernetes quantity, as a string (`\"4\"`, `\"500m\"`, `\"16Gi\"`) or a number (`4`, `0.5`)."
        })
    }
}

/// The amount of `text` (sign already stripped) in nano-units.
fn amount(text: &str) -> Result<i128, String> {
    if text.is_empty() {
        return Err("it is empty".into());
    }
    if text.starts_with('-') {
        return Err("quantities must not be negative".into());
    }
    let number_len = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err("it does not start with a number".into());
    }
    if fraction.contains('.') {
        return Err("it has more than one decimal point".into());
    }
    let (binary_multiplier, decimal_power) = suffix_scale(suffix)?;

    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    let too_large = || "it is too large".to_owned();
    let mantissa: i128 = if significant.is_empty() {
        0
    } else {
        significant.parse().map_err(|_| too_large())?
    };
    let numerator = mantissa
        .checked_mul(binary_multiplier)
        .ok_or_else(too_large)?;
    let fraction_len = i64::try_from(fraction.len()).map_err(|_| too_large())?;
    let power = 9 + i64::from(decimal_power) - fraction_len;
    if power >= 0 {
        let scale = u32::try_from(power)
            .ok()
            .and_then(|p| 10i128.checked_pow(p))
            .ok_or_else(too_large)?;
        numerator.checked_mul(scale).ok_or_else(too_large)
    } else {
        // Below a nano-unit: round up, as Kubernetes does, so "0.0000000001" is 1n.
        let scale = u32::try_from(-power)
            .ok()
            .and_then(|p| 10i128.checked_pow(p));
        Ok(match scale {
            Some(scale) => ceil_div(numerator, scale),
            None => i128::from(numerator > 0),
        })
    }
}

/// `(binary multiplier, decimal power)` of a suffix: `Ki` is (1024, 0), `m` is (1, -3).
fn suffix_scale(suffix: &str) -> Result<(i128, i32), String> {
    let binary = |power: u32| Ok((1024i128.pow(power), 0));
    let decimal = |power: i32| Ok((1, power));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => {
            let exponent = suffix
                .strip_prefix(['e', 'E'])
                .filter(|rest| {
                    let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
                    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                })
                .ok_or_else(|| {
                    format!(
                        "unknown unit `{suffix}` (use one of n u m k M G T P E, \
                         Ki Mi Gi Ti Pi Ei, or an exponent such as e3)"
                    )
                })?;
            let power: i32 = exponent
                .parse()
                .map_err(|_| "its exponent is too large".to_owned())?;
            if power.abs() > 60 {
                return Err("its exponent is too large".into());
            }
            decimal(power)
        }
    }
}

fn ceil_div(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    if numerator % denominator > 0 {
        quotient + 1
    } else {
        quotient
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn every_suffix_family_parses_to_its_amount() {
        assert_eq!(q("4").value(), 4);
        assert_eq!(q("500m").milli_value(), 500);
        assert_eq!(q("0.5").milli_value(), 500);
        assert_eq!(q("16Gi").value(), 16 * 1024 * 1024 * 1024);
        assert_eq!(q("1k").value(), 1000);
        assert_eq!(q("1E").value(), 1_000_000_000_000_000_000);
        assert_eq!(q("1Ei").value(), 1 << 60);
        assert_eq!(q("1.5e3").value(), 1500);
        assert_eq!(q("1E3").value(), 1000);
        assert_eq!(q("25e-1").milli_value(), 2500);
        assert_eq!(q("100n").nanos(), 100);
        assert_eq!(q("3u").nanos(), 3000);
        assert_eq!(q(".5").milli_value(), 500);
        assert_eq!(q("5.").value(), 5);
        assert_eq!(q("+2").as_str(), "2");
    }

    #[test]
    fn amounts_compare_whatever_the_spelling() {
        assert!(q("1Gi").same_amount(&q("1024Mi")));
        assert!(q("1").same_amount(&q("1000m")));
        assert_eq!(q("1G").cmp_amount(&q("1Gi")), Ordering::Less);
        assert_ne!(
            q("1Gi"),
            q("1024Mi"),
            "equality is by spelling, like the wire"
        );
    }

    #[test]
    fn fractions_finer_than_a_nano_round_up() {
        assert_eq!(q("0.0000000001").nanos(), 1);
        assert_eq!(q("1e-20").nanos(), 1);
        assert_eq!(q("0e-20").nanos(), 0);
        assert_eq!(q("1500m").value(), 2);
    }

    #[test]
    fn negative_and_malformed_quantities_are_refused() {
        let cases = [
            ("-1", "negative"),
            ("", "empty"),
            ("Gi", "does not start with a number"),
            ("1.2.3", "more than one decimal point"),
            ("1gb", "unknown unit `gb`"),
            ("1e", "unknown unit `e`"),
            ("1 Gi", "unknown unit ` Gi`"),
            ("1e999", "exponent is too large"),
            ("99999999999999999999999999999999999999999", "too large"),
        ];
        for (input, why) in cases {
            let err = Quantity::parse(input).unwrap_err();
            assert!(err.message().contains(why), "{input}: {err}");
        }
    }

    #[test]
    fn the_suffix_is_what_follows_the_number() {
        assert_eq!(q("16Gi").suffix(), "Gi");
        assert_eq!(q("500m").suffix(), "m");
        assert_eq!(q("4").suffix(), "");
        assert_eq!(q("1.5e3").suffix(), "e3");
    }

    #[test]
    fn json_strings_and_numbers_both_deserialize() {
        let a: Quantity = serde_json::from_value(json!("4")).unwrap();
        let b: Quantity = serde_json::from_value(json!(4)).unwrap();
        assert_eq!(a, b);
        let half: Quantity = serde_json::from_value(json!(0.5)).unwrap();
        assert_eq!(half.as_str(), "0.5");
        assert!(serde_json::from_value::<Quantity>(json!(-1)).is_err());
        assert_eq!(serde_json::to_value(q("16Gi")).unwrap(), json!("16Gi"));
    }
}
