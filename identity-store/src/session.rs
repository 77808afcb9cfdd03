//! Sessions, looked up only by their token's hash.

use async_trait::async_trait;
use identity_core::{Identity, IdentityId, Session, SessionId, TokenHash, time::OffsetDateTime};

use crate::error::Error;
use crate::page::{Page, PageRequest};

/// Where sessions live. Every lookup by secret goes through the token's hash; the store never sees a token.
///
/// A session belongs to an existing identity ([`Error::NotFound`] otherwise) and is deleted with it.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session. [`Error::Conflict`] if its id or token hash is taken.
    async fn insert_session(&self, session: &Session) -> Result<(), Error>;

    /// The session with `id`, active or not.
    async fn session(&self, id: SessionId) -> Result<Session, Error>;

    /// The session whose token hashes to `hash`, active or not.
    async fn find_session_by_token_hash(&self, hash: &TokenHash) -> Result<Option<Session>, Error>;

    /// The session whose token hashes to `hash`, with its identity, in one read: the hot path of every
    /// authenticated request.
    async fn find_session_with_identity(&self, hash: &TokenHash) -> Result<Option<(Session, Identity)>, Error>;

    /// A page of all sessions, ordered by id; with `active_at`, only those still usable then.
    async fn list_sessions(
        &self,
        active_at: Option<OffsetDateTime>,
        page: &PageRequest,
    ) -> Result<Page<Session>, Error>;

    /// The sessions of `identity`, newest first: all of them, or with `active_at` only those active and not
    /// expired at that instant.
    async fn sessions_of(&self, identity: IdentityId, active_at: Option<OffsetDateTime>)
    -> Result<Vec<Session>, Error>;

    /// Replaces a stored session (a second factor added, a device recorded). Its expiry is left as stored (only
    /// [`extend_session`](Self::extend_session) moves it, so a concurrent extension is never undone), and a
    /// revoked session stays revoked.
    async fn update_session(&self, session: &Session) -> Result<(), Error>;

    /// Moves the session's expiry to `expires_at` and returns it.
    async fn extend_session(&self, id: SessionId, expires_at: OffsetDateTime) -> Result<Session, Error>;

    /// Revokes one session.
    async fn revoke_session(&self, id: SessionId) -> Result<(), Error>;

    /// Revokes every active session of `identity` except `keep`; returns how many were revoked.
    async fn revoke_sessions_of(&self, identity: IdentityId, keep: Option<SessionId>) -> Result<u64, Error>;

    /// Deletes sessions that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, Error>;

    /// How many sessions are valid at `now` (active and unexpired), for gauges and dashboards.
    async fn count_active_sessions(&self, now: OffsetDateTime) -> Result<u64, Error>;
}
