//! Fuzz target `schema`: the input as an identity schema document (loaded, then used on fixed traits) and as traits
//! (validated and derived against the test schemas and the server's default schema).

use std::sync::OnceLock;

use identity_schema::IdentitySchema;
use serde_json::{Value, json};

const SCHEMAS: [(&str, &str); 4] = [
    ("email-password", include_str!("../../identity-schema/tests/data/email-password.schema.json")),
    ("username-phone-totp", include_str!("../../identity-schema/tests/data/username-phone-totp.schema.json")),
    ("device", include_str!("../../identity-schema/tests/data/device.schema.json")),
    ("server-default", include_str!("../../examples/server/src/default.schema.json")),
];

fn schemas() -> &'static [IdentitySchema] {
    static COMPILED: OnceLock<Vec<IdentitySchema>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        SCHEMAS
            .iter()
            .map(|(id, text)| match IdentitySchema::from_json_str(*id, text) {
                Ok(schema) => schema,
                Err(e) => panic!("the fixed schema {id} must load: {e}"),
            })
            .collect()
    })
}

fn sample_traits() -> &'static [Value] {
    static SAMPLES: OnceLock<Vec<Value>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        vec![
            json!({}),
            json!({"email": "ada@example.com", "name": {"first": "Ada"}}),
            json!({"username": "ada", "phone": "+4915112345678"}),
            json!("not an object"),
        ]
    })
}

/// Validation and derivation must agree: traits that validate derive what `check` returns.
fn exercise(schema: &IdentitySchema, traits: &Value) {
    let verdict = schema.validate(traits);
    let derived = schema.derive(traits);
    let checked = schema.check(traits);
    assert_eq!(verdict.is_ok(), checked.is_ok(), "validate and check disagree on {traits}");
    if let Ok(checked) = checked {
        assert!(traits.is_object(), "traits that are not an object validated: {traits}");
        assert_eq!(checked, derived, "check and derive disagree on {traits}");
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(schema) = IdentitySchema::from_json_str("fuzzed", text) {
        for traits in sample_traits() {
            exercise(&schema, traits);
        }
    }
    if let Ok(traits) = serde_json::from_str::<Value>(text) {
        for schema in schemas() {
            exercise(schema, &traits);
        }
    }
}
