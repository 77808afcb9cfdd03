//! The provider: settings, the discovery document, the JWKS, and what the grants share (stored grant documents,
//! access, refresh and ID token issuance). The endpoints' logic lives in [`authorize`](crate::authorize),
//! [`token`](crate::token), [`introspect`](crate::introspect) and [`userinfo`](crate::userinfo).

use std::sync::{Arc, Mutex, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use identity_auth::{Authenticator, SecretCipher};
use identity_core::time::Duration;
use identity_core::{Clock, GrantId, IdentityId, Session, TokenHash};
use identity_store::{Store, TokenKind, TokenRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

use crate::client::{Client, Clients};
use crate::error::Error;
use crate::keys::{KeySet, SigningAlgorithm};

/// The `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// What a provider is configured with. Endpoint paths follow Ory Hydra's, under the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// The issuer URL (`iss`), without a trailing slash.
    pub issuer: String,
    /// The `aud` of access tokens: the resource servers' identifier. The issuer by default.
    pub audience: String,
    /// How long an access token lives (1 h).
    pub access_token_lifetime: Duration,
    /// How long an ID token lives (1 h).
    pub id_token_lifetime: Duration,
    /// How long an authorization code lives (60 s).
    pub code_lifetime: Duration,
    /// How long a refresh token lives (30 days); each rotation starts a new lifetime.
    pub refresh_token_lifetime: Duration,
}

impl ProviderSettings {
    /// Defaults for `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer = issuer.into().trim_end_matches('/').to_owned();
        Self {
            audience: issuer.clone(),
            issuer,
            access_token_lifetime: Duration::hours(1),
            id_token_lifetime: Duration::hours(1),
            code_lifetime: Duration::seconds(60),
            refresh_token_lifetime: Duration::days(30),
        }
    }
}

/// The OpenID Provider Metadata served at `/.well-known/openid-configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// The issuer.
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The userinfo endpoint.
    pub userinfo_endpoint: String,
    /// The JWKS.
    pub jwks_uri: String,
    /// The introspection endpoint (RFC 7662), if the embedder serves one to relying parties. `None` from
    /// [`Provider::discovery`]: introspection is usually an operator's endpoint (as in Ory Hydra, on the admin
    /// listener), and only the embedder knows where it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// The revocation endpoint (RFC 7009).
    pub revocation_endpoint: String,
    /// `["code"]`.
    pub response_types_supported: Vec<String>,
    /// The grants supported.
    pub grant_types_supported: Vec<String>,
    /// `["public"]`.
    pub subject_types_supported: Vec<String>,
    /// The current key's algorithm.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// Client authentication methods.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `["S256"]`.
    pub code_challenge_methods_supported: Vec<String>,
    /// The scopes with a meaning here.
    pub scopes_supported: Vec<String>,
    /// The claims userinfo and ID tokens may carry.
    pub claims_supported: Vec<String>,
    /// Authorization responses carry `iss` (RFC 9207), against mix-up attacks.
    pub authorization_response_iss_parameter_supported: bool,
    /// Whether mutual-TLS clients get certificate-bound access tokens (RFC 8705 §3.3); shown only when they do.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
}

/// The claims of an access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The identity's id, or the client id for client credentials.
    pub sub: String,
    /// The resource servers it is for.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issue time, seconds since the epoch.
    pub iat: i64,
    /// The token's id; its hash is the stored record's key.
    pub jti: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The granted scopes, space separated.
    pub scope: String,
    /// When the identity authenticated, for user grants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The certificate the token is bound to (RFC 8705 §3.1), for mutual-TLS clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// A token's confirmation claim: the SHA-256 thumbprint of the certificate that must accompany it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// base64url (unpadded) SHA-256 of the certificate's DER.
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

/// What the store keeps with a code or refresh token.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct GrantDocument {
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default)]
    pub amr: Vec<String>,
    /// The certificate thumbprint a mutual-TLS client_credentials grant binds its token to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
    /// Set on the marker left behind when a code or refresh token is used, so that presenting it again is seen
    /// as the replay it is and revokes the grant (RFC 9700 §4.14.2).
    #[serde(default)]
    pub used: bool,
}

