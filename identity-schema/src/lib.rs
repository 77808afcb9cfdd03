//! Identity schemas: JSON Schemas (draft-07 or 2020-12) that say what traits an identity has, with Ory Kratos'
//! `ory.sh/kratos` extension marking which traits are login identifiers, verifiable addresses and recovery
//! addresses.
//!
//! A schema is loaded from a string, a file or a `base64://` location, checked against Kratos' rules, and
//! compiled once. Validating traits then reports every violation with a JSON pointer and a stable code;
//! deriving returns the normalised identifiers and addresses. No schema is ever fetched from the network.
//!
//! ```
//! use identity_core::CredentialType;
//! use identity_schema::{IdentitySchema, SchemaRegistry, ViolationCode};
//! use serde_json::json;
//!
//! let schema = IdentitySchema::from_value("default", json!({
//!     "$schema": "http://json-schema.org/draft-07/schema#",
//!     "type": "object",
//!     "properties": {"traits": {
//!         "type": "object",
//!         "properties": {"email": {
//!             "type": "string", "format": "email",
//!             "ory.sh/kratos": {"credentials": {"password": {"identifier": true}}, "recovery": {"via": "email"}}
//!         }},
//!         "required": ["email"]
//!     }}
//! }))?;
//! let registry = SchemaRegistry::new(schema);
//! let schema = registry.get_or_default(None)?;
//!
//! let derived = schema.check(&json!({"email": "Ada@Example.com"}))?;
//! assert_eq!(derived.identifiers_for(CredentialType::Password).collect::<Vec<_>>(), ["ada@example.com"]);
//!
//! let Err(identity_schema::Error::InvalidTraits { violations, .. }) = schema.validate(&json!({})) else {
//!     panic!("empty traits must be refused");
//! };
//! assert_eq!((violations[0].pointer.as_str(), violations[0].code), ("/traits/email", ViolationCode::Required));
//! # Ok::<(), identity_schema::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Outside tests, input that may be missing or wrong gets a typed error, never a panic; clippy holds every
// unwrap and expect of the crate's code to that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod derive;
mod error;
mod extension;
mod pointer;
mod registry;
mod schema;
mod violation;

pub use derive::{Address, DerivedTraits};
pub use error::Error;
pub use registry::SchemaRegistry;
pub use schema::IdentitySchema;
pub use violation::{Violation, ViolationCode};

/// The workspace README's embedding example, compiled as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;
