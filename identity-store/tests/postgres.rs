//! The conformance suite on PostgreSQL, each test in a fresh schema, when `IDENTITY_TEST_POSTGRES_URL` is set;
//! without it every test says it was skipped and passes.

#![cfg(feature = "postgres")]

use std::sync::Arc;

use identity_store::Error;
use identity_store::sql::{SqlOptions, SqlStore};
use identity_store::testing::{self, Inspect};

fn url() -> Option<String> {
    static SAID: std::sync::Once = std::sync::Once::new();
    let url = std::env::var("IDENTITY_TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty());
    if url.is_none() {
        // Written to stderr directly, not with `eprintln!`, so the test harness does not swallow it.
        SAID.call_once(|| {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: IDENTITY_TEST_POSTGRES_URL is not set, so the PostgreSQL tests pass without running"
            );
        });
    }
    url
}

fn options(url: &str, schema: &str) -> SqlOptions {
    let mut options = SqlOptions::new(url);
    options.schema = Some(schema.to_owned());
    options.max_connections = 8;
    options
}

/// A store in a schema of its own, so runs and tests never collide.
async fn fresh(url: &str) -> (SqlStore, String) {
    let schema = format!("identity_test_{}", uuid::Uuid::new_v4().simple());
    let store = SqlStore::connect(&options(url, &schema)).await.unwrap();
    store.migrate().await.unwrap();
    (store, schema)
}

identity_store::conformance_tests!(async {
    let url = url()?;
    Some(Arc::new(fresh(&url).await.0) as Arc<dyn Inspect>)
});

#[tokio::test]
async fn migrations_are_idempotent_and_refuse_a_newer_schema() {
    let Some(url) = url() else { return };
    let (store, schema) = fresh(&url).await;
    store.migrate().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), identity_store::sql::LATEST_VERSION);
    identity_store::sql::testing_support::execute(&store, "INSERT INTO identity_store_migrations VALUES (999, 0)")
        .await
        .unwrap();
    let again = SqlStore::connect(&options(&url, &schema)).await.unwrap();
    assert!(matches!(again.migrate().await, Err(Error::SchemaTooNew { found: 999, .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_mid_load_returns_unavailable_and_leaves_no_partial_identity() {
    let Some(url) = url() else { return };
    let (store, schema) = fresh(&url).await;
    let store = Arc::new(store);
    let closing = store.clone();
    let outcomes = testing::create_while_closing(store.clone(), async move { closing.close().await }).await;
    let reopened = SqlStore::connect(&options(&url, &schema)).await.unwrap();
    testing::assert_whole_or_absent(&reopened, &outcomes).await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let mut options = SqlOptions::new("postgres://postgres@127.0.0.1:1/postgres");
    options.acquire_timeout = std::time::Duration::from_secs(2);
    let err = SqlStore::connect(&options).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}
