//! The schemas of `shared/testdata/schemas` (copied to `tests/data`): validation with pointers and codes,
//! derivation of identifiers and addresses, loading, Kratos' rules, and the registry.

use identity_core::{AddressVia, CredentialType};
use identity_schema::{Address, Error, IdentitySchema, SchemaRegistry, Violation, ViolationCode};
use serde_json::{Value, json};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn schema(file: &str) -> IdentitySchema {
    IdentitySchema::from_file(file.trim_end_matches(".schema.json"), format!("{DATA}/{file}")).unwrap()
}

fn email_password() -> IdentitySchema {
    schema("email-password.schema.json")
}

fn employee() -> IdentitySchema {
    schema("username-phone-totp.schema.json")
}

fn violations(schema: &IdentitySchema, traits: Value) -> Vec<Violation> {
    match schema.validate(&traits) {
        Err(Error::InvalidTraits { violations, schema_id }) => {
            assert_eq!(schema_id, schema.id());
            violations
        }
        other => panic!("expected violations, got {other:?}"),
    }
}

fn codes_at(violations: &[Violation]) -> Vec<(&str, ViolationCode)> {
    violations.iter().map(|v| (v.pointer.as_str(), v.code)).collect()
}

#[test]
fn good_traits_pass_every_schema() {
    assert!(email_password().validate(&json!({"email": "ada@example.com", "name": {"first": "Ada"}})).is_ok());
    let employee_traits = json!({"username": "ada.l", "email": "ada@corp.example", "phone": "+44 20 7946 0958",
        "department": "engineering"});
    assert!(employee().validate(&employee_traits).is_ok());
    assert!(schema("device.schema.json").validate(&json!({"name": "edge-1", "hostname": "edge-1.example"})).is_ok());
}

#[test]
fn a_missing_required_field_points_at_the_field() {
    assert_eq!(codes_at(&violations(&email_password(), json!({}))), [("/traits/email", ViolationCode::Required)]);
}

#[test]
fn a_bad_email_is_a_format_violation() {
    let found = violations(&email_password(), json!({"email": "not-an-email"}));
    assert_eq!(codes_at(&found), [("/traits/email", ViolationCode::Format)]);
    assert!(found[0].message.contains("email"), "{}", found[0].message);
}

#[test]
fn an_unexpected_property_points_at_itself() {
    let found = violations(&email_password(), json!({"email": "ada@example.com", "nickname": "ada"}));
    assert_eq!(codes_at(&found), [("/traits/nickname", ViolationCode::AdditionalProperties)]);
}

#[test]
fn wrong_types_point_into_nested_objects() {
    let found = violations(&email_password(), json!({"email": "ada@example.com", "name": {"first": 42}}));
    assert_eq!(codes_at(&found), [("/traits/name/first", ViolationCode::Type)]);
    let found = violations(&email_password(), json!("just a string"));
    assert_eq!(codes_at(&found), [("/traits", ViolationCode::Type)]);
}

#[test]
fn pattern_enum_and_length_violations_have_their_codes() {
    let found = violations(&employee(), json!({"username": "A!", "email": "ada@corp.example", "department": "legal"}));
    let mut codes = codes_at(&found);
    codes.sort();
    assert_eq!(codes, [("/traits/department", ViolationCode::Enum), ("/traits/username", ViolationCode::Pattern)]);
    let found = violations(&schema("device.schema.json"), json!({"name": ""}));
    assert_eq!(codes_at(&found), [("/traits/name", ViolationCode::MinLength)]);
}

#[test]
fn every_violation_is_reported_not_just_the_first() {
    let found = violations(
        &employee(),
        json!({"email": "nope", "phone": "0151 not a number", "department": "legal", "extra": true}),
    );
    let mut codes = codes_at(&found);
    codes.sort();
    assert_eq!(
        codes,
        [
            ("/traits/department", ViolationCode::Enum),
            ("/traits/email", ViolationCode::Format),
            ("/traits/extra", ViolationCode::AdditionalProperties),
            ("/traits/phone", ViolationCode::Format),
            ("/traits/username", ViolationCode::Required),
        ]
    );
}

