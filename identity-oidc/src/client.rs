//! OAuth2 clients: their metadata as RFC 7591 names it (the shape of Ory Hydra's admin API), their secret (shown
//! once, stored as SHA-256), and create/read/update/delete over [`OAuth2Store`](identity_store::OAuth2Store).

use std::collections::BTreeSet;
use std::sync::Arc;

use identity_core::{Clock, SecretString, TokenHash};
use identity_store::{ClientRecord, Store};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The grant types a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// The authorization code grant (with PKCE).
    AuthorizationCode,
    /// Refresh tokens, with rotation.
    RefreshToken,
    /// The client acting for itself.
    ClientCredentials,
}

impl GrantType {
    /// The name as RFC 6749 spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }
}

/// How a client authenticates at the token endpoint (RFC 7591 `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// The secret in HTTP Basic authentication.
    ClientSecretBasic,
    /// The secret in the form body.
    ClientSecretPost,
    /// A client certificate from the TLS handshake (RFC 8705 `tls_client_auth`): verified against the trusted CAs
    /// by identity-auth, it must map to an identity and carry the registered `tls_client_auth_subject_dn`.
    TlsClientAuth,
    /// A public client: no secret, so PKCE is required.
    None,
}

impl TokenEndpointAuthMethod {
    /// Whether clients using this method hold a secret.
    pub const fn uses_secret(self) -> bool {
        matches!(self, TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost)
    }
}

/// A registered client, as stored (the secret only as its hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    /// The client id.
    pub client_id: String,
    /// A name for people.
    #[serde(default)]
    pub client_name: String,
    /// The SHA-256 of the secret; `None` for public and mutual-TLS clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_secret_hash: Option<TokenHash>,
    /// Where authorization responses may go; compared by exact string match.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// The response types; `["code"]` when it may use the authorization code grant.
    #[serde(default)]
    pub response_types: Vec<String>,
    /// The scopes the client may ask for, space separated.
    #[serde(default)]
    pub scope: String,
    /// How it authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// Where the embedder's login UI lives for this client, if it has its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_uri: Option<String>,
    /// Origins allowed to call the token endpoint from a browser (Hydra's `allowed_cors_origins`).
    #[serde(default)]
    pub allowed_cors_origins: Vec<String>,
    /// For `tls_client_auth`: the subject distinguished name (RFC 4514, e.g. `CN=billing,O=Acme`) the client's
    /// certificate must carry (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
}

