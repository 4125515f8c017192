//! The catalogue as one JSON Schema document, so producers in any language can
//! validate a command before publishing it (`longshore schema`).

use schemars::{SchemaGenerator, generate::SchemaSettings, json_schema};
use serde_json::{Value, json};

use super::CATALOGUE;

/// The JSON Schema of a command envelope: one branch per kind, each tying `kind` to
/// that kind's payload schema.
pub fn catalogue_schema() -> Value {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let envelope = generator.root_schema_for::<super::Envelope>();
    let envelope_props = envelope
        .get("properties")
        .cloned()
        .unwrap_or_else(|| json!({}));

    let branches: Vec<Value> = CATALOGUE
        .iter()
        .map(|spec| {
            let payload = spec.payload_schema(&mut generator);
            let mut props = envelope_props.clone();
            props["kind"] = json!({ "const": spec.kind, "description": spec.summary });
            props["payload"] = payload.to_value();
            json_schema!({
                "type": "object",
                "title": spec.kind,
                "description": spec.summary,
                "properties": props,
                "required": ["kind", "payload"],
                "additionalProperties": false,
            })
            .to_value()
        })
        .collect();

    let definitions = generator.take_definitions(true);
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://longshore.dev/schema/command.json",
        "title": "Longshore command envelope",
        "description": "A command published to the Longshore exchange (routing key = kind) or posted to POST /v1/commands. `id` may be omitted when `idempotency_key` is given.",
        "oneOf": branches,
        "$defs": definitions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_has_one_branch_per_kind() {
        let schema = catalogue_schema();
        let branches = schema["oneOf"].as_array().unwrap();
        assert_eq!(branches.len(), CATALOGUE.len());
        assert_eq!(
            branches.last().unwrap()["properties"]["kind"]["const"],
            "diag.noop"
        );
    }
}
