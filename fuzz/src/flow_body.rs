//! Fuzz target `flow_body`: the input as a self-service submission body, JSON or form as its first byte picks, read
//! by the server's body reader (`identity_server::http::body_object`) and submitted, as the server does, to a
//! registration, a login, a recovery, a verification and (when the registration signed in) a settings flow over a
//! fresh memory store. Nothing but an object of traits may ever become an identity.

use std::sync::{Arc, OnceLock};

use axum::http::{HeaderMap, HeaderValue, header};
use identity_auth::{
    Argon2Params, Authenticator, FlowRequest, FlowType, HashAlgorithm, HasherConfig, LoginRequest, PasswordHasher,
    RecordingCourier, SelfService, SelfServiceParts, SelfServiceSettings, SessionSettings, Sessions, Submission,
};
use identity_core::time::OffsetDateTime;
use identity_core::{Clock, SecretBytes, TestClock};
use identity_schema::{IdentitySchema, SchemaRegistry};
use identity_store::{MemoryStore, Store};
use serde_json::Value;

const SCHEMA: &str = include_str!("../../examples/server/src/default.schema.json");
const CONTENT_TYPES: [&str; 4] =
    ["application/json", "application/x-www-form-urlencoded", "application/json; charset=utf-8", "text/plain"];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => panic!("a runtime must start: {e}"),
    })
}

/// Built once: hashing parameters and the schema do not change between inputs, the store does.
fn fixed() -> &'static (Arc<PasswordHasher>, Arc<SchemaRegistry>) {
    static FIXED: OnceLock<(Arc<PasswordHasher>, Arc<SchemaRegistry>)> = OnceLock::new();
    FIXED.get_or_init(|| {
        let config = HasherConfig {
            algorithm: HashAlgorithm::Argon2id,
            argon2: Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 },
            bcrypt_cost: 4,
        };
        let hasher = PasswordHasher::new(config).unwrap_or_else(|e| panic!("the fixed hasher must build: {e}"));
        let schema = IdentitySchema::from_json_str("default", SCHEMA)
            .unwrap_or_else(|e| panic!("the server's default schema must load: {e}"));
        (Arc::new(hasher), Arc::new(SchemaRegistry::new(schema)))
    })
}

fn service(store: Arc<dyn Store>) -> SelfService {
    let (hasher, schemas) = fixed();
    // 2026-06-01, fixed so that a replayed input behaves as it did under the fuzzer.
    let clock: Arc<dyn Clock> = Arc::new(TestClock::new(
        OffsetDateTime::from_unix_timestamp(1_780_272_000).unwrap_or(OffsetDateTime::UNIX_EPOCH),
    ));
    let authenticator = Arc::new(Authenticator::new(store.clone(), clock.clone(), hasher.clone()));
    let sessions = Sessions::new(store.clone(), clock.clone(), SessionSettings::default())
        .unwrap_or_else(|e| panic!("sessions must build: {e}"));
    let parts = SelfServiceParts {
        store,
        clock,
        authenticator,
        sessions: Arc::new(sessions),
        schemas: schemas.clone(),
        courier: Arc::new(RecordingCourier::new()),
        code_key: SecretBytes::new(vec![9; 32]),
    };
    SelfService::new(parts, SelfServiceSettings::default()).unwrap_or_else(|e| panic!("self-service must build: {e}"))
}

/// The submission the server makes of a body: its `method` (`password` when absent), the rest as fields.
fn submission(mut fields: Value) -> Submission {
    let method = fields.get("method").and_then(Value::as_str).unwrap_or("password").to_owned();
    if let Value::Object(map) = &mut fields {
        map.remove("method");
        map.remove("csrf_token");
    }
    Submission::new(&method, fields)
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else { return };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPES[usize::from(selector) % 4]));
    let Ok(fields) = identity_server::http::body_object(&headers, body) else { return };
    assert!(fields.is_object(), "a body was read as something other than an object: {fields}");
    runtime().block_on(submit_everywhere(submission(fields)));
}

async fn submit_everywhere(submission: Submission) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let service = service(store.clone());
    let request = FlowRequest::new(FlowType::Api, "https://id.example/self-service");
    let mut session_token = None;
    if let Ok(created) = service.create_registration(&request).await
        && let Ok(submitted) = service.submit_registration(created.flow.id, submission.clone()).await
    {
        session_token = submitted.done().and_then(|registered| registered.session).map(|issued| issued.token);
    }
    let login = LoginRequest { flow: request.clone(), session_token: None };
    if let Ok(created) = service.create_login(&login).await {
        let _ = service.submit_login(created.flow.id, submission.clone()).await;
    }
    if let Some(token) = session_token
        && let Ok(created) = service.create_settings(&request, token.expose_secret()).await
    {
        let _ = service.submit_settings(created.flow.id, submission.clone().with_session(token.expose_secret())).await;
    }
    if let Ok(created) = service.create_recovery(&request).await {
        let _ = service.submit_recovery(created.flow.id, submission.clone()).await;
    }
    if let Ok(created) = service.create_verification(&request).await {
        let _ = service.submit_verification(created.flow.id, submission).await;
    }
    if let Ok(page) = store.list_identities(&Default::default(), &Default::default()).await {
        for identity in page.items {
            assert!(identity.traits.is_object(), "an identity was made of traits {}", identity.traits);
        }
    }
}