impl GrantDocument {
    pub(crate) fn from_session(scope: String, session: &Session) -> Self {
        let name = |value: serde_json::Value| value.as_str().map(str::to_owned);
        Self {
            scope,
            auth_time: Some(session.authenticated_at.unix_timestamp()),
            acr: name(serde_json::to_value(session.authenticator_assurance_level).unwrap_or_default()),
            amr: session
                .authentication_methods
                .iter()
                .filter_map(|m| name(serde_json::to_value(m.method).unwrap_or_default()))
                .collect(),
            ..Self::default()
        }
    }

    pub(crate) fn decode(record: &TokenRecord) -> Result<Self, Error> {
        serde_json::from_value(record.document.clone()).map_err(|e| Error::internal(format!("stored grant: {e}")))
    }

    pub(crate) fn encode(&self) -> Result<serde_json::Value, Error> {
        serde_json::to_value(self).map_err(Error::internal)
    }
}

/// The token endpoint's answer (RFC 6749 §5.1). It holds the secrets being handed over, so its `Debug` redacts
/// them; serialise it only into the response.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The access token (a JWT).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token lapses.
    pub expires_in: i64,
    /// The granted scopes.
    pub scope: String,
    /// A refresh token, for clients allowed the refresh_token grant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// An ID token, when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .field("id_token", &self.id_token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// For whom tokens are issued: the identity and its grant document, or the client itself.
pub(crate) struct Subject<'a> {
    pub identity: Option<IdentityId>,
    pub grant: GrantId,
    pub document: &'a GrantDocument,
}

/// The OAuth2/OIDC provider over a store, a clock, a key set and an issuer.
pub struct Provider {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Authenticates `tls_client_auth` clients' certificates; none until configured.
    pub(crate) certificates: Option<Arc<Authenticator>>,
    keys: RwLock<Arc<KeySet>>,
    /// Reloads the stored key set when a token names a key this provider does not hold; none until configured.
    key_refresh: Option<KeyRefresh>,
    pub(crate) settings: ProviderSettings,
    pub(crate) clients: Clients,
}

/// What a provider needs to read the stored key set again on an unknown `kid`, and when it last did.
struct KeyRefresh {
    cipher: Arc<SecretCipher>,
    min_interval: Duration,
    last: Mutex<Option<identity_core::time::OffsetDateTime>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Provider {
    /// A provider storing clients and tokens in `store`, signing with `keys`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, keys: KeySet, settings: ProviderSettings) -> Self {
        let clients = Clients::new(store.clone(), clock.clone());
        Self {
            store,
            clock,
            certificates: None,
            keys: RwLock::new(Arc::new(keys)),
            key_refresh: None,
            settings,
            clients,
        }
    }

    /// Reads the key set kept in the store again (opened with `cipher`) when a token names a key this provider
    /// does not hold, before refusing it: a replica then verifies tokens signed by a key another replica just
    /// rotated to, instead of refusing them until its next timed [`reload_keys`](Self::reload_keys). At most one
    /// such reload per `min_interval`, so tokens with made-up `kid`s cannot turn every request into a store read;
    /// within that interval an unknown key is refused as before. The checks that read the store anyway
    /// ([`live_access_token`](Self::live_access_token), [`introspect`](Self::introspect),
    /// [`revoke`](Self::revoke)) do this; the offline [`verify_access_token`](Self::verify_access_token) does not.
    pub fn with_key_refresh(mut self, cipher: Arc<SecretCipher>, min_interval: Duration) -> Self {
        self.key_refresh = Some(KeyRefresh { cipher, min_interval, last: Mutex::new(None) });
        self
    }

    /// With [`with_key_refresh`](Self::with_key_refresh): reloads the stored key set if `token` is a JWT naming a
    /// key this provider does not hold and no such reload happened within the interval. Anything else is left
    /// for the verification that follows to refuse.
    pub(crate) async fn learn_key_of(&self, token: &str) -> Result<(), Error> {
        let Some(refresh) = &self.key_refresh else { return Ok(()) };
        if token.len() > crate::introspect::MAX_TOKEN_LENGTH {
            return Ok(());
        }
        let Some(kid) = jsonwebtoken::decode_header(token).ok().and_then(|header| header.kid) else { return Ok(()) };
        if self.keys().find(&kid).is_some() {
            return Ok(());
        }
        let now = self.clock.now();
        {
            // Claimed before the read, so concurrent requests with unknown kids make one reload, not many.
            let mut last = refresh.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.is_some_and(|at| now < at + refresh.min_interval) {
                return Ok(());
            }
            *last = Some(now);
        }
        self.reload_keys(&refresh.cipher).await
    }

