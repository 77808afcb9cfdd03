//! The identity platform's reference server and admin CLI: the crates of this workspace assembled behind a
//! Kratos-compatible HTTP API, with a public and an admin listener.
//!
//! The server arrives with the server issue; until then this package is empty on purpose. Meanwhile
//! `cargo run -p identity-schema --example validate` shows the schema crate at work.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
