//! Storage for the identity platform: one async trait per aggregate, usable as `Arc<dyn ...>`, and the backends
//! that implement them: [`MemoryStore`] (always compiled), and SQLite and PostgreSQL through
//! [`SqlStore`](sql::SqlStore) (features `sqlite` and `postgres`). Nothing outside this crate names a database.
//!
//! Every backend keeps the same invariants (unique login identifiers under concurrency, atomic writes, cascade
//! deletes, single-use tokens and codes, lookups by hash only, typed errors), and proves it by passing the
//! conformance suite in [`testing`] (feature `testing`), which an embedder's own backend can run too.
//!
//! ```
//! use std::sync::Arc;
//! use identity_core::{Identity, time::OffsetDateTime};
//! use identity_store::{IdentityStore, MemoryStore, Store};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let ada = Identity::new("default", serde_json::json!({"email": "ada@example.com"}), OffsetDateTime::now_utc())?;
//! store.create_identity(&ada).await?;
//! assert_eq!(store.identity(ada.id).await?.traits["email"], "ada@example.com");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Outside tests, input that may be missing or wrong gets a typed error, never a panic; clippy holds every
// unwrap and expect of the crate's code to that.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod code;
mod enrollment;
mod error;
mod flow;
mod identity;
mod memory;
mod oauth2;
mod page;
mod rbac;
mod session;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;
mod throttle;

pub use code::{CodePurpose, CodeStore, OneTimeCode};
pub use enrollment::EnrollmentStore;
pub use error::Error;
pub use flow::{FlowRecord, FlowStore};
pub use identity::{
    AddressKind, IdentityFilter, IdentityStore, MAX_DOCUMENT_BYTES, check_identity, is_case_sensitive,
    is_login_credential, login_identifiers, normalize_address, normalize_identifier, unique_keys,
};
pub use memory::MemoryStore;
pub use oauth2::{ClientRecord, OAuth2Store, StoredDocument, TokenKind, TokenRecord};
pub use page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest, PageToken};
pub use rbac::RbacStore;
pub use session::SessionStore;
pub use throttle::{Failures, ThrottleStore};

/// Everything a backend stores: one object implementing every aggregate's trait. Servers hold an
/// `Arc<dyn Store>` chosen at run time from configuration, and hand narrower views (`Arc<dyn SessionStore>`)
/// to the code that needs only one aggregate.
pub trait Store:
    IdentityStore + SessionStore + FlowStore + EnrollmentStore + CodeStore + ThrottleStore + RbacStore + OAuth2Store
{
}

impl<T> Store for T where
    T: IdentityStore + SessionStore + FlowStore + EnrollmentStore + CodeStore + ThrottleStore + RbacStore + OAuth2Store
{
}
