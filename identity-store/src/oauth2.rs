//! OAuth2 clients, the codes and tokens issued to them, and the provider's other named documents (signing keys,
//! upstream providers), stored as documents whose shape identity-oidc owns.

use async_trait::async_trait;
use identity_core::{GrantId, IdentityId, TokenHash, time::OffsetDateTime};
use serde_json::Value;

use crate::error::Error;

/// A registered OAuth2 client. Its secret, if any, is inside the document and only as a hash.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    /// The client id; unique.
    pub client_id: String,
    /// The client's metadata, as identity-oidc serialised it.
    pub document: Value,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// The kinds of secret an OAuth2 grant produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An authorization code: single use, short-lived.
    AuthorizationCode,
    /// An access token (kept for introspection and revocation).
    AccessToken,
    /// A refresh token: single use under rotation.
    RefreshToken,
}

impl TokenKind {
    /// The name used in storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::AuthorizationCode => "authorization_code",
            TokenKind::AccessToken => "access_token",
            TokenKind::RefreshToken => "refresh_token",
        }
    }

    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn parse(name: &str) -> Option<Self> {
        [TokenKind::AuthorizationCode, TokenKind::AccessToken, TokenKind::RefreshToken]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// A code or token as stored: its hash, never the secret.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// The secret's hash; unique.
    pub hash: TokenHash,
    /// What it is.
    pub kind: TokenKind,
    /// The client it was issued to; deleted with it.
    pub client_id: String,
    /// The identity it acts for (none for client credentials); deleted with it.
    pub identity_id: Option<IdentityId>,
    /// The grant it descends from; revoked together.
    pub grant_id: GrantId,
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// When it lapses.
    pub expires_at: OffsetDateTime,
    /// What identity-oidc keeps with it (scopes, nonce, PKCE challenge, ...).
    pub document: Value,
}

/// A named document of the OAuth2 provider (its signing key set, an upstream provider...), with the version that
/// optimistic updates compare.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDocument {
    /// What it is (`signing_keys`, `upstream_provider`, ...).
    pub kind: String,
    /// Its name within the kind; unique per kind.
    pub name: String,
    /// 1 when created, one more at each replacement.
    pub version: u64,
    /// The document, as identity-oidc serialised it.
    pub document: Value,
}

/// Where OAuth2 clients and their tokens live.
#[async_trait]
pub trait OAuth2Store: Send + Sync {
    /// Registers a client. [`Error::Conflict`] if the client id is taken.
    async fn create_client(&self, client: &ClientRecord) -> Result<(), Error>;
    /// The client with `client_id`.
    async fn client(&self, client_id: &str) -> Result<ClientRecord, Error>;
    /// Every client, ordered by client id.
    async fn list_clients(&self) -> Result<Vec<ClientRecord>, Error>;
    /// Replaces a stored client.
    async fn update_client(&self, client: &ClientRecord) -> Result<(), Error>;
    /// Deletes a client and every token issued to it.
    async fn delete_client(&self, client_id: &str) -> Result<(), Error>;

    /// Stores a code or token. [`Error::Conflict`] if the hash is taken; [`Error::NotFound`] if its client or
    /// identity is missing.
    async fn insert_token(&self, token: &TokenRecord) -> Result<(), Error>;
    /// The code or token hashing to `hash`, lapsed or not.
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<TokenRecord>, Error>;
    /// Deletes and returns the code or token hashing to `hash` if it has not lapsed at `now`. Of racing calls,
    /// exactly one gets it.
    async fn consume_token(&self, hash: &TokenHash, now: OffsetDateTime) -> Result<Option<TokenRecord>, Error>;
    /// Deletes every code and token of `grant`; returns how many.
    async fn revoke_grant(&self, grant: GrantId) -> Result<u64, Error>;
    /// Deletes every code and token issued for `identity`, across all clients and grants; returns how many.
    async fn revoke_tokens_of(&self, identity: IdentityId) -> Result<u64, Error>;
    /// Deletes codes and tokens that lapsed before `now`; returns how many.
    async fn delete_expired_tokens(&self, now: OffsetDateTime) -> Result<u64, Error>;

    /// Writes document `kind`/`name` and returns its new version. With `expected_version` `None` it creates the
    /// document ([`Error::Conflict`] if it exists); with `Some(v)` it replaces the document only if its version is
    /// still `v` ([`Error::Conflict`] if another writer got there first, [`Error::NotFound`] if it is gone), so
    /// that replicas rotating keys at once cannot overwrite each other.
    async fn put_document(
        &self,
        kind: &str,
        name: &str,
        document: &Value,
        expected_version: Option<u64>,
    ) -> Result<u64, Error>;
    /// Document `kind`/`name`, if stored.
    async fn document(&self, kind: &str, name: &str) -> Result<Option<StoredDocument>, Error>;
    /// Every document of `kind`, ordered by name.
    async fn list_documents(&self, kind: &str) -> Result<Vec<StoredDocument>, Error>;
    /// Deletes document `kind`/`name`; [`Error::NotFound`] if absent.
    async fn delete_document(&self, kind: &str, name: &str) -> Result<(), Error>;
}
