//! The committed JSON Schema is what the catalogue generates: producers validate
//! against the file, so it may never drift from the code.

use longshore_shared::command::schema::catalogue_schema;

#[test]
fn the_committed_schema_matches_the_catalogue() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/command.schema.json");
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path).expect("schema/command.schema.json exists"),
    )
    .expect("the committed schema is JSON");
    assert!(
        committed == catalogue_schema(),
        "schema/command.schema.json is stale: run `cargo run -q -- schema > schema/command.schema.json`"
    );
}