impl Client {
    /// Whether the client is public (no secret, no certificate).
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == TokenEndpointAuthMethod::None
    }

    /// Whether the client holds a secret.
    pub fn has_secret(&self) -> bool {
        self.client_secret_hash.is_some()
    }

    /// Whether `secret` is the client's secret. Compares digests in constant time; false for clients without one.
    pub fn verify_secret(&self, secret: &str) -> bool {
        self.client_secret_hash.as_ref().is_some_and(|hash| *hash == identity_auth::hash_token(secret))
    }

    /// Whether `uri` is registered, by exact string comparison (RFC 9700 §2.1).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|registered| registered == uri)
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The scopes the client may ask for.
    pub fn scopes(&self) -> BTreeSet<&str> {
        self.scope.split_ascii_whitespace().collect()
    }

    fn validate(&self) -> Result<(), Error> {
        let invalid = |field, reason: &str| Err(Error::InvalidClientMetadata { field, reason: reason.into() });
        if self.client_id.is_empty() || self.client_id.len() > 255 || !self.client_id.chars().all(is_vschar) {
            return invalid("client_id", "must be 1 to 255 printable ASCII characters");
        }
        if self.grant_types.is_empty() {
            return invalid("grant_types", "at least one grant type is needed");
        }
        for uri in &self.redirect_uris {
            check_redirect_uri(uri)?;
        }
        if self.allows_grant(GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return invalid("redirect_uris", "the authorization_code grant needs at least one redirect URI");
        }
        if self.is_public() && self.allows_grant(GrantType::ClientCredentials) {
            return invalid("grant_types", "a public client cannot use client_credentials");
        }
        if self.token_endpoint_auth_method.uses_secret() != self.client_secret_hash.is_some() {
            return invalid("token_endpoint_auth_method", "client_secret_* methods need a secret, the others none");
        }
        let mutual_tls = self.token_endpoint_auth_method == TokenEndpointAuthMethod::TlsClientAuth;
        if mutual_tls != self.tls_client_auth_subject_dn.as_ref().is_some_and(|dn| !dn.trim().is_empty()) {
            return invalid(
                "tls_client_auth_subject_dn",
                "tls_client_auth needs the certificate's subject, the others none",
            );
        }
        if !self.scope.split_ascii_whitespace().all(is_scope_token) {
            return invalid("scope", "scopes are space-separated printable ASCII without `\"` or `\\`");
        }
        if let Some(login) = &self.login_uri
            && !is_absolute_without_fragment(login)
        {
            return invalid("login_uri", "must be an absolute URI without a fragment");
        }
        Ok(())
    }

    fn to_record(&self, created_at: identity_core::time::OffsetDateTime) -> Result<ClientRecord, Error> {
        Ok(ClientRecord {
            client_id: self.client_id.clone(),
            document: serde_json::to_value(self).map_err(Error::internal)?,
            created_at,
            updated_at: created_at,
        })
    }

    pub(crate) fn from_record(record: &ClientRecord) -> Result<Self, Error> {
        serde_json::from_value(record.document.clone())
            .map_err(|e| Error::internal(format!("stored client `{}` does not decode: {e}", record.client_id)))
    }
}

fn is_vschar(c: char) -> bool {
    ('\x20'..='\x7e').contains(&c)
}

/// RFC 6749 §3.3 `scope-token`: `%x21 / %x23-5B / %x5D-7E`.
pub(crate) fn is_scope_token(token: &str) -> bool {
    !token.is_empty()
        && token.chars().all(|c| c == '\x21' || ('\x23'..='\x5b').contains(&c) || ('\x5d'..='\x7e').contains(&c))
}

fn is_absolute_without_fragment(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else { return false };
    let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    scheme_ok && !rest.is_empty() && !uri.contains('#') && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A redirect URI must be absolute and carry no fragment (RFC 6749 §3.1.2); plain `http` only to a loopback host
/// (RFC 8252 §7.3, RFC 9700 §2.1).
fn check_redirect_uri(uri: &str) -> Result<(), Error> {
    if !is_absolute_without_fragment(uri) {
        return Err(Error::InvalidClientMetadata {
            field: "redirect_uris",
            reason: format!("`{}` must be an absolute URI without a fragment", cut(uri)),
        });
    }
    if let Some(rest) = uri.strip_prefix("http://") {
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => authority,
        };
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return Err(Error::InvalidClientMetadata {
                field: "redirect_uris",
                reason: format!("`{}` uses plain http to a host that is not loopback", cut(uri)),
            });
        }
    }
    Ok(())
}

pub(crate) fn cut(text: &str) -> String {
    text.chars().take(64).collect()
}

/// What an administrator registers. The secret, when the auth method needs one, is generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRegistration {
    /// The client id to use; a random UUID when `None`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// A name for people.
    #[serde(default)]
    pub client_name: String,
    /// Where authorization responses may go.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// The grants the client may use.
    pub grant_types: Vec<GrantType>,
    /// The scopes it may ask for, space separated.
    #[serde(default)]
    pub scope: String,
    /// How it authenticates at the token endpoint.
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// The embedder's login UI for this client.
    #[serde(default)]
    pub login_uri: Option<String>,
    /// Browser origins allowed to call the token endpoint.
    #[serde(default)]
    pub allowed_cors_origins: Vec<String>,
    /// For `tls_client_auth`, the subject DN its certificate carries (see [`Client::tls_client_auth_subject_dn`]).
    #[serde(default)]
    pub tls_client_auth_subject_dn: Option<String>,
}

