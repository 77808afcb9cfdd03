//! Shared fixtures of identity-oidc's integration tests: a provider over either store, a signed-in user, a
//! public and a confidential client, and helpers for the authorization code dance.

#![allow(dead_code)]

use std::sync::Arc;

use identity_core::time::Duration;
use identity_core::{
    AddressVia, AssuranceLevel, AuthenticationMethod, Clock, CredentialType, Identity, SecretString, Session,
    TestClock, TokenHash, VerifiableAddress,
};
use identity_oidc::*;
use identity_store::Store;

pub const ISSUER: &str = "https://id.example";
pub const REDIRECT: &str = "https://app.example/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub struct World {
    pub store: Arc<dyn Store>,
    pub clock: Arc<TestClock>,
    pub provider: Provider,
    pub identity: Identity,
    pub session: Session,
    /// A public client `spa` (PKCE, refresh).
    pub public: Client,
    /// A confidential client `backend` (basic auth; code, refresh, client credentials).
    pub confidential: Client,
    pub secret: String,
    /// A confidential client `poster` using client_secret_post.
    pub poster_secret: String,
}

pub async fn world(store: Arc<dyn Store>) -> World {
    world_with(store, SigningAlgorithm::ES256).await
}

pub async fn world_with(store: Arc<dyn Store>, algorithm: SigningAlgorithm) -> World {
    let clock = Arc::new(identity_store::testing::clock());
    let keys = KeySet::generate(algorithm).unwrap();
    let provider = Provider::new(store.clone(), clock.clone(), keys, ProviderSettings::new(ISSUER));
    let traits = serde_json::json!({"email": "Ada@Example.com", "name": {"first": "Ada", "last": "Lovelace"}});
    let mut identity = Identity::new("default", traits, clock.now()).unwrap();
    let mut address = VerifiableAddress::new("ada@example.com", AddressVia::Email, clock.now()).unwrap();
    address.verified = true;
    identity.verifiable_addresses.push(address);
    store.create_identity(&identity).await.unwrap();
    let step =
        AuthenticationMethod { method: CredentialType::Password, aal: AssuranceLevel::Aal1, completed_at: clock.now() };
    let session =
        Session::new(identity.id, TokenHash::from_bytes([9; 32]), vec![step], clock.now(), Duration::hours(24))
            .unwrap();
    let registration = |id: &str, method, grants: Vec<GrantType>| ClientRegistration {
        client_id: Some(id.into()),
        client_name: id.into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: grants,
        scope: "openid profile email api:read".into(),
        token_endpoint_auth_method: method,
        login_uri: None,
        allowed_cors_origins: vec![],
        tls_client_auth_subject_dn: None,
    };
    let clients = provider.clients();
    let public = clients
        .create(registration(
            "spa",
            TokenEndpointAuthMethod::None,
            vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        ))
        .await
        .unwrap();
    assert!(public.secret.is_none());
    let all = vec![GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials];
    let confidential =
        clients.create(registration("backend", TokenEndpointAuthMethod::ClientSecretBasic, all.clone())).await.unwrap();
    let poster = clients.create(registration("poster", TokenEndpointAuthMethod::ClientSecretPost, all)).await.unwrap();
    World {
        secret: confidential.secret.as_ref().unwrap().expose_once().to_owned(),
        poster_secret: poster.secret.as_ref().unwrap().expose_once().to_owned(),
        store,
        clock,
        provider,
        identity,
        session,
        public: public.client,
        confidential: confidential.client,
    }
}

impl World {
    pub fn signed_in(&self) -> Option<Authenticated<'_>> {
        Some(Authenticated { session: &self.session, identity: &self.identity })
    }

    /// An authorization request of `client` with PKCE over [`VERIFIER`], `state` and `nonce`.
    pub fn request(&self, client: &str) -> AuthorizationRequest {
        AuthorizationRequest {
            response_type: Some("code".into()),
            client_id: Some(client.into()),
            redirect_uri: Some(REDIRECT.into()),
            scope: Some("openid profile email".into()),
            state: Some("state-123".into()),
            nonce: Some("nonce-456".into()),
            code_challenge: Some(identity_oidc::pkce::challenge_s256(VERIFIER)),
            code_challenge_method: Some("S256".into()),
            ..Default::default()
        }
    }

    /// A code for `request`, for the signed-in user.
    pub async fn code_for(&self, request: &AuthorizationRequest) -> String {
        match self.provider.authorize(request, self.signed_in()).await.unwrap() {
            Authorization::Code { location } => query(&location, "code").unwrap(),
            other => panic!("no code: {other:?}"),
        }
    }

    /// A public client's code exchange with `verifier`.
    pub fn exchange(&self, code: &str, verifier: Option<&str>) -> TokenRequest {
        TokenRequest {
            grant_type: Some("authorization_code".into()),
            code: Some(SecretString::new(code)),
            redirect_uri: Some(REDIRECT.into()),
            code_verifier: verifier.map(SecretString::new),
            client_id: Some("spa".into()),
            ..Default::default()
        }
    }

    pub fn refresh(&self, token: &str) -> TokenRequest {
        TokenRequest {
            grant_type: Some("refresh_token".into()),
            refresh_token: Some(SecretString::new(token)),
            client_id: Some("spa".into()),
            ..Default::default()
        }
    }

    pub fn basic(&self, secret: &str) -> BasicCredentials {
        BasicCredentials { client_id: "backend".into(), client_secret: SecretString::new(secret) }
    }

    /// Signs in, gets a code and exchanges it for the public client.
    pub async fn tokens(&self) -> TokenResponse {
        let code = self.code_for(&self.request("spa")).await;
        self.provider.token(&self.exchange(&code, Some(VERIFIER)), None).await.unwrap()
    }
}

/// The value of `name` in `location`'s query.
pub fn query(location: &str, name: &str) -> Option<String> {
    let (_, query) = location.split_once('?')?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

pub fn code_of(error: &Error) -> Option<ErrorCode> {
    error.code()
}
