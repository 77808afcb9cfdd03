//! Storage for the identity platform: async traits per aggregate (identities with their credentials, sessions,
//! flows, enrollments, RBAC objects, OAuth2 clients and grants, throttling counters, one-time codes), and the
//! backends that implement them: in-memory, SQLite (the embedded default) and PostgreSQL.
//!
//! Nothing outside this crate names a database. Its traits and the conformance suite that every backend passes
//! arrive with the store issue; until then this crate is empty on purpose.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