#[test]
fn identifiers_and_addresses_are_derived_and_normalised() {
    let derived = email_password().check(&json!({"email": "Ada@Example.COM"})).unwrap();
    assert_eq!(derived.identifiers_for(CredentialType::Password).collect::<Vec<_>>(), ["ada@example.com"]);
    let ada = Address { value: "ada@example.com".into(), via: AddressVia::Email };
    assert_eq!(derived.verifiable_addresses, std::slice::from_ref(&ada));
    assert_eq!(derived.recovery_addresses, [ada]);
    assert_eq!(derived.totp_account_name(), None);

    // Derivation trims too (validation of an email format would refuse the spaces first).
    let derived = email_password().derive(&json!({"email": "  Ada@Example.COM \n"}));
    assert_eq!(derived.identifiers_for(CredentialType::Password).collect::<Vec<_>>(), ["ada@example.com"]);
}

#[test]
fn several_identifiers_and_channels_come_from_one_schema() {
    let traits = json!({"username": "ada.l", "email": "Ada@Corp.Example", "phone": "+44 20 7946 0958"});
    let derived = employee().check(&traits).unwrap();
    assert_eq!(derived.identifiers_for(CredentialType::Password).collect::<Vec<_>>(), ["ada.l", "ada@corp.example"]);
    assert_eq!(derived.totp_account_name(), Some("ada.l"));
    assert_eq!(
        derived.verifiable_addresses,
        [
            Address { value: "ada@corp.example".into(), via: AddressVia::Email },
            Address { value: "+442079460958".into(), via: AddressVia::Sms },
        ]
    );
    assert_eq!(derived.recovery_addresses, [Address { value: "ada@corp.example".into(), via: AddressVia::Email }]);
    assert!(derived.code_addresses.is_empty());
}

#[test]
fn schemas_load_from_files_base64_and_strings() {
    let text = std::fs::read_to_string(format!("{DATA}/email-password.schema.json")).unwrap();
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&text);
    let from_base64 = IdentitySchema::load("b64", &format!("base64://{encoded}")).unwrap();
    let from_file_url = IdentitySchema::load("file", &format!("file://{DATA}/email-password.schema.json")).unwrap();
    let from_path = IdentitySchema::load("path", &format!("{DATA}/email-password.schema.json")).unwrap();
    let from_text = IdentitySchema::from_json_str("text", &text).unwrap();
    for schema in [&from_base64, &from_file_url, &from_path, &from_text] {
        assert!(schema.validate(&json!({"email": "ada@example.com"})).is_ok(), "{}", schema.id());
        assert_eq!(schema.raw()["title"], "Person");
    }
}

#[test]
fn loading_failures_are_typed() {
    assert!(matches!(IdentitySchema::load("x", "/no/such/schema.json"), Err(Error::Read { .. })));
    assert!(matches!(IdentitySchema::load("x", "base64://***"), Err(Error::Base64)));
    assert!(matches!(IdentitySchema::load("x", "base64://bm90IGpzb24="), Err(Error::NotJson { .. })));
    assert!(matches!(IdentitySchema::from_json_str("x", "{"), Err(Error::NotJson { .. })));
    assert!(matches!(IdentitySchema::from_value("x", json!([1])), Err(Error::MetaRule { .. })));
}

