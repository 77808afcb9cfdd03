//! The conformance suite on SQLite files, plus what only a file-backed store can show: reopening, migrations,
//! a closed pool.

#![cfg(feature = "sqlite")]

use std::sync::Arc;

use identity_core::{Identity, IdentityId, time::OffsetDateTime};
use identity_store::sql::{SqlOptions, SqlStore};
use identity_store::testing::{self, Inspect};
use identity_store::{Error, IdentityFilter, IdentityStore};

fn fresh_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("identity-store-{}.db", uuid::Uuid::new_v4()))
}

async fn open(path: &std::path::Path) -> SqlStore {
    let store = SqlStore::connect(&SqlOptions::new(format!("sqlite://{}", path.display()))).await.unwrap();
    store.migrate().await.unwrap();
    store
}

identity_store::conformance_tests!(async { Some(Arc::new(open(&fresh_path()).await) as Arc<dyn Inspect>) });

#[tokio::test]
async fn a_reopened_file_finds_everything_written_before() {
    let path = fresh_path();
    let ada = testing::identity_with_email("ada@example.com");
    {
        let store = open(&path).await;
        store.create_identity(&ada).await.unwrap();
        store.close().await;
    }
    let store = open(&path).await;
    assert_eq!(store.identity(ada.id).await.unwrap(), ada);
    let found = store.find_identity_by_identifier(identity_core::CredentialType::Password, "ADA@example.com").await;
    assert_eq!(found.unwrap().map(|i| i.id), Some(ada.id));
}

#[tokio::test]
async fn an_in_memory_database_works_and_is_private() {
    let first = SqlStore::connect(&SqlOptions::new("sqlite::memory:")).await.unwrap();
    first.migrate().await.unwrap();
    let second = SqlStore::connect(&SqlOptions::new("sqlite::memory:")).await.unwrap();
    second.migrate().await.unwrap();
    let ada = testing::identity_with_email("ada@example.com");
    first.create_identity(&ada).await.unwrap();
    assert!(matches!(second.identity(ada.id).await, Err(Error::NotFound { .. })));
    assert_eq!(first.identity(ada.id).await.unwrap().id, ada.id);
}

#[tokio::test]
async fn migrations_are_idempotent_and_versioned() {
    let store = SqlStore::connect(&SqlOptions::new(format!("sqlite://{}", fresh_path().display()))).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), 0);
    assert!(matches!(store.check_schema().await, Err(Error::SchemaTooOld { found: 0, .. })));
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), identity_store::sql::LATEST_VERSION);
    store.check_schema().await.unwrap();
}

#[tokio::test]
async fn a_database_newer_than_the_code_is_refused() {
    let path = fresh_path();
    let store = open(&path).await;
    store.close().await;
    // Pretend a newer build migrated this file.
    {
        let raw = SqlStore::connect(&SqlOptions::new(format!("sqlite://{}", path.display()))).await.unwrap();
        identity_store::sql::testing_support::execute(&raw, "INSERT INTO identity_store_migrations VALUES (999, 0)")
            .await
            .unwrap();
        raw.close().await;
    }
    let store = SqlStore::connect(&SqlOptions::new(format!("sqlite://{}", path.display()))).await.unwrap();
    assert!(matches!(store.check_schema().await, Err(Error::SchemaTooNew { found: 999, .. })));
    match store.migrate().await {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!(found, 999);
            assert_eq!(supported, identity_store::sql::LATEST_VERSION);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_urls_are_typed_errors() {
    let err = SqlStore::connect(&SqlOptions::new("mysql://localhost/db")).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { field: "url", .. }), "{err}");
    let err = SqlStore::connect(&SqlOptions::new("sqlite:///no/such/dir/at/all/x.db")).await.unwrap_err();
    assert!(err.is_retryable() || matches!(err, Error::Backend { .. }), "{err}");
}

