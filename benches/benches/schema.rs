//! Validating a typical traits document against the email-password schema: with the schema compiled once (how
//! identity-schema is meant to be used), against the bare `jsonschema` validator it wraps, and against
//! compiling the schema for every call (the naive baseline).

use criterion::{Criterion, criterion_group, criterion_main};
use identity_schema::IdentitySchema;
use serde_json::{Value, json};
use std::hint::black_box;

const SCHEMA: &str = include_str!("../../identity-schema/tests/data/email-password.schema.json");

fn traits() -> Value {
    json!({"email": "ada.lovelace@example.com", "name": {"first": "Ada", "last": "Lovelace"}})
}

fn schema_validation(c: &mut Criterion) {
    let raw: Value = serde_json::from_str(SCHEMA).unwrap();
    let schema = IdentitySchema::from_value("default", raw.clone()).unwrap();
    let bare = jsonschema::options().should_validate_formats(true).build(&raw).unwrap();
    let traits = traits();
    let document = json!({ "traits": traits.clone() });

    let mut group = c.benchmark_group("schema_validation");
    group.bench_function("bare_jsonschema_is_valid", |b| b.iter(|| black_box(bare.is_valid(black_box(&document)))));
    group.bench_function("compiled_validate", |b| b.iter(|| black_box(schema.validate(black_box(&traits)).is_ok())));
    group.bench_function("compiled_check_and_derive", |b| {
        b.iter(|| black_box(schema.check(black_box(&traits)).map(|d| d.identifiers.len())))
    });
    group.bench_function("compile_per_call", |b| {
        b.iter(|| {
            let schema = IdentitySchema::from_value("default", black_box(raw.clone())).unwrap();
            black_box(schema.validate(&traits).is_ok())
        })
    });
    group.finish();
}

criterion_group!(benches, schema_validation);
criterion_main!(benches);