#[test]
fn remote_references_are_refused_with_a_clear_error() {
    let schema = json!({"type": "object", "properties": {"traits": {"type": "object", "properties": {
        "email": {"$ref": "https://schemas.example.net/email.json"}
    }}}});
    match IdentitySchema::from_value("remote", schema) {
        Err(Error::RemoteReference { reference, pointer, .. }) => {
            assert_eq!(reference, "https://schemas.example.net/email.json");
            assert_eq!(pointer, "/properties/traits/properties/email/$ref");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let relative = json!({"properties": {"traits": {"type": "object", "properties": {"a": {"$ref": "other.json"}}}}});
    assert!(matches!(IdentitySchema::from_value("rel", relative), Err(Error::RemoteReference { .. })));
    let dangling = json!({"properties": {"traits": {"type": "object", "properties": {"a": {"$ref": "#/nope"}}}}});
    assert!(matches!(IdentitySchema::from_value("dangling", dangling), Err(Error::DanglingReference { .. })));
}

#[test]
fn local_references_and_data_that_looks_like_references_are_fine() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"email": {"type": "string", "format": "email",
            "ory.sh/kratos": {"credentials": {"code": {"identifier": true, "via": "email"}}}}},
        "properties": {"traits": {"type": "object", "properties": {
            "emails": {"type": "array", "items": {"$ref": "#/$defs/email"}},
            "note": {"type": "string", "default": "see", "examples": [{"$ref": "https://not.a.reference"}]}
        }}}
    });
    let schema = IdentitySchema::from_value("local", schema).unwrap();
    let derived = schema.check(&json!({"emails": ["A@x.example", "b@x.example"]})).unwrap();
    assert_eq!(derived.identifiers_for(CredentialType::Code).collect::<Vec<_>>(), ["a@x.example", "b@x.example"]);
    assert_eq!(derived.code_addresses.len(), 2);
    let found = violations(&schema, json!({"emails": ["a@x.example", "bad"]}));
    assert_eq!(codes_at(&found), [("/traits/emails/1", ViolationCode::Format)]);
}

