//! Maps whose keys are validated newtypes (`resources`, `env`). Serde reports a bad map
//! key at the map's own path; this reader reports it at the key's path
//! (`payload.resources.nvidia com/l4`), the same place a bad value is reported, so the
//! caller sees which entry to fix.
//!
//! Use with `#[serde(default, deserialize_with = "keyed_map::deserialize")]`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

/// Reads a JSON object into a map, parsing each key with `K::try_from`.
pub fn deserialize<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: TryFrom<String> + Ord,
    K::Error: fmt::Display,
    V: de::Deserialize<'de>,
{
    deserializer.deserialize_map(KeyedMapVisitor(PhantomData))
}

/// [`deserialize`] for an optional map: an object is `Some`, even when empty; `null`
/// is `None`, as for any optional field.
pub fn deserialize_some<'de, D, K, V>(deserializer: D) -> Result<Option<BTreeMap<K, V>>, D::Error>
where
    D: Deserializer<'de>,
    K: TryFrom<String> + Ord,
    K::Error: fmt::Display,
    V: de::Deserialize<'de>,
{
    deserializer.deserialize_option(OptionalMapVisitor(PhantomData))
}

struct OptionalMapVisitor<K, V>(PhantomData<(K, V)>);

impl<'de, K, V> Visitor<'de> for OptionalMapVisitor<K, V>
where
    K: TryFrom<String> + Ord,
    K::Error: fmt::Display,
    V: de::Deserialize<'de>,
{
    type Value = Option<BTreeMap<K, V>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserialize(deserializer).map(Some)
    }
}

struct KeyedMapVisitor<K, V>(PhantomData<(K, V)>);

impl<'de, K, V> Visitor<'de> for KeyedMapVisitor<K, V>
where
    K: TryFrom<String> + Ord,
    K::Error: fmt::Display,
    V: de::Deserialize<'de>,
{
    type Value = BTreeMap<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(raw) = map.next_key::<String>()? {
            match K::try_from(raw) {
                Ok(key) => {
                    let value = map.next_value()?;
                    out.insert(key, value);
                }
                // Failing inside the value's slot is what places the error at the key.
                Err(why) => match map.next_value_seed(Refuse(why.to_string()))? {},
            }
        }
        Ok(out)
    }
}

/// A value slot that always fails with the given message.
struct Refuse(String);

impl<'de> DeserializeSeed<'de> for Refuse {
    type Value = Infallible;

    fn deserialize<D: Deserializer<'de>>(self, _: D) -> Result<Infallible, D::Error> {
        Err(de::Error::custom(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::field_error::deserialize_at;
    use crate::domain::{EnvVarName, Quantity, QuotaKey};
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Holder {
        #[serde(default, deserialize_with = "deserialize")]
        resources: BTreeMap<QuotaKey, Quantity>,
        #[serde(default, deserialize_with = "deserialize")]
        env: BTreeMap<EnvVarName, String>,
    }

    #[test]
    fn a_bad_key_is_reported_at_its_own_path() {
        let err =
            deserialize_at::<Holder>("payload", &json!({"resources": {"gpus": "1"}})).unwrap_err();
        assert_eq!(err.field, "payload.resources.gpus");
        assert!(
            err.message.contains("standard quota name"),
            "{}",
            err.message
        );

        let err = deserialize_at::<Holder>("payload", &json!({"env": {"1X": "v"}})).unwrap_err();
        assert_eq!(err.field, "payload.env.1X");
    }

    #[test]
    fn a_bad_value_is_reported_at_its_key() {
        let err = deserialize_at::<Holder>(
            "payload",
            &json!({"resources": {"requests.nvidia.com/l4": "-1"}}),
        )
        .unwrap_err();
        assert_eq!(err.field, "payload.resources.requests.nvidia.com/l4");
    }

    #[test]
    fn good_entries_are_all_kept() {
        let holder: Holder = deserialize_at(
            "payload",
            &json!({"resources": {"pods": 10, "requests.nvidia.com/l4": "2"}}),
        )
        .unwrap();
        assert_eq!(holder.resources.len(), 2);
        assert!(holder.env.is_empty());
    }
}
