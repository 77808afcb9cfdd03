//! Fuzz target `oauth2`: the input as an authorization request's query string and a token request's form (the
//! server parses both with `serde_urlencoded`), handled by an identity-oidc provider over a fresh memory store with
//! a signed-in user and three clients; as an `Authorization: Basic` header value; and as an access token to verify,
//! introspect and answer userinfo for.
//!
//! So that the fuzzer can reach past client authentication and the code exchange, a token request's `code` of
//! `CODE` and `client_secret` of `SECRET` are replaced with the code the authorization request was just issued and
//! the client's real secret.

use std::sync::{Arc, OnceLock};

use identity_core::time::{Duration, OffsetDateTime};
use identity_core::{
    AddressVia, AssuranceLevel, AuthenticationMethod, Clock, CredentialType, Identity, IdentityState, SecretString,
    Session, TestClock, TokenHash, VerifiableAddress,
};
use identity_oidc::{
    Authenticated, Authorization, AuthorizationRequest, BasicCredentials, ClientRegistration, GrantType, KeySet,
    Provider, ProviderSettings, SigningAlgorithm, TokenEndpointAuthMethod, TokenRequest,
};
use identity_store::{MemoryStore, Store};

const REDIRECT: &str = "https://app.example/callback";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => panic!("a runtime must start: {e}"),
    })
}

struct World {
    provider: Provider,
    identity: Identity,
    session: Session,
    /// The secrets of the confidential clients `backend` (basic) and `poster` (post).
    secrets: Vec<(String, String)>,
}

fn fail<T>(what: &str, error: impl std::fmt::Display) -> T {
    panic!("{what}: {error}")
}

async fn world() -> World {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // 2026-06-01, fixed so that a replayed input behaves as it did under the fuzzer.
    let now = OffsetDateTime::from_unix_timestamp(1_780_272_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let clock: Arc<dyn Clock> = Arc::new(TestClock::new(now));
    let keys = KeySet::generate(SigningAlgorithm::ES256).unwrap_or_else(|e| fail("keys", e));
    let provider = Provider::new(store.clone(), clock, keys, ProviderSettings::new("https://id.example"));
    let traits = serde_json::json!({"email": "ada@example.com", "name": {"first": "Ada"}});
    let mut identity = Identity::new("default", traits, now).unwrap_or_else(|e| fail("identity", e));
    identity.state = IdentityState::Active;
    let address =
        VerifiableAddress::new("ada@example.com", AddressVia::Email, now).unwrap_or_else(|e| fail("address", e));
    identity.verifiable_addresses.push(address);
    store.create_identity(&identity).await.unwrap_or_else(|e| fail("storing the identity", e));
    let step = AuthenticationMethod { method: CredentialType::Password, aal: AssuranceLevel::Aal1, completed_at: now };
    let session = Session::new(identity.id, TokenHash::from_bytes([9; 32]), vec![step], now, Duration::hours(24))
        .unwrap_or_else(|e| fail("session", e));
    let all = vec![GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials];
    let mut secrets = Vec::new();
    for (id, method, grants) in [
        ("spa", TokenEndpointAuthMethod::None, vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
        ("backend", TokenEndpointAuthMethod::ClientSecretBasic, all.clone()),
        ("poster", TokenEndpointAuthMethod::ClientSecretPost, all.clone()),
    ] {
        let registration = ClientRegistration {
            client_id: Some(id.into()),
            client_name: id.into(),
            redirect_uris: vec![REDIRECT.into()],
            grant_types: grants,
            scope: "openid profile email offline_access api:read".into(),
            token_endpoint_auth_method: method,
            login_uri: None,
            allowed_cors_origins: vec![],
            tls_client_auth_subject_dn: None,
        };
        let registered = provider.clients().create(registration).await.unwrap_or_else(|e| fail("client", e));
        if let Some(secret) = registered.secret {
            secrets.push((id.to_owned(), secret.expose_once().to_owned()));
        }
    }
    World { provider, identity, session, secrets }
}

/// The `code` parameter of a redirect `location`.
fn code_in(location: &str) -> Option<String> {
    let (_, query) = location.split_once('?')?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(name, _)| name == "code").map(|(_, code)| code)
}

/// Runs one input.
pub fn run(data: &[u8]) {
    runtime().block_on(run_async(data));
}

async fn run_async(data: &[u8]) {
    let world = world().await;
    let provider = &world.provider;
    let mut code = None;
    if let Ok(request) = serde_urlencoded::from_bytes::<AuthorizationRequest>(data) {
        let _ = provider.authorize(&request, None).await;
        let signed_in = Authenticated { session: &world.session, identity: &world.identity };
        if let Ok(Authorization::Code { location }) = provider.authorize(&request, Some(signed_in)).await {
            code = code_in(&location);
            assert!(code.is_some(), "an issued code is missing from {location}");
        }
    }
    let secret_of = |client: Option<&str>| {
        world.secrets.iter().find(|(id, _)| Some(id.as_str()) == client).map(|(_, secret)| secret.clone())
    };
    if let Ok(mut request) = serde_urlencoded::from_bytes::<TokenRequest>(data) {
        if let (Some(given), Some(issued)) = (&request.code, &code)
            && given.expose_secret() == "CODE"
        {
            request.code = Some(SecretString::new(issued));
        }
        if request.client_secret.as_ref().is_some_and(|secret| secret.expose_secret() == "SECRET") {
            request.client_secret = secret_of(request.client_id.as_deref()).map(SecretString::new);
        }
        if let Ok(response) = provider.token(&request, None).await {
            let _ = provider.introspect(&response.access_token).await;
            let _ = provider.userinfo(&response.access_token).await;
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(mut basic) = BasicCredentials::from_authorization_header(text) {
            if basic.client_secret.expose_secret() == "SECRET"
                && let Some(secret) = secret_of(Some(&basic.client_id))
            {
                basic.client_secret = SecretString::new(secret);
            }
            let request = TokenRequest { grant_type: Some("client_credentials".into()), ..TokenRequest::default() };
            let _ = provider.token(&request, Some(&basic)).await;
        }
        let _ = provider.verify_access_token(text, "backend");
        let _ = provider.introspect(text).await;
        let _ = provider.userinfo(text).await;
    }
}