#[test]
fn kratos_rules_are_checked_at_load() {
    let no_traits = json!({"type": "object", "properties": {"name": {"type": "string"}}});
    assert!(matches!(IdentitySchema::from_value("x", no_traits), Err(Error::MetaRule { .. })));
    let string_traits = json!({"properties": {"traits": {"type": "string"}}});
    match IdentitySchema::from_value("x", string_traits) {
        Err(Error::MetaRule { pointer, .. }) => assert_eq!(pointer, "/properties/traits"),
        other => panic!("unexpected {other:?}"),
    }
    let unknown_key = json!({"properties": {"traits": {"type": "object", "properties": {
        "email": {"type": "string", "ory.sh/kratos": {"credentials": {"password": {"identifer": true}}}}
    }}}});
    match IdentitySchema::from_value("x", unknown_key) {
        Err(Error::Extension { pointer, message, .. }) => {
            assert_eq!(pointer, "/properties/traits/properties/email/ory.sh~1kratos");
            assert!(message.contains("identifer"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let bad_schema = json!({"properties": {"traits": {"type": "object", "properties": {"a": {"type": "strin"}}}}});
    assert!(matches!(IdentitySchema::from_value("x", bad_schema), Err(Error::Compile { .. })));
    let bad_regex = json!({"properties": {"traits": {"type": "object", "properties": {"a": {"pattern": "(["}}}}});
    assert!(matches!(IdentitySchema::from_value("x", bad_regex), Err(Error::Compile { .. })));
}

#[test]
fn a_registry_holds_several_schemas_and_a_default() {
    let mut registry = SchemaRegistry::new(email_password());
    registry.insert(employee()).unwrap();
    assert_eq!(registry.default_id(), "email-password");
    assert_eq!(registry.get_or_default(None).unwrap().id(), "email-password");
    assert_eq!(registry.get("username-phone-totp").unwrap().id(), "username-phone-totp");
    assert_eq!(registry.iter().count(), 2);
    assert!(matches!(registry.get("nope"), Err(Error::UnknownSchema { id }) if id == "nope"));
    assert!(matches!(registry.insert(employee()), Err(Error::DuplicateSchema { .. })));
    assert!(matches!(registry.insert(email_password()), Err(Error::DuplicateSchema { .. })));

    let built = SchemaRegistry::from_schemas("username-phone-totp", [email_password(), employee()]).unwrap();
    assert_eq!(built.default_schema().id(), "username-phone-totp");
    assert!(matches!(SchemaRegistry::from_schemas("missing", [email_password()]), Err(Error::UnknownSchema { .. })));
    assert!(matches!(
        SchemaRegistry::from_schemas("email-password", [email_password(), email_password()]),
        Err(Error::DuplicateSchema { .. })
    ));
}

#[test]
fn webauthn_identifiers_and_passkey_display_names_are_derived() {
    let schema = json!({"properties": {"traits": {"type": "object", "properties": {
        "email": {"type": "string", "ory.sh/kratos": {"credentials": {
            "webauthn": {"identifier": true}, "password": {"identifier": false}
        }}},
        "name": {"type": "string", "ory.sh/kratos": {"credentials": {"passkey": {"display_name": true}}}},
        "mobile": {"type": "string", "ory.sh/kratos": {"credentials": {"code": {"identifier": true, "via": "sms"}}}}
    }}}});
    let schema = IdentitySchema::from_value("keys", schema).unwrap();
    let derived =
        schema.check(&json!({"email": "Ada@Example.com", "name": " Ada L. ", "mobile": "+4915112345678"})).unwrap();
    assert_eq!(derived.identifiers_for(CredentialType::Webauthn).collect::<Vec<_>>(), ["ada@example.com"]);
    assert_eq!(derived.identifiers_for(CredentialType::Password).count(), 0);
    assert_eq!(derived.passkey_display_name.as_deref(), Some("Ada L."));
    assert_eq!(derived.code_addresses, [Address { value: "+4915112345678".into(), via: AddressVia::Sms }]);
    assert_eq!(derived.identifiers_for(CredentialType::Code).collect::<Vec<_>>(), ["+4915112345678"]);
}

#[test]
fn extension_typos_are_refused_even_where_the_block_cannot_apply() {
    let schema = json!({"properties": {"traits": {"type": "object",
        "patternProperties": {"^x-": {"type": "string", "ory.sh/kratos": {"recovery": {"vía": "email"}}}}
    }}});
    match IdentitySchema::from_value("x", schema) {
        Err(Error::Extension { pointer, .. }) => {
            assert_eq!(pointer, "/properties/traits/patternProperties/^x-/ory.sh~1kratos");
        }
        other => panic!("unexpected {other:?}"),
    }
    let unused_definition = json!({
        "definitions": {"unused": {"ory.sh/kratos": {"credentials": {"password": {"identifer": true}}}}},
        "properties": {"traits": {"type": "object"}}
    });
    assert!(matches!(IdentitySchema::from_value("x", unused_definition), Err(Error::Extension { .. })));
}

#[test]
fn anchored_references_carry_their_extension() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"login": {"$anchor": "login", "type": "string",
            "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}}}},
        "properties": {"traits": {"type": "object", "properties": {"user": {"$ref": "#login"}}}}
    });
    let schema = IdentitySchema::from_value("anchors", schema).unwrap();
    let derived = schema.check(&json!({"user": "Ada"})).unwrap();
    assert_eq!(derived.identifiers_for(CredentialType::Password).collect::<Vec<_>>(), ["ada"]);
    let dangling = json!({"properties": {"traits": {"type": "object", "properties": {"a": {"$ref": "#nowhere"}}}}});
    assert!(matches!(IdentitySchema::from_value("x", dangling), Err(Error::DanglingReference { .. })));
}

#[test]
fn properties_named_like_keywords_are_still_checked() {
    let schema = json!({"properties": {"traits": {"type": "object", "properties": {
        "default": {"$ref": "https://schemas.example.net/x.json"}
    }}}});
    match IdentitySchema::from_value("x", schema) {
        Err(Error::RemoteReference { pointer, .. }) => {
            assert_eq!(pointer, "/properties/traits/properties/default/$ref")
        }
        other => panic!("unexpected {other:?}"),
    }
}
