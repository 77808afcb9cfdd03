//! The login at an upstream: [`Federation::begin`] builds the authorization URL with a fresh `state`, `nonce` and
//! PKCE verifier; [`Federation::complete`] checks the callback, exchanges the code and returns who signed in.

use std::sync::Arc;

use identity_auth::{SecretCipher, random_token};
use identity_core::time::{Duration, OffsetDateTime};
use identity_core::{Clock, ProviderId, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::http::{GetJson, JsonReply, PostForm, UpstreamHttp};
use super::id_token::{self, Expected};
use super::upstream::{GITHUB_AUTHORIZE, GITHUB_EMAILS, GITHUB_TOKEN, GITHUB_USER, UpstreamKind, UpstreamProvider};
use crate::error::Error;
use crate::pkce;

/// How long a started login may take before its callback is refused.
pub const PENDING_LIFETIME: Duration = Duration::minutes(15);

/// A started upstream login. Holds secrets (state, nonce, PKCE verifier): the caller keeps it server-side (in
/// its flow), never in the browser; `Debug` redacts them. [`PendingLogin::to_internal_json`] and
/// [`PendingLogin::from_internal_json`] move it in and out of a flow's internal context.
#[derive(Clone)]
pub struct PendingLogin {
    /// The provider the login went to.
    pub provider: ProviderId,
    /// Where the upstream sends the browser back.
    pub redirect_uri: String,
    /// When the login started.
    pub started_at: OffsetDateTime,
    state: SecretString,
    nonce: SecretString,
    verifier: SecretString,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("provider", &self.provider)
            .field("redirect_uri", &self.redirect_uri)
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct PendingRepr {
    provider: ProviderId,
    redirect_uri: String,
    started_at: i64,
    state: String,
    nonce: String,
    verifier: String,
}

impl PendingLogin {
    /// The login as JSON with its secrets, for the server-side store of a flow only (never a response or a
    /// cookie); explicitly named so that it is not written out by accident.
    pub fn to_internal_json(&self) -> Value {
        let repr = PendingRepr {
            provider: self.provider,
            redirect_uri: self.redirect_uri.clone(),
            started_at: self.started_at.unix_timestamp(),
            state: self.state.expose_secret().to_owned(),
            nonce: self.nonce.expose_secret().to_owned(),
            verifier: self.verifier.expose_secret().to_owned(),
        };
        serde_json::to_value(repr).unwrap_or(Value::Null)
    }

    /// The key its callback finds this login by: the hash of its `state` ([`Callback::lookup_key`] gives the
    /// same), so a caller can index pending logins by what the callback carries without keying them by a secret.
    pub fn lookup_key(&self) -> String {
        lookup_key(self.state.expose_secret())
    }

    /// A login read back from [`PendingLogin::to_internal_json`].
    pub fn from_internal_json(value: &Value) -> Result<Self, Error> {
        let repr =
            PendingRepr::deserialize(value).map_err(|_| Error::internal("a pending upstream login does not decode"))?;
        Ok(Self {
            provider: repr.provider,
            redirect_uri: repr.redirect_uri,
            started_at: OffsetDateTime::from_unix_timestamp(repr.started_at)
                .map_err(|_| Error::internal("a pending upstream login has a bad start time"))?,
            state: SecretString::new(repr.state),
            nonce: SecretString::new(repr.nonce),
            verifier: SecretString::new(repr.verifier),
        })
    }
}

/// What [`Federation::begin`] returns.
#[derive(Debug, Clone)]
pub struct BegunLogin {
    /// Where to send the browser.
    pub authorization_url: String,
    /// What to keep until the callback.
    pub pending: PendingLogin,
}

/// The query of the upstream's redirect back to us.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Callback {
    /// The authorization code.
    #[serde(default)]
    pub code: Option<String>,
    /// The state we sent.
    #[serde(default)]
    pub state: Option<String>,
    /// The upstream's refusal (`access_denied`, ...).
    #[serde(default)]
    pub error: Option<String>,
    /// Its explanation.
    #[serde(default)]
    pub error_description: Option<String>,
}

impl Callback {
    /// The [`PendingLogin::lookup_key`] of the login this callback names by its `state`; `None` without one.
    pub fn lookup_key(&self) -> Option<String> {
        self.state.as_deref().filter(|state| !state.is_empty()).map(lookup_key)
    }
}

fn lookup_key(state: &str) -> String {
    identity_auth::hash_token(state).to_hex()
}

/// Who signed in upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamIdentity {
    /// The provider.
    pub provider: ProviderId,
    /// The account's subject there (`sub`; GitHub's numeric user id).
    pub subject: String,
    /// The email the upstream gave, if any.
    pub email: Option<String>,
    /// Whether the upstream says it verified that email. Unverified emails never match a local identity.
    pub email_verified: bool,
    /// All claims (the ID token's; for GitHub, the user API's fields).
    pub claims: Map<String, Value>,
}

