//! Decoding of Kubernetes protobuf request bodies for the few kinds kubectl's imperative
//! commands send that way (`kubectl create namespace|configmap|secret|serviceaccount|token`).
//! Responses are always JSON, which those clients also accept.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

const MAGIC: &[u8] = b"k8s\0";

/// Media types accepted for whole-object bodies.
pub const BODY_TYPES: &str = "application/json, application/yaml";

#[derive(Clone, Copy)]
enum Field {
    Str(&'static str),
    Bool(&'static str),
    Int(&'static str),
    Strings(&'static str),
    MapStr(&'static str),
    MapBytes(&'static str),
    Message(&'static str, Schema),
    Messages(&'static str, Schema),
}

type Schema = &'static [(u64, Field)];

const TYPE_META: Schema = &[(1, Field::Str("apiVersion")), (2, Field::Str("kind"))];
const OBJECT_META: Schema = &[
    (1, Field::Str("name")),
    (2, Field::Str("generateName")),
    (3, Field::Str("namespace")),
    (11, Field::MapStr("labels")),
    (12, Field::MapStr("annotations")),
    (14, Field::Strings("finalizers")),
];
const LOCAL_REFERENCE: Schema = &[(1, Field::Str("name"))];
const NAMESPACE: Schema = &[
    (1, Field::Message("metadata", OBJECT_META)),
    (
        2,
        Field::Message("spec", &[(1, Field::Strings("finalizers"))]),
    ),
];
const CONFIG_MAP: Schema = &[
    (1, Field::Message("metadata", OBJECT_META)),
    (2, Field::MapStr("data")),
    (3, Field::MapBytes("binaryData")),
    (4, Field::Bool("immutable")),
];
const SECRET: Schema = &[
    (1, Field::Message("metadata", OBJECT_META)),
    (2, Field::MapBytes("data")),
    (3, Field::Str("type")),
    (4, Field::MapStr("stringData")),
    (5, Field::Bool("immutable")),
];
const SERVICE_ACCOUNT: Schema = &[
    (1, Field::Message("metadata", OBJECT_META)),
    (3, Field::Messages("imagePullSecrets", LOCAL_REFERENCE)),
    (4, Field::Bool("automountServiceAccountToken")),
];

const BOUND_OBJECT_REFERENCE: Schema = &[
    (1, Field::Str("kind")),
    (2, Field::Str("apiVersion")),
    (3, Field::Str("name")),
    (4, Field::Str("uid")),
];
/// What `kubectl create token` sends.
const TOKEN_REQUEST: Schema = &[
    (1, Field::Message("metadata", OBJECT_META)),
    (
        2,
        Field::Message(
            "spec",
            &[
                (1, Field::Strings("audiences")),
                (3, Field::Message("boundObjectRef", BOUND_OBJECT_REFERENCE)),
                (4, Field::Int("expirationSeconds")),
            ],
        ),
    ),
];

fn schema_for(kind: &str) -> Option<Schema> {
    match kind {
        "Namespace" => Some(NAMESPACE),
        "ConfigMap" => Some(CONFIG_MAP),
        "Secret" => Some(SECRET),
        "ServiceAccount" => Some(SERVICE_ACCOUNT),
        "TokenRequest" => Some(TOKEN_REQUEST),
        _ => None,
    }
}

fn malformed() -> ApiError {
    ApiError::bad_request("malformed protobuf body")
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first().ok_or_else(malformed)?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed())
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], ApiError> {
        if len > self.0.len() {
            return Err(malformed());
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    /// Next `(field number, payload)`.
    fn next_field(&mut self) -> Result<Option<(u64, Payload<'a>)>, ApiError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let payload = match tag & 7 {
            0 => Payload::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Payload::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| malformed())?;
                Payload::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Payload::Fixed
            }
            _ => return Err(malformed()),
        };
        Ok(Some((tag >> 3, payload)))
    }
}

enum Payload<'a> {
    Varint(u64),
    /// 32- and 64-bit scalars; none of the decoded kinds uses them, so they are skipped.
    Fixed,
    Bytes(&'a [u8]),
}

fn text(bytes: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed())
}

fn map_entry(bytes: &[u8]) -> Result<(String, Vec<u8>), ApiError> {
    let mut reader = Reader(bytes);
    let (mut key, mut value) = (String::new(), Vec::new());
    while let Some((number, payload)) = reader.next_field()? {
        match (number, payload) {
            (1, Payload::Bytes(b)) => key = text(b)?,
            (2, Payload::Bytes(b)) => value = b.to_vec(),
            _ => {}
        }
    }
    Ok((key, value))
}

fn decode(bytes: &[u8], schema: Schema) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    let mut reader = Reader(bytes);
    while let Some((number, payload)) = reader.next_field()? {
        let Some((_, field)) = schema.iter().find(|(n, _)| *n == number) else {
            continue;
        };
        match (*field, payload) {
            (Field::Str(name), Payload::Bytes(b)) => {
                out.insert(name.into(), json!(text(b)?));
            }
            (Field::Bool(name), Payload::Varint(v)) => {
                out.insert(name.into(), json!(v != 0));
            }
            (Field::Int(name), Payload::Varint(v)) => {
                // int64 fields are two's complement varints.
                out.insert(name.into(), json!(v as i64));
            }
            (Field::Strings(name), Payload::Bytes(b)) => push(&mut out, name, json!(text(b)?)),
            (Field::Messages(name, inner), Payload::Bytes(b)) => {
                push(&mut out, name, Value::Object(decode(b, inner)?));
            }
            (Field::Message(name, inner), Payload::Bytes(b)) => {
                out.insert(name.into(), Value::Object(decode(b, inner)?));
            }
            (Field::MapStr(name), Payload::Bytes(b)) => {
                let (key, value) = map_entry(b)?;
                entry(&mut out, name).insert(key, json!(text(&value)?));
            }
            (Field::MapBytes(name), Payload::Bytes(b)) => {
                let (key, value) = map_entry(b)?;
                entry(&mut out, name).insert(key, json!(STANDARD.encode(value)));
            }
            _ => return Err(malformed()),
        }
    }
    Ok(out)
}

fn push(out: &mut Map<String, Value>, name: &str, value: Value) {
    if let Value::Array(items) = out.entry(name).or_insert_with(|| json!([])) {
        items.push(value);
    }
}

fn entry<'m>(out: &'m mut Map<String, Value>, name: &str) -> &'m mut Map<String, Value> {
    out.entry(name)
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("map fields are objects")
}

/// Decodes a `runtime.Unknown`-wrapped protobuf object into its JSON form.
pub fn decode_object(body: &[u8]) -> Result<Value, ApiError> {
    let envelope = body.strip_prefix(MAGIC).ok_or_else(malformed)?;
    let mut reader = Reader(envelope);
    let (mut type_meta, mut raw) = (Map::new(), &[][..]);
    while let Some((number, payload)) = reader.next_field()? {
        match (number, payload) {
            (1, Payload::Bytes(b)) => type_meta = decode(b, TYPE_META)?,
            (2, Payload::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let kind = type_meta["kind"].as_str().unwrap_or_default().to_string();
    let schema = schema_for(&kind).ok_or_else(|| {
        ApiError::unsupported_media_type(
            &format!("application/vnd.kubernetes.protobuf for {kind}"),
            &format!(
                "{BODY_TYPES}, and protobuf for Namespace, ConfigMap, Secret, ServiceAccount and TokenRequest"
            ),
        )
    })?;
    let mut object = decode(raw, schema)?;
    object.extend(type_meta);
    Ok(Value::Object(object))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![number << 3 | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn a_config_map_envelope_decodes_to_json() {
        let meta = field(1, b"cfg");
        let entry = [field(1, b"k"), field(2, b"v")].concat();
        let raw = [field(1, &meta), field(2, &entry)].concat();
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        assert_eq!(
            decode_object(&body).unwrap(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"k": "v"}})
        );
    }
}