    /// Accepts `tls_client_auth` clients: `authenticator` (configured with the trusted client CAs, see
    /// [`Authenticator::with_certificates`]) verifies their certificates and finds the service identities they
    /// stand for. Without it, such clients always get `invalid_client`.
    pub fn with_certificate_authentication(mut self, authenticator: Arc<Authenticator>) -> Self {
        self.certificates = Some(authenticator);
        self
    }

    /// Client management over the same store.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// The settings.
    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// The key set in use.
    pub fn keys(&self) -> Arc<KeySet> {
        // A poisoned lock still holds a whole key set: replacing it is a single store of an Arc.
        self.keys.read().map_or_else(|poisoned| poisoned.into_inner().clone(), |keys| keys.clone())
    }

    /// Replaces the key set (after [`KeySet::rotate`] on a copy read from its document).
    pub fn replace_keys(&self, keys: KeySet) {
        let mut slot = self.keys.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Arc::new(keys);
    }

    /// Rotates the key set kept in the store away from the key this provider signs with (see
    /// [`KeySet::rotate_stored`]: if another replica already did, its rotation is taken instead) and signs with the
    /// new key from now on. Other replicas pick the rotation up with [`reload_keys`](Self::reload_keys).
    pub async fn rotate_keys(&self, cipher: &SecretCipher, algorithm: SigningAlgorithm) -> Result<(), Error> {
        let replacing = self.keys().current().kid().to_owned();
        let keys = KeySet::rotate_stored(self.store.as_ref(), cipher, algorithm, &replacing).await?;
        self.replace_keys(keys);
        Ok(())
    }

    /// Reads the key set kept in the store again, so that a rotation made by another replica takes effect here:
    /// call it on a timer shorter than the time between rotations (and see
    /// [`with_key_refresh`](Self::with_key_refresh) for tokens naming a key this replica has not read yet).
    /// Keeps the current set when the store holds none.
    pub async fn reload_keys(&self, cipher: &SecretCipher) -> Result<(), Error> {
        if let Some(keys) = KeySet::load(self.store.as_ref(), cipher).await? {
            self.replace_keys(keys);
        }
        Ok(())
    }

    /// The JWKS document (RFC 7517).
    pub fn jwks(&self) -> serde_json::Value {
        self.keys().jwks()
    }

    /// The discovery document.
    pub fn discovery(&self) -> Discovery {
        let at = |path: &str| format!("{}{path}", self.settings.issuer);
        let strings = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        let mutual_tls = self.certificates.is_some();
        Discovery {
            issuer: self.settings.issuer.clone(),
            authorization_endpoint: at("/oauth2/auth"),
            token_endpoint: at("/oauth2/token"),
            userinfo_endpoint: at("/userinfo"),
            jwks_uri: at("/.well-known/jwks.json"),
            introspection_endpoint: None,
            revocation_endpoint: at("/oauth2/revoke"),
            response_types_supported: strings(&["code"]),
            grant_types_supported: strings(&["authorization_code", "refresh_token", "client_credentials"]),
            subject_types_supported: strings(&["public"]),
            id_token_signing_alg_values_supported: vec![self.keys().current().algorithm().as_str().to_owned()],
            token_endpoint_auth_methods_supported: if mutual_tls {
                strings(&["client_secret_basic", "client_secret_post", "tls_client_auth", "none"])
            } else {
                strings(&["client_secret_basic", "client_secret_post", "none"])
            },
            code_challenge_methods_supported: strings(&["S256"]),
            scopes_supported: strings(&["openid", "profile", "email"]),
            claims_supported: strings(&[
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "at_hash",
                "name",
                "given_name",
                "family_name",
                "email",
                "email_verified",
            ]),
            authorization_response_iss_parameter_supported: true,
            tls_client_certificate_bound_access_tokens: mutual_tls,
        }
    }

