//! identity-oidc's token hot paths beside the bare jsonwebtoken calls they wrap, for ES256, EdDSA and RS256, with
//! the same key and the same claims, measured in the same run:
//!
//! - `issue/<alg>`: `SigningKey::sign` (our header with `typ: at+jwt` and `kid`) beside a bare
//!   `jsonwebtoken::encode`, and the whole client-credentials token request (`Provider::token`: client lookup,
//!   secret check, signing, recording the `jti` in the memory store) for the end-to-end cost;
//! - `verify/<alg>`: `Provider::verify_access_token` (header checks, key by `kid`, signature, `iss`/`aud`/`exp`
//!   against the provider's clock) beside a bare `jsonwebtoken::decode` validating `iss`, `aud` and `exp`.
//!
//! Keys are made at bench start; nothing is persisted.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use identity_core::{SecretString, SystemClock};
use identity_oidc::{
    AccessTokenClaims, ClientRegistration, GrantType, KeySet, Provider, ProviderSettings, SigningAlgorithm, SigningKey,
    TokenEndpointAuthMethod, TokenRequest,
};
use jsonwebtoken::Validation;

const ISSUER: &str = "https://id.example";
const ALGORITHMS: [SigningAlgorithm; 3] = [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA, SigningAlgorithm::RS256];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

/// A provider over the memory store with one client-credentials client; returns it with the client's token request.
fn provider(runtime: &tokio::runtime::Runtime, algorithm: SigningAlgorithm) -> (Provider, TokenRequest) {
    let store: Arc<dyn identity_store::Store> = Arc::new(identity_store::MemoryStore::new());
    let keys = KeySet::generate(algorithm).unwrap();
    let provider = Provider::new(store, Arc::new(SystemClock), keys, ProviderSettings::new(ISSUER));
    let registered = runtime
        .block_on(provider.clients().create(ClientRegistration {
            client_id: Some("bench".into()),
            client_name: "bench".into(),
            redirect_uris: vec![],
            grant_types: vec![GrantType::ClientCredentials],
            scope: "api:read api:write".into(),
            token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretPost,
            login_uri: None,
            allowed_cors_origins: vec![],
            tls_client_auth_subject_dn: None,
        }))
        .unwrap();
    let request = TokenRequest {
        grant_type: Some("client_credentials".into()),
        client_id: Some("bench".into()),
        client_secret: registered.secret.map(|s| SecretString::new(s.expose_once())),
        ..Default::default()
    };
    (provider, request)
}

fn claims(
    provider: &Provider,
    runtime: &tokio::runtime::Runtime,
    request: &TokenRequest,
) -> (String, AccessTokenClaims) {
    let token = runtime.block_on(provider.token(request, None)).unwrap().access_token;
    let claims = provider.verify_access_token(&token, ISSUER).unwrap();
    (token, claims)
}

fn issue(c: &mut Criterion) {
    let runtime = runtime();
    for algorithm in ALGORITHMS {
        let (provider, request) = provider(&runtime, algorithm);
        let (_, claims) = claims(&provider, &runtime, &request);
        let keys = provider.keys();
        let key: &SigningKey = keys.current();
        let header = key.header("at+jwt");
        let mut group = c.benchmark_group(format!("issue/{}", algorithm.as_str()));
        group.bench_function("jsonwebtoken_encode", |b| {
            b.iter(|| jsonwebtoken::encode(black_box(&header), black_box(&claims), key.encoding_key()).unwrap())
        });
        group.bench_function("signing_key_sign", |b| b.iter(|| key.sign("at+jwt", black_box(&claims)).unwrap()));
        group.bench_function("provider_token_client_credentials", |b| {
            b.to_async(&runtime).iter(|| async { provider.token(black_box(&request), None).await.unwrap() })
        });
        group.finish();
    }
}

fn verify(c: &mut Criterion) {
    let runtime = runtime();
    for algorithm in ALGORITHMS {
        let (provider, request) = provider(&runtime, algorithm);
        let (token, _) = claims(&provider, &runtime, &request);
        let keys = provider.keys();
        let key = keys.current();
        let mut validation = Validation::new(algorithm.jwt_algorithm());
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[ISSUER]);
        validation.leeway = 0;
        assert!(jsonwebtoken::decode::<AccessTokenClaims>(&token, key.decoding_key(), &validation).is_ok());
        let mut group = c.benchmark_group(format!("verify/{}", algorithm.as_str()));
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<AccessTokenClaims>(black_box(&token), key.decoding_key(), &validation).unwrap()
            })
        });
        group.bench_function("provider_verify_access_token", |b| {
            b.iter(|| provider.verify_access_token(black_box(&token), ISSUER).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, issue, verify);
criterion_main!(benches);
