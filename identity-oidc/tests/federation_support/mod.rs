//! Fixtures of the federation tests: a fake upstream answering over [`UpstreamHttp`], ID tokens signed with
//! test keys, and a linker over the memory store with the shared email-and-password schema.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use identity_auth::{Admin, CipherKey, SecretCipher};
use identity_core::{Clock, SecretBytes, SecretString, TestClock};
use identity_oidc::federation::*;
use identity_oidc::{Error, SigningAlgorithm, SigningKey};
use identity_store::Store;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://login.upstream.example";
pub const CLIENT_ID: &str = "our-client";
pub const CLIENT_SECRET: &str = "upstream-secret-value";
pub const REDIRECT: &str = "https://id.example/self-service/methods/oidc/callback";

pub fn cipher() -> Arc<SecretCipher> {
    let key = CipherKey::new(1, &SecretBytes::new(vec![4; 32])).unwrap();
    Arc::new(SecretCipher::new(vec![key]).unwrap())
}

/// A form POST as the fake upstream saw it: URL, fields, Basic credentials.
pub type Post = (String, Vec<(String, String)>, Option<(String, String)>);

/// What the fake upstream answers and what it was asked.
#[derive(Default)]
pub struct Upstream {
    pub jwks: Vec<Value>,
    /// The key set served after the first JWKS fetch (a rotation), if any.
    pub rotated_jwks: Option<Vec<Value>>,
    pub token_response: Value,
    /// The discovery's `token_endpoint_auth_methods_supported`; both secret methods when `None`.
    pub auth_methods: Option<Value>,
    pub github_user: Value,
    pub github_emails: Value,
    pub jwks_fetches: usize,
    pub fresh_jwks_fetches: usize,
    pub posts: Vec<Post>,
    pub bearer_gets: Vec<(String, String)>,
}

/// An [`UpstreamHttp`] that answers as the configured [`Upstream`].
#[derive(Clone, Default)]
pub struct FakeHttp(pub Arc<Mutex<Upstream>>);

impl FakeHttp {
    pub fn with<R>(&self, f: impl FnOnce(&mut Upstream) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }
}

fn ok(body: Value) -> JsonReply {
    JsonReply { status: 200, body }
}

#[async_trait]
impl UpstreamHttp for FakeHttp {
    async fn get_json(&self, request: GetJson<'_>) -> Result<JsonReply, Error> {
        let mut upstream = self.0.lock().unwrap();
        if let Some(token) = request.bearer {
            upstream.bearer_gets.push((request.url.to_owned(), token.to_owned()));
        }
        Ok(match request.url {
            url if url == format!("{ISSUER}/.well-known/openid-configuration") => ok(json!({
                "issuer": ISSUER,
                "authorization_endpoint": format!("{ISSUER}/authorize"),
                "token_endpoint": format!("{ISSUER}/token"),
                "jwks_uri": format!("{ISSUER}/jwks"),
                "token_endpoint_auth_methods_supported":
                    upstream.auth_methods.clone().unwrap_or(json!(["client_secret_basic", "client_secret_post"])),
            })),
            url if url == format!("{ISSUER}/jwks") => {
                upstream.jwks_fetches += 1;
                if request.fresh {
                    upstream.fresh_jwks_fetches += 1;
                }
                let keys = match (&upstream.rotated_jwks, upstream.jwks_fetches) {
                    (Some(rotated), n) if n > 1 => rotated.clone(),
                    _ => upstream.jwks.clone(),
                };
                ok(json!({ "keys": keys }))
            }
            GITHUB_USER => ok(upstream.github_user.clone()),
            GITHUB_EMAILS => ok(upstream.github_emails.clone()),
            _ => JsonReply { status: 404, body: Value::Null },
        })
    }

    async fn post_form(&self, request: PostForm<'_>) -> Result<JsonReply, Error> {
        let mut upstream = self.0.lock().unwrap();
        let form = request.form.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let basic = request.basic.map(|(u, p)| (u.to_owned(), p.to_owned()));
        upstream.posts.push((request.url.to_owned(), form, basic));
        Ok(ok(upstream.token_response.clone()))
    }
}

pub struct World {
    pub store: Arc<dyn Store>,
    pub clock: Arc<TestClock>,
    pub http: FakeHttp,
    pub federation: Federation,
    pub linker: Linker,
    pub provider: UpstreamProvider,
    pub github: UpstreamProvider,
    pub key: SigningKey,
}

