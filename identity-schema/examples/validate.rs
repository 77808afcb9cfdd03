//! Validates an identity's traits against an identity schema and prints what the schema derives from them.
//!
//! ```text
//! cargo run -p identity-schema --example validate -- SCHEMA TRAITS
//! ```
//!
//! SCHEMA is a path, `file://` path or `base64://` location; TRAITS is a JSON file holding the traits object.
//! Exits 0 when the traits are valid, 1 when they are not, 2 when a file cannot be used.

use std::process::ExitCode;

use identity_schema::{Error, IdentitySchema};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [schema_location, traits_path] = args.as_slice() else {
        eprintln!("usage: validate SCHEMA TRAITS");
        return ExitCode::from(2);
    };
    match run(schema_location, traits_path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::InvalidTraits { violations, schema_id }) => {
            println!("invalid: the traits break schema `{schema_id}`:");
            for violation in violations {
                println!("  {violation}");
            }
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn run(schema_location: &str, traits_path: &str) -> Result<(), Error> {
    let schema = IdentitySchema::load("default", schema_location)?;
    let text =
        std::fs::read_to_string(traits_path).map_err(|source| Error::Read { path: traits_path.into(), source })?;
    let traits: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| Error::NotJson { id: traits_path.to_owned(), source })?;
    let derived = schema.check(&traits)?;
    println!("valid");
    for (kind, identifiers) in &derived.identifiers {
        let list: Vec<&str> = identifiers.iter().map(String::as_str).collect();
        println!("  {kind} identifiers: {}", list.join(", "));
    }
    for address in &derived.verifiable_addresses {
        println!("  verifiable address: {} ({:?})", address.value, address.via);
    }
    for address in &derived.recovery_addresses {
        println!("  recovery address: {} ({:?})", address.value, address.via);
    }
    Ok(())
}