#[tokio::test]
async fn a_closed_pool_is_unavailable_not_a_panic() {
    let store = open(&fresh_path()).await;
    store.close().await;
    let err = store.identity(IdentityId::new()).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }) && err.is_retryable(), "{err}");
    let ada = Identity::new("default", serde_json::json!({}), OffsetDateTime::now_utc()).unwrap();
    assert!(matches!(store.create_identity(&ada).await, Err(Error::Unavailable { .. })));
    assert!(matches!(store.count_identities(&IdentityFilter::default()).await, Err(Error::Unavailable { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_mid_load_leaves_no_partial_identity() {
    let path = fresh_path();
    let store = Arc::new(open(&path).await);
    let closing = store.clone();
    let outcomes = testing::create_while_closing(store.clone(), async move { closing.close().await }).await;
    let reopened = open(&path).await;
    testing::assert_whole_or_absent(&reopened, &outcomes).await;
}

#[tokio::test]
async fn a_row_that_does_not_decode_is_corrupt_not_a_panic() {
    let store = open(&fresh_path()).await;
    let ada = testing::identity_with_email("ada@example.com");
    store.create_identity(&ada).await.unwrap();
    let sql = format!("UPDATE identities SET document = '{{\"id\": 42}}' WHERE id = '{}'", ada.id);
    assert_eq!(identity_store::sql::testing_support::execute(&store, &sql).await.unwrap(), 1);
    match store.identity(ada.id).await {
        Err(Error::Corrupt { what, id, .. }) => assert_eq!((what, id), ("identity", ada.id.to_string())),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let listed = store.list_identities(&IdentityFilter::default(), &identity_store::PageRequest::default()).await;
    assert!(matches!(listed, Err(Error::Corrupt { .. })));
}

#[test]
fn options_never_show_a_database_password() {
    let options = SqlOptions::new("postgres://app:s3cr3t-pw@db.internal:5432/identity");
    let shown = format!("{options:?}");
    assert!(!shown.contains("s3cr3t-pw"), "{shown}");
    assert!(shown.contains("postgres://app:***@db.internal:5432/identity"), "{shown}");
    assert_eq!(identity_store::sql::redact_password("sqlite://x.db"), "sqlite://x.db");
}

#[tokio::test]
async fn migrating_to_version_2_indexes_the_addresses_of_stored_identities() {
    use identity_core::{AddressVia, RecoveryAddress, VerifiableAddress};
    use identity_store::AddressKind;
    use identity_store::sql::testing_support::execute;
    let store = open(&fresh_path()).await;
    let now = OffsetDateTime::UNIX_EPOCH;
    let mut ada = testing::identity_with_email("ada@example.com");
    ada.recovery_addresses.push(RecoveryAddress::new("ada@example.com", AddressVia::Email, now).unwrap());
    ada.verifiable_addresses.push(VerifiableAddress::new("ada@example.com", AddressVia::Email, now).unwrap());
    let mut twin = testing::identity_with_email("twin@example.com");
    twin.recovery_addresses.push(RecoveryAddress::new("twin@example.com", AddressVia::Email, now).unwrap());
    store.create_identity(&ada).await.unwrap();
    store.create_identity(&twin).await.unwrap();
    // Back to version 1, where addresses were not indexed.
    execute(&store, "DELETE FROM identity_identifiers WHERE credential_type LIKE '%_address'").await.unwrap();
    execute(&store, "DELETE FROM identity_store_migrations WHERE version >= 2").await.unwrap();
    execute(&store, "DROP TABLE oauth2_documents").await.unwrap();
    assert!(store.find_identity_by_address(AddressKind::Recovery, "ada@example.com").await.unwrap().is_none());
    assert!(matches!(store.check_schema().await, Err(Error::SchemaTooOld { found: 1, .. })));

    store.migrate().await.unwrap();
    let found = |kind, address: &'static str| {
        let store = &store;
        async move { store.find_identity_by_address(kind, address).await.unwrap().map(|i| i.id) }
    };
    assert_eq!(found(AddressKind::Recovery, "ada@example.com").await, Some(ada.id));
    assert_eq!(found(AddressKind::Verifiable, "ada@example.com").await, Some(ada.id));
    assert_eq!(found(AddressKind::Recovery, "twin@example.com").await, Some(twin.id));
    store.check_schema().await.unwrap();
}
