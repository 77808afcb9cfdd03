//! The store's hot paths on each backend, each beside a baseline measured in the same run: session lookup by
//! token hash (with its identity, as every authenticated request does) and identity by id, against a bare
//! `HashMap` lookup for memory and a bare `SELECT 1` round trip for SQLite and PostgreSQL; and identity creation.
//!
//! PostgreSQL runs when `IDENTITY_TEST_POSTGRES_URL` is set.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use identity_core::{
    AssuranceLevel, AuthenticationMethod, CredentialType, Identity, Session, TokenHash, time::Duration,
    time::OffsetDateTime,
};
use identity_store::sql::{SqlOptions, SqlStore, testing_support};
use identity_store::{IdentityStore, MemoryStore, SessionStore, Store, testing};
use tokio::runtime::Runtime;

fn session_for(identity: &Identity, hash: TokenHash) -> Session {
    let method = AuthenticationMethod {
        method: CredentialType::Password,
        aal: AssuranceLevel::Aal1,
        completed_at: identity.created_at,
    };
    Session::new(identity.id, hash, vec![method], identity.created_at, Duration::days(365)).unwrap()
}

/// Fills `store` with 1,000 identities and a session each; returns one identity and its session's hash.
async fn seed(store: &dyn Store) -> (Identity, TokenHash) {
    let mut picked = None;
    for n in 0..1000u32 {
        let identity = testing::identity_with_email(&format!("user-{n}@example.com"));
        let mut digest = [0u8; 32];
        digest[..4].copy_from_slice(&n.to_be_bytes());
        let hash = TokenHash::from_bytes(digest);
        store.create_identity(&identity).await.unwrap();
        store.insert_session(&session_for(&identity, hash)).await.unwrap();
        if n == 500 {
            picked = Some((identity, hash));
        }
    }
    picked.unwrap()
}

async fn sqlite() -> SqlStore {
    let path = std::env::temp_dir().join(format!("identity-bench-{}.db", uuid::Uuid::new_v4()));
    let store = SqlStore::connect(&SqlOptions::new(format!("sqlite://{}", path.display()))).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn postgres() -> Option<SqlStore> {
    let url = std::env::var("IDENTITY_TEST_POSTGRES_URL").ok()?;
    let mut options = SqlOptions::new(url);
    options.schema = Some(format!("identity_bench_{}", uuid::Uuid::new_v4().simple()));
    let store = SqlStore::connect(&options).await.unwrap();
    store.migrate().await.unwrap();
    Some(store)
}

fn lookups(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut group = c.benchmark_group("store_lookup");

    let memory = Arc::new(MemoryStore::new());
    let (identity, hash) = runtime.block_on(seed(memory.as_ref()));
    let session = session_for(&identity, hash);
    let bare: HashMap<TokenHash, (Session, Identity)> = HashMap::from([(hash, (session, identity.clone()))]);
    group
        .bench_function("memory/bare_hashmap_get_clone", |b| b.iter(|| black_box(bare.get(black_box(&hash)).cloned())));
    group.bench_function("memory/session_with_identity", |b| {
        b.to_async(&runtime).iter(|| async { black_box(memory.find_session_with_identity(&hash).await.unwrap()) })
    });
    group.bench_function("memory/identity_by_id", |b| {
        b.to_async(&runtime).iter(|| async { black_box(memory.identity(identity.id).await.unwrap()) })
    });

    let mut sql = vec![("sqlite", runtime.block_on(sqlite()))];
    if let Some(store) = runtime.block_on(postgres()) {
        sql.push(("postgres", store));
    }
    for (name, store) in &sql {
        let (identity, hash) = runtime.block_on(seed(store));
        group.bench_function(format!("{name}/bare_select_1"), |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(testing_support::execute(store, "SELECT 1").await.unwrap()) })
        });
        group.bench_function(format!("{name}/session_with_identity"), |b| {
            b.to_async(&runtime).iter(|| async { black_box(store.find_session_with_identity(&hash).await.unwrap()) })
        });
        group.bench_function(format!("{name}/identity_by_id"), |b| {
            b.to_async(&runtime).iter(|| async { black_box(store.identity(identity.id).await.unwrap()) })
        });
    }
    group.finish();
}

fn creation(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut group = c.benchmark_group("store_create_identity");
    let counter = AtomicU64::new(0);
    let fresh = || {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let mut identity = testing::identity_with_email(&format!("new-{n}@example.com"));
        identity.created_at = OffsetDateTime::now_utc();
        identity.updated_at = identity.created_at;
        identity
    };
    let mut stores: Vec<(&str, Arc<dyn Store>)> =
        vec![("memory", Arc::new(MemoryStore::new())), ("sqlite", Arc::new(runtime.block_on(sqlite())))];
    if let Some(store) = runtime.block_on(postgres()) {
        stores.push(("postgres", Arc::new(store)));
    }
    for (name, store) in &stores {
        group.bench_function(*name, |b| {
            b.to_async(&runtime).iter(|| async { store.create_identity(&fresh()).await.unwrap() })
        });
    }
    group.finish();
}

criterion_group!(benches, lookups, creation);
criterion_main!(benches);
