//! The identity platform's reference server and admin CLI: the crates of this workspace assembled behind a
//! Kratos-compatible HTTP API, with a public listener (self-service flows, sessions) and an admin listener
//! (identities, sessions, recovery codes), configured by one YAML file plus `IDENTITY_*` variables.
//!
//! ```no_run
//! # async fn run() -> Result<(), identity_server::state::StartError> {
//! let config = identity_server::config::Config::from_value(
//!     serde_json::json!({ "dsn": "memory", "serve": { "public": { "port": 0 }, "admin": { "port": 0 } } }),
//!     std::iter::empty(),
//! )?;
//! let running = identity_server::server::start(config).await?;
//! println!("public API at http://{}", running.public);
//! running.stop().await;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Outside tests, input that may be missing or wrong gets a typed error, never a panic; clippy holds every
// unwrap and expect of the crate's code to that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod admin_api;
pub mod certificate_login;
pub mod certificates;
pub mod cli;
pub mod client_verifier;
pub mod config;
pub mod courier;
pub mod decisions;
pub mod enrollment_api;
pub mod error;
pub mod federation;
mod flows;
pub mod http;
pub mod listen;
pub mod metrics;
pub mod mtls;
pub mod oauth2;
pub mod openapi;
pub mod public;
pub mod rbac_api;
pub mod rbac_seed;
pub mod server;
pub mod state;