fn schema() -> identity_schema::IdentitySchema {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata/schemas/email-password.schema.json");
    let text = std::fs::read_to_string(path)
        .or_else(|_| std::fs::read_to_string("/work/shared/testdata/schemas/email-password.schema.json"))
        .unwrap();
    identity_schema::IdentitySchema::from_json_str("default", &text).unwrap()
}

/// An admin over `store` (what the linker creates identities through).
pub fn admin(store: Arc<dyn Store>, clock: Arc<TestClock>) -> Admin {
    use identity_auth::*;
    let config = HasherConfig {
        algorithm: HashAlgorithm::Argon2id,
        argon2: Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 },
        bcrypt_cost: 4,
    };
    let hasher = Arc::new(PasswordHasher::new(config).unwrap());
    let schemas = Arc::new(identity_schema::SchemaRegistry::new(schema()));
    let sessions = Arc::new(Sessions::new(store.clone(), clock.clone(), SessionSettings::default()).unwrap());
    let parts = SelfServiceParts {
        store: store.clone(),
        clock: clock.clone(),
        authenticator: Arc::new(Authenticator::new(store.clone(), clock.clone(), hasher.clone())),
        sessions: sessions.clone(),
        schemas: schemas.clone(),
        courier: Arc::new(RecordingCourier::new()),
        code_key: SecretBytes::new(vec![9; 32]),
    };
    let self_service = Arc::new(SelfService::new(parts, SelfServiceSettings::default()).unwrap());
    Admin::new(AdminParts {
        store,
        clock,
        sessions,
        hasher,
        schemas,
        self_service,
        enrollments: None,
        password_policy: PasswordPolicy::default(),
    })
}

pub fn world() -> World {
    world_with(SigningAlgorithm::ES256)
}

pub fn world_with(algorithm: SigningAlgorithm) -> World {
    let store: Arc<dyn Store> = Arc::new(identity_store::MemoryStore::new());
    let clock = Arc::new(identity_store::testing::clock());
    let cipher = cipher();
    let key = SigningKey::generate(algorithm).unwrap();
    let http = FakeHttp::default();
    http.with(|u| u.jwks = vec![key.public_jwk().clone()]);
    let secret = SecretString::new(CLIENT_SECRET);
    let kind = UpstreamKind::Oidc { issuer: ISSUER.into() };
    let provider = UpstreamProvider::new(kind, "Upstream", CLIENT_ID, &secret, &cipher).unwrap();
    let github = UpstreamProvider::new(UpstreamKind::Github, "GitHub", "gh-client", &secret, &cipher).unwrap();
    let federation = Federation::new(Arc::new(http.clone()), cipher, clock.clone());
    let linker = Linker::new(store.clone(), Arc::new(admin(store.clone(), clock.clone())), clock.clone());
    World { store, clock, http, federation, linker, provider, github, key }
}

impl World {
    /// The claims of a good ID token for the login `begun` (its nonce read from the authorization URL, as the
    /// upstream reads it).
    pub fn claims(&self, begun: &BegunLogin) -> Value {
        let nonce = query(&begun.authorization_url, "nonce").unwrap();
        let now = self.clock.now().unix_timestamp();
        json!({
            "iss": ISSUER, "sub": "upstream-user-1", "aud": CLIENT_ID, "iat": now, "exp": now + 300,
            "nonce": nonce, "email": "grace@example.com", "email_verified": true,
            "given_name": "Grace", "family_name": "Hopper",
        })
    }

    /// Makes the token endpoint answer with `id_token`.
    pub fn answer_with(&self, id_token: &str) {
        self.http
            .with(|u| u.token_response = json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token}));
    }

    /// Signs `claims` with the world's key and makes the token endpoint answer with it.
    pub fn answer_with_claims(&self, claims: &Value) {
        self.answer_with(&self.key.sign("JWT", claims).unwrap());
    }

    /// The callback the upstream would send for the login `begun`.
    pub fn callback(&self, begun: &BegunLogin) -> Callback {
        Callback {
            code: Some("the-code".into()),
            state: query(&begun.authorization_url, "state"),
            ..Default::default()
        }
    }

    /// begin, answer with `claims` (as changed by `change`), complete.
    pub async fn login_with(&self, change: impl FnOnce(&mut Value)) -> Result<UpstreamIdentity, Error> {
        let begun = self.federation.begin(&self.provider, REDIRECT).await.unwrap();
        let mut claims = self.claims(&begun);
        change(&mut claims);
        self.answer_with_claims(&claims);
        self.federation.complete(&self.provider, &begun.pending, &self.callback(&begun)).await
    }
}

/// The value of query parameter `name` in `url`.
pub fn query(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}
