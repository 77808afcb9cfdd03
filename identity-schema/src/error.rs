//! The one error type of this crate.

use std::path::PathBuf;

use crate::violation::Violation;

/// Why a schema could not be loaded, or why traits do not satisfy it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The schema file could not be read.
    #[error("cannot read identity schema {path}: {source}")]
    Read {
        /// The file's path.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A `base64://` location does not hold base64.
    #[error("identity schema location `base64://...` is not valid base64")]
    Base64,
    /// The schema is not JSON.
    #[error("identity schema `{id}` is not valid JSON: {source}")]
    NotJson {
        /// The schema's id.
        id: String,
        /// The parser's explanation.
        source: serde_json::Error,
    },
    /// The schema refers to a document outside itself. Schemas are compiled without network or file access, so
    /// such references are refused; inline the referenced definitions instead.
    #[error(
        "identity schema `{id}` refers to `{reference}` at `{pointer}`; only references within the schema are allowed"
    )]
    RemoteReference {
        /// The schema's id.
        id: String,
        /// The reference as written.
        reference: String,
        /// Where in the schema it is (a JSON pointer).
        pointer: String,
    },
    /// A local reference points at nothing.
    #[error("identity schema `{id}` refers to `{reference}`, which it does not contain")]
    DanglingReference {
        /// The schema's id.
        id: String,
        /// The reference as written.
        reference: String,
    },
    /// The schema breaks one of Kratos' rules for identity schemas.
    #[error("identity schema `{id}` breaks a rule at `{pointer}`: {rule}")]
    MetaRule {
        /// The schema's id.
        id: String,
        /// Where (a JSON pointer into the schema).
        pointer: String,
        /// The rule.
        rule: &'static str,
    },
    /// An `ory.sh/kratos` extension block is malformed (an unknown key, a wrong type, a missing `via`).
    #[error("identity schema `{id}` has a bad `ory.sh/kratos` extension at `{pointer}`: {message}")]
    Extension {
        /// The schema's id.
        id: String,
        /// Where the extension block is (a JSON pointer into the schema).
        pointer: String,
        /// What is wrong with it.
        message: String,
    },
    /// The JSON Schema compiler refused the schema (not valid against its meta-schema, a bad regex, ...).
    #[error("identity schema `{id}` does not compile: {message}")]
    Compile {
        /// The schema's id.
        id: String,
        /// The compiler's explanation.
        message: String,
    },
    /// The traits do not satisfy the schema. Every violation is listed, not only the first.
    #[error("the traits do not match identity schema `{schema_id}` ({} violation(s))", violations.len())]
    InvalidTraits {
        /// The schema's id.
        schema_id: String,
        /// Every violation found.
        violations: Vec<Violation>,
    },
    /// No schema with this id is registered.
    #[error("unknown identity schema `{id}`")]
    UnknownSchema {
        /// The id asked for.
        id: String,
    },
    /// Two schemas with one id were registered.
    #[error("identity schema `{id}` is registered twice")]
    DuplicateSchema {
        /// The id.
        id: String,
    },
}