    pub(crate) fn token_record(
        &self,
        hash: TokenHash,
        kind: TokenKind,
        client: &Client,
        subject: &Subject<'_>,
        lifetime: Duration,
        document: serde_json::Value,
    ) -> TokenRecord {
        let now = self.clock.now();
        TokenRecord {
            hash,
            kind,
            client_id: client.client_id.clone(),
            identity_id: subject.identity,
            grant_id: subject.grant,
            created_at: now,
            expires_at: now + lifetime,
            document,
        }
    }

    /// Issues an access token (recorded by its `jti`), a refresh token if the client may refresh, and an ID token
    /// when `openid` was granted to an identity.
    pub(crate) async fn issue_tokens(
        &self,
        client: &Client,
        subject: &Subject<'_>,
        nonce: Option<&str>,
    ) -> Result<TokenResponse, Error> {
        let now = self.clock.now();
        let keys = self.keys();
        let key = keys.current();
        let sub = subject.identity.map_or_else(|| client.client_id.clone(), |id| id.to_string());
        let claims = AccessTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: sub.clone(),
            aud: self.settings.audience.clone(),
            exp: (now + self.settings.access_token_lifetime).unix_timestamp(),
            iat: now.unix_timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            client_id: client.client_id.clone(),
            scope: subject.document.scope.clone(),
            auth_time: subject.document.auth_time,
            cnf: subject.document.x5t_s256.clone().map(|x5t_s256| Confirmation { x5t_s256 }),
        };
        // A certificate-bound grant gets neither refresh nor ID token: the service presents its certificate again.
        let user_grant = subject.identity.is_some() && subject.document.x5t_s256.is_none();
        let access_token = key.sign(ACCESS_TOKEN_TYP, &claims)?;
        let record = self.token_record(
            identity_auth::hash_token(&claims.jti),
            TokenKind::AccessToken,
            client,
            subject,
            self.settings.access_token_lifetime,
            serde_json::json!({ "scope": claims.scope }),
        );
        self.store.insert_token(&record).await?;

        let refresh_token = if user_grant && client.allows_grant(crate::GrantType::RefreshToken) {
            let token = identity_auth::random_token()?;
            let document = GrantDocument {
                nonce: None,
                redirect_uri: None,
                code_challenge: None,
                used: false,
                ..subject.document.clone()
            };
            let record = self.token_record(
                identity_auth::hash_token(token.expose_secret()),
                TokenKind::RefreshToken,
                client,
                subject,
                self.settings.refresh_token_lifetime,
                document.encode()?,
            );
            self.store.insert_token(&record).await?;
            Some(token.expose_secret().to_owned())
        } else {
            None
        };

        let openid = subject.document.scope.split_ascii_whitespace().any(|s| s == "openid");
        let id_token = match (openid && user_grant, subject.identity) {
            (true, Some(_)) => {
                let mut id = serde_json::json!({
                    "iss": self.settings.issuer,
                    "sub": sub,
                    "aud": client.client_id,
                    "exp": (now + self.settings.id_token_lifetime).unix_timestamp(),
                    "iat": now.unix_timestamp(),
                    "at_hash": at_hash(key.algorithm(), &access_token),
                    "amr": subject.document.amr,
                });
                if let Some(nonce) = nonce {
                    id["nonce"] = nonce.into();
                }
                if let Some(auth_time) = subject.document.auth_time {
                    id["auth_time"] = auth_time.into();
                }
                if let Some(acr) = &subject.document.acr {
                    id["acr"] = acr.as_str().into();
                }
                Some(key.sign("JWT", &id)?)
            }
            _ => None,
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.settings.access_token_lifetime.whole_seconds(),
            scope: subject.document.scope.clone(),
            refresh_token,
            id_token,
        })
    }
}

/// OIDC Core §3.1.3.6: the left half of the hash of the access token, with the hash of the signature algorithm
/// (SHA-512 for Ed25519, as the OpenID errata settle it).
pub fn at_hash(algorithm: SigningAlgorithm, access_token: &str) -> String {
    match algorithm {
        SigningAlgorithm::EdDSA => {
            let digest = Sha512::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
        SigningAlgorithm::ES256 | SigningAlgorithm::RS256 => {
            let digest = Sha256::digest(access_token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
    }
}
