//! The session check, the hot path of every authenticated request, beside its bare parts measured in the same
//! run: SHA-256 of the token plus the store read of the session with its identity.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use identity_auth::{ClientInfo, RequiredAal, SessionSettings, Sessions, hash_token};
use identity_core::{AssuranceLevel, AuthenticationMethod, CredentialType, SystemClock};
use identity_store::sql::{SqlOptions, SqlStore};
use identity_store::{MemoryStore, Store, testing};
use tokio::runtime::Runtime;

async fn sqlite() -> Arc<dyn Store> {
    let path = std::env::temp_dir().join(format!("identity-bench-session-{}.db", uuid::Uuid::new_v4()));
    let store = SqlStore::connect(&SqlOptions::new(format!("sqlite://{}", path.display()))).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

fn session_check(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let mut group = c.benchmark_group("session_check");
    let stores: Vec<(&str, Arc<dyn Store>)> =
        vec![("memory", Arc::new(MemoryStore::new())), ("sqlite", runtime.block_on(sqlite()))];
    for (name, store) in stores {
        let sessions = Sessions::new(store.clone(), Arc::new(SystemClock), SessionSettings::default()).unwrap();
        let token = runtime.block_on(async {
            let identity = testing::identity_with_email("ada@example.com");
            store.create_identity(&identity).await.unwrap();
            let methods = vec![AuthenticationMethod {
                method: CredentialType::Password,
                aal: AssuranceLevel::Aal1,
                completed_at: identity.created_at,
            }];
            sessions.issue(&identity, methods, ClientInfo::default()).await.unwrap().token
        });
        let token = token.expose_secret().to_owned();
        group.bench_function(format!("{name}/bare_sha256_and_store_read"), |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(store.find_session_with_identity(&hash_token(&token)).await.unwrap()) })
        });
        group.bench_function(format!("{name}/sessions_check"), |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(sessions.check(&token, RequiredAal::HighestAvailable).await.unwrap()) })
        });
    }
    group.finish();
}

criterion_group!(benches, session_check);
criterion_main!(benches);
