//! The conformance suite against the in-memory store: every check of `identity_store::testing`, each in a fresh
//! `MemoryStore`. Needs the `testing` feature (`cargo test -p identity-store --features testing`).
#![cfg(feature = "testing")]

identity_store::conformance_tests!(async {
    Some(std::sync::Arc::new(identity_store::MemoryStore::new()) as std::sync::Arc<dyn identity_store::testing::Inspect>)
});