/// A client secret as handed out at registration or rotation. Shown once; never stored, logged or serialised.
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// The secret, for the one response that hands it to the client's owner.
    pub fn expose_once(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret(***)")
    }
}

/// A newly registered client, with its secret if it has one.
#[derive(Debug)]
pub struct RegisteredClient {
    /// The stored client.
    pub client: Client,
    /// The secret, shown only now.
    pub secret: Option<ClientSecret>,
}

fn new_secret() -> Result<(ClientSecret, TokenHash), Error> {
    let secret = identity_auth::random_token()?;
    let hash = identity_auth::hash_token(secret.expose_secret());
    Ok((ClientSecret(secret), hash))
}

/// Client registration and management over the store.
#[derive(Clone)]
pub struct Clients {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients").finish_non_exhaustive()
    }
}

impl Clients {
    /// Clients stored in `store`, timestamped by `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Registers a client. The secret, for `client_secret_basic`/`_post`, is in the answer and nowhere else.
    pub async fn create(&self, registration: ClientRegistration) -> Result<RegisteredClient, Error> {
        let (secret, hash) = if registration.token_endpoint_auth_method.uses_secret() {
            let (secret, hash) = new_secret()?;
            (Some(secret), Some(hash))
        } else {
            (None, None)
        };
        let response_types = if registration.grant_types.contains(&GrantType::AuthorizationCode) {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        };
        let mut grant_types = registration.grant_types;
        grant_types.sort();
        grant_types.dedup();
        let client = Client {
            client_id: registration.client_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            client_name: registration.client_name,
            client_secret_hash: hash,
            redirect_uris: registration.redirect_uris,
            grant_types,
            response_types,
            scope: registration.scope,
            token_endpoint_auth_method: registration.token_endpoint_auth_method,
            login_uri: registration.login_uri,
            allowed_cors_origins: registration.allowed_cors_origins,
            tls_client_auth_subject_dn: registration.tls_client_auth_subject_dn,
        };
        client.validate()?;
        self.store.create_client(&client.to_record(self.clock.now())?).await?;
        Ok(RegisteredClient { client, secret })
    }

    /// The client with `client_id`; [`identity_store::Error::NotFound`] if there is none.
    pub async fn get(&self, client_id: &str) -> Result<Client, Error> {
        Client::from_record(&self.store.client(client_id).await?)
    }

    /// Every client, ordered by id.
    pub async fn list(&self) -> Result<Vec<Client>, Error> {
        self.store.list_clients().await?.iter().map(Client::from_record).collect()
    }

    /// Replaces a client's metadata; its secret hash is kept (use [`rotate_secret`](Self::rotate_secret)).
    pub async fn update(&self, mut client: Client) -> Result<Client, Error> {
        let stored = self.store.client(&client.client_id).await?;
        let previous = Client::from_record(&stored)?;
        client.client_secret_hash = previous.client_secret_hash;
        client.validate()?;
        let mut record = client.to_record(stored.created_at)?;
        record.updated_at = self.clock.now();
        self.store.update_client(&record).await?;
        Ok(client)
    }

    /// Gives a confidential client a new secret (the old one stops working) and returns it, once.
    pub async fn rotate_secret(&self, client_id: &str) -> Result<ClientSecret, Error> {
        let stored = self.store.client(client_id).await?;
        let mut client = Client::from_record(&stored)?;
        if !client.token_endpoint_auth_method.uses_secret() {
            return Err(Error::InvalidClientMetadata {
                field: "token_endpoint_auth_method",
                reason: "only client_secret_* clients have a secret".into(),
            });
        }
        let (secret, hash) = new_secret()?;
        client.client_secret_hash = Some(hash);
        let mut record = client.to_record(stored.created_at)?;
        record.updated_at = self.clock.now();
        self.store.update_client(&record).await?;
        Ok(secret)
    }

    /// Deletes a client and every code and token issued to it.
    pub async fn delete(&self, client_id: &str) -> Result<(), Error> {
        Ok(self.store.delete_client(client_id).await?)
    }
}