/// The subset of an issuer's discovery document used here.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// Upstream logins over an [`UpstreamHttp`].
pub struct Federation {
    http: Arc<dyn UpstreamHttp>,
    cipher: Arc<SecretCipher>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Federation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Federation").finish_non_exhaustive()
    }
}

fn protocol(reason: impl Into<String>) -> Error {
    Error::UpstreamProtocol { reason: reason.into() }
}

/// Endpoints must be HTTPS, except on loopback (development and tests): what an issuer given by an operator must
/// satisfy too, so it is checked when the provider is written rather than at its first login.
pub fn check_url(url: &str) -> Result<(), Error> {
    let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/", "http://[::1]"];
    if url.starts_with("https://") || loopback.iter().any(|prefix| url.starts_with(prefix)) {
        Ok(())
    } else {
        Err(protocol(format!("`{url}` is not an https URL")))
    }
}

fn random() -> Result<SecretString, Error> {
    Ok(random_token()?)
}

impl Federation {
    /// Logins over `http`, opening client secrets with `cipher`, at `clock`'s time.
    pub fn new(http: Arc<dyn UpstreamHttp>, cipher: Arc<SecretCipher>, clock: Arc<dyn Clock>) -> Self {
        Self { http, cipher, clock }
    }

    async fn get(&self, url: &str, fresh: bool) -> Result<Value, Error> {
        check_url(url)?;
        let reply = self.http.get_json(GetJson { url, bearer: None, fresh }).await?;
        if !reply.is_success() {
            return Err(protocol(format!("`{url}` answered {}", reply.status)));
        }
        Ok(reply.body)
    }

    async fn discovery(&self, issuer: &str) -> Result<Discovery, Error> {
        let url = format!("{issuer}/.well-known/openid-configuration");
        let body = self.get(&url, false).await?;
        let discovery: Discovery =
            serde_json::from_value(body).map_err(|e| protocol(format!("the discovery document of `{issuer}`: {e}")))?;
        // OIDC Discovery §4.3: the document must name the issuer it was fetched for (an Entra multi-tenant
        // document names the `{tenantid}` template, which the ID token check fills in).
        let same = discovery.issuer.trim_end_matches('/') == issuer;
        let template = discovery.issuer.contains("{tenantid}") && issuer.contains("login.microsoftonline.com");
        if !same && !template {
            return Err(protocol(format!("the discovery document of `{issuer}` names another issuer")));
        }
        for url in [&discovery.authorization_endpoint, &discovery.token_endpoint, &discovery.jwks_uri] {
            check_url(url)?;
        }
        Ok(discovery)
    }

