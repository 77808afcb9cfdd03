//! Arbitrary JSON traits never panic validation or derivation, on any of the test schemas.

use identity_schema::IdentitySchema;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
        "[a-z]{1,8}@[a-z]{1,8}\\.[a-z]{2,3}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop_oneof![
            Just("email".to_owned()),
            Just("username".to_owned()),
            Just("phone".to_owned()),
            Just("name".to_owned()),
            Just("first".to_owned()),
            ".{0,8}"
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Compiled once for all cases.
fn schemas() -> &'static [IdentitySchema] {
    static SCHEMAS: std::sync::OnceLock<Vec<IdentitySchema>> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
        ["email-password", "username-phone-totp", "device"]
            .into_iter()
            .map(|name| IdentitySchema::from_file(name, format!("{data}/{name}.schema.json")).unwrap())
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_traits_never_panic(traits in json_value()) {
        for schema in schemas() {
            let verdict = schema.validate(&traits);
            let derived = schema.derive(&traits);
            if verdict.is_ok() {
                prop_assert!(traits.is_object());
                prop_assert_eq!(schema.check(&traits).ok(), Some(derived));
            }
        }
    }
}
