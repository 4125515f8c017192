//! What every parse-only newtype shares: the error its constructor returns, the
//! boilerplate that lets serde and schemars go through that constructor, and the
//! "string or number" input that quantity-like fields accept.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Why a value was refused, in words the caller can act on. Deserialization puts it
/// next to the failing field's path, so it never repeats the field's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

impl ParseError {
    pub fn new(message: impl Into<String>) -> Self {
        ParseError(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

/// Implements the conversions of a string newtype whose inherent `parse(&str)` is its
/// only validating constructor and whose `as_str()` exposes the validated text, plus a
/// hand-written JSON Schema (so the published schema carries the same rule as the code).
///
/// The type itself declares `#[serde(try_from = "String", into = "String")]`.
macro_rules! string_newtype {
    ($ty:ident, $schema:tt) => {
        impl TryFrom<String> for $ty {
            type Error = $crate::domain::ParseError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                $ty::parse(&value)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $crate::domain::ParseError;
            fn try_from(value: &str) -> Result<Self, Self::Error> {
                $ty::parse(value)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::domain::ParseError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                $ty::parse(value)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.as_str().to_owned()
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}

pub(crate) use string_newtype;

/// A JSON string or number, read as text. The reference APIs send quotas as strings
/// (`"cpu_limit": "4"`) while typed producers send numbers (`4`, `0.5`); both mean the
/// same thing, so quantity-like types accept either and validate the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringOrNumber(pub String);

impl From<StringOrNumber> for String {
    fn from(value: StringOrNumber) -> String {
        value.0
    }
}

impl<'de> Deserialize<'de> for StringOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl Visitor<'_> for TextVisitor {
            type Value = StringOrNumber;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a number")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOrNumber(v.to_owned()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(StringOrNumber(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(StringOrNumber(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                if !v.is_finite() {
                    return Err(E::custom("must be a finite number"));
                }
                // `Display` of f64 never uses exponent notation and drops a trailing
                // `.0`, so 8.0 reads as "8" and 0.5 as "0.5".
                Ok(StringOrNumber(v.to_string()))
            }
        }

        deserializer.deserialize_any(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: serde_json::Value) -> Result<String, serde_json::Error> {
        StringOrNumber::deserialize(value).map(String::from)
    }

    #[test]
    fn strings_and_numbers_read_as_the_same_text() {
        assert_eq!(read(json!("4")).unwrap(), "4");
        assert_eq!(read(json!(4)).unwrap(), "4");
        assert_eq!(read(json!(8.0)).unwrap(), "8");
        assert_eq!(read(json!(0.5)).unwrap(), "0.5");
        assert_eq!(read(json!(-2)).unwrap(), "-2");
    }

    #[test]
    fn other_json_types_are_refused() {
        let err = read(json!(true)).unwrap_err().to_string();
        assert!(err.contains("a string or a number"), "{err}");
    }
}