    /// Starts a login at `provider`, which redirects back to `redirect_uri` (registered there).
    pub async fn begin(&self, provider: &UpstreamProvider, redirect_uri: &str) -> Result<BegunLogin, Error> {
        let endpoint = match provider.kind.issuer() {
            Some(issuer) => self.discovery(&issuer).await?.authorization_endpoint,
            None => GITHUB_AUTHORIZE.to_owned(),
        };
        let pending = PendingLogin {
            provider: provider.id,
            redirect_uri: redirect_uri.to_owned(),
            started_at: self.clock.now(),
            state: random()?,
            nonce: random()?,
            verifier: random()?,
        };
        let challenge = pkce::challenge_s256(pending.verifier.expose_secret());
        let scope = provider.effective_scopes().join(" ");
        let mut query: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &provider.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", &scope),
            ("state", pending.state.expose_secret()),
            ("code_challenge", &challenge),
            ("code_challenge_method", pkce::S256),
        ];
        if provider.kind.issuer().is_some() {
            query.push(("nonce", pending.nonce.expose_secret()));
        }
        let encoded = serde_urlencoded::to_string(&query).map_err(Error::internal)?;
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        Ok(BegunLogin { authorization_url: format!("{endpoint}{separator}{encoded}"), pending })
    }

    /// Completes the login `pending` at `provider` with the upstream's `callback`: the state must match (in
    /// constant time), the login must be recent, the code is exchanged (with the PKCE verifier and the client
    /// secret) and the ID token validated; for GitHub the user API says who it is.
    pub async fn complete(
        &self,
        provider: &UpstreamProvider,
        pending: &PendingLogin,
        callback: &Callback,
    ) -> Result<UpstreamIdentity, Error> {
        if pending.provider != provider.id {
            return Err(Error::UpstreamStateMismatch);
        }
        let state = callback.state.as_deref().unwrap_or_default();
        if !pending.state.ct_eq(state) {
            return Err(Error::UpstreamStateMismatch);
        }
        if self.clock.now() - pending.started_at > PENDING_LIFETIME {
            return Err(Error::UpstreamLoginExpired);
        }
        if let Some(error) = &callback.error {
            return Err(Error::UpstreamDenied {
                error: error.chars().take(64).collect(),
                description: callback.error_description.as_deref().map(|d| d.chars().take(256).collect()),
            });
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or(Error::UpstreamProtocol { reason: "the callback carries no code".into() })?;
        match provider.kind.issuer() {
            Some(issuer) => self.complete_oidc(provider, &issuer, pending, code).await,
            None => self.complete_github(provider, pending, code).await,
        }
    }

    async fn exchange(
        &self,
        provider: &UpstreamProvider,
        token_endpoint: &str,
        basic: bool,
        pending: &PendingLogin,
        code: &str,
    ) -> Result<Map<String, Value>, Error> {
        let secret = provider.open_secret(&self.cipher)?;
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &pending.redirect_uri),
            ("code_verifier", pending.verifier.expose_secret()),
        ];
        // RFC 6749 §2.3.1: Basic credentials are form-encoded before they are joined.
        let encode = |text: &str| serde_urlencoded::to_string([("", text)]).map(|s| s[1..].to_owned());
        let (user, password) = if basic {
            (
                encode(&provider.client_id).map_err(Error::internal)?,
                encode(secret.expose_secret()).map_err(Error::internal)?,
            )
        } else {
            form.push(("client_id", &provider.client_id));
            form.push(("client_secret", secret.expose_secret()));
            (String::new(), String::new())
        };
        let request =
            PostForm { url: token_endpoint, form: &form, basic: basic.then_some((user.as_str(), password.as_str())) };
        let JsonReply { status, body } = self.http.post_form(request).await?;
        let Value::Object(body) = body else {
            return Err(protocol(format!("the token endpoint answered {status} without JSON")));
        };
        // GitHub answers errors with 200 and an `error` field.
        if let Some(error) = body.get("error").and_then(Value::as_str) {
            return Err(Error::UpstreamDenied { error: error.chars().take(64).collect(), description: None });
        }
        if !(200..300).contains(&status) {
            return Err(protocol(format!("the token endpoint answered {status}")));
        }
        Ok(body)
    }

    async fn complete_oidc(
        &self,
        provider: &UpstreamProvider,
        issuer: &str,
        pending: &PendingLogin,
        code: &str,
    ) -> Result<UpstreamIdentity, Error> {
        let discovery = self.discovery(issuer).await?;
        let post = discovery.token_endpoint_auth_methods_supported.iter().any(|m| m == "client_secret_post");
        let tokens = self.exchange(provider, &discovery.token_endpoint, !post, pending, code).await?;
        let id_token = tokens
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or(Error::InvalidIdToken { reason: "the token response carries no id_token" })?;
        let issuer = if discovery.issuer.contains("{tenantid}") { discovery.issuer.as_str() } else { issuer };
        let expected = Expected {
            issuer,
            // Google documents both spellings of its issuer in ID tokens.
            alternate_issuer: matches!(provider.kind, UpstreamKind::Google).then_some("accounts.google.com"),
            client_id: &provider.client_id,
            nonce: pending.nonce.expose_secret(),
            now: self.clock.now(),
        };
        let jwks = self.get(&discovery.jwks_uri, false).await?;
        let claims = match id_token::validate(id_token, &jwks, &expected) {
            // Key rotation: the provider signs with a key our cached set predates. Refetch once, then give up.
            Err(Error::UnknownSigningKey { .. }) => {
                let jwks = self.get(&discovery.jwks_uri, true).await?;
                id_token::validate(id_token, &jwks, &expected)?
            }
            other => other?,
        };
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
        let email = claims.get("email").and_then(Value::as_str).map(str::to_owned);
        // Some issuers send `"true"` as a string; anything else, absence included, is unverified.
        let email_verified = match claims.get("email_verified") {
            Some(Value::Bool(verified)) => *verified,
            Some(Value::String(text)) => text == "true",
            _ => false,
        };
        Ok(UpstreamIdentity { provider: provider.id, subject, email, email_verified, claims })
    }

    async fn complete_github(
        &self,
        provider: &UpstreamProvider,
        pending: &PendingLogin,
        code: &str,
    ) -> Result<UpstreamIdentity, Error> {
        let tokens = self.exchange(provider, GITHUB_TOKEN, false, pending, code).await?;
        let access = tokens
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or(Error::UpstreamProtocol { reason: "GitHub's token response carries no access_token".into() })?;
        let user = self.http.get_json(GetJson { url: GITHUB_USER, bearer: Some(access), fresh: true }).await?;
        let Value::Object(mut claims) = user.body.clone() else {
            return Err(protocol(format!("GitHub's user API answered {}", user.status)));
        };
        if !user.is_success() {
            return Err(protocol(format!("GitHub's user API answered {}", user.status)));
        }
        let subject = match claims.get("id") {
            Some(Value::Number(id)) => id.to_string(),
            _ => return Err(protocol("GitHub's user has no numeric id")),
        };
        let emails = self.http.get_json(GetJson { url: GITHUB_EMAILS, bearer: Some(access), fresh: true }).await?;
        let listed = if emails.is_success() { emails.body.as_array().cloned().unwrap_or_default() } else { vec![] };
        let flag = |entry: &Value, name: &str| entry.get(name).and_then(Value::as_bool).unwrap_or(false);
        // The primary address if it is verified, else any verified one; an unverified address is only reported.
        let verified = listed
            .iter()
            .filter(|e| flag(e, "verified"))
            .max_by_key(|e| flag(e, "primary"))
            .and_then(|e| e.get("email").and_then(Value::as_str));
        let (email, email_verified) = match verified {
            Some(email) => (Some(email.to_owned()), true),
            None => (claims.get("email").and_then(Value::as_str).map(str::to_owned), false),
        };
        // The claims the mapping reads, under their OIDC names.
        claims.insert("sub".into(), Value::String(subject.clone()));
        if let Some(email) = &email {
            claims.insert("email".into(), Value::String(email.clone()));
        }
        claims.insert("email_verified".into(), Value::Bool(email_verified));
        Ok(UpstreamIdentity { provider: provider.id, subject, email, email_verified, claims })
    }
}
