//! Sessions: issued after authentication as a random token (returned once, stored as its SHA-256), checked on
//! every request with one store read, extended, listed and revoked; and the "privileged" window within which a
//! session may change credentials.

use std::net::IpAddr;
use std::sync::Arc;

use identity_core::time::Duration;
use identity_core::{
    AssuranceLevel, AuthenticationMethod, Clock, CredentialType, Device, DeviceId, Identity, IdentityId, SecretString,
    Session, SessionId,
};
use identity_store::Store;

use crate::error::Error;
use crate::policy::Policies;
use crate::token::{hash_token, random_token};

/// How sessions behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// How long a session lasts (default 24 hours, Kratos' default).
    pub lifespan: Duration,
    /// A session is extended only once less than this is left of it (default: the whole lifespan, so always).
    pub earliest_possible_extend: Duration,
    /// How recently the identity must have authenticated for the session to change credentials (default 15
    /// minutes).
    pub privileged_max_age: Duration,
    /// Whether every identity needs a second factor, set up or not (default off). A one-factor session of an
    /// identity without one is then refused where [`RequiredAal::HighestAvailable`] applies, and good only for
    /// setting one up in settings.
    pub enforce_mfa: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            lifespan: Duration::hours(24),
            earliest_possible_extend: Duration::hours(24),
            privileged_max_age: Duration::minutes(15),
            enforce_mfa: false,
        }
    }
}

/// The assurance level a caller requires of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequiredAal {
    /// Any authenticated session.
    Aal1,
    /// Two factors if the identity has a second factor set up (Kratos' `highest_available`, its default for
    /// whoami).
    #[default]
    HighestAvailable,
}

/// Where a session is used from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address.
    pub ip_address: Option<IpAddr>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// A session just issued: the session, and its token to hand over once.
#[derive(Debug)]
pub struct IssuedSession {
    /// The stored session.
    pub session: Session,
    /// The token: give it to the client (cookie or body) once; only its hash is stored.
    pub token: SecretString,
}

/// Issues and checks sessions.
pub struct Sessions {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: SessionSettings,
    policies: Policies,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions over `store`, with time from `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, settings: SessionSettings) -> Result<Self, Error> {
        if !settings.lifespan.is_positive() || settings.privileged_max_age.is_negative() {
            return Err(Error::InvalidConfig { field: "sessions", reason: "the lifespan must be positive".into() });
        }
        Ok(Self { store, clock, settings, policies: Policies::default() })
    }

    /// The authentication policies in force, which can require a second factor (`highest_available` then asks
    /// for it even before one is set up).
    pub fn with_policies(mut self, policies: Policies) -> Self {
        self.policies = policies;
        self
    }

    /// A new session for `identity`, authenticated by `methods` (at least one), used from `client`.
    pub async fn issue(
        &self,
        identity: &Identity,
        methods: Vec<AuthenticationMethod>,
        client: ClientInfo,
    ) -> Result<IssuedSession, Error> {
        if !identity.is_active() {
            return Err(Error::IdentityDisabled);
        }
        let token = random_token()?;
        let mut session = Session::new(
            identity.id,
            hash_token(token.expose_secret()),
            methods,
            self.clock.now(),
            self.settings.lifespan,
        )?;
        if client.ip_address.is_some() || client.user_agent.is_some() {
            session.devices.push(Device {
                id: DeviceId::new(),
                ip_address: client.ip_address,
                user_agent: client.user_agent,
                location: None,
            });
        }
        self.store.insert_session(&session).await?;
        Ok(IssuedSession { session, token })
    }

    /// The hot path of every authenticated request: the session `token` stands for, with its identity, in one
    /// store read. [`Error::SessionInactive`] for an unknown, revoked or expired session or a disabled identity
    /// (indistinguishably); [`Error::Aal2Required`] when `required` asks for a second factor the session lacks.
    pub async fn check(&self, token: &str, required: RequiredAal) -> Result<(Session, Identity), Error> {
        let found = self.store.find_session_with_identity(&hash_token(token)).await?;
        let (session, identity) = found.ok_or(Error::SessionInactive)?;
        // A session issued before the identity's last state change (a disable, even if undone) stays dead.
        let outlived_state = identity.state_changed_at.is_some_and(|changed| changed > session.issued_at);
        if !session.is_valid_at(self.clock.now()) || !identity.is_active() || outlived_state {
            return Err(Error::SessionInactive);
        }
        if required == RequiredAal::HighestAvailable
            && session.authenticator_assurance_level < AssuranceLevel::Aal2
            && self.second_factor_expected(&identity)
        {
            return Err(Error::Aal2Required);
        }
        Ok((session, identity))
    }

    /// Adds a completed factor to a session (a second factor raises it to aal2; re-authentication refreshes
    /// its privileged window) and stores it.
    pub async fn add_method(&self, mut session: Session, method: AuthenticationMethod) -> Result<Session, Error> {
        session.add_method(method);
        self.store.update_session(&session).await?;
        Ok(session)
    }

    /// Whether `identity`'s sessions need a second factor: it has one, its policy asks for one, or the
    /// deployment enforces one for everybody.
    pub fn second_factor_expected(&self, identity: &Identity) -> bool {
        let secondary = self.policies.of(identity).secondary;
        self.settings.enforce_mfa
            || has_second_factor(identity)
            || secondary.require_totp
            || secondary.require_ext_jwt_signer.is_some()
    }

    /// `identity`'s session `id`; another identity's session is not found, so its id reveals nothing.
    async fn own(&self, identity: IdentityId, id: SessionId) -> Result<Session, Error> {
        let session = self.store.session(id).await?;
        if session.identity_id != identity {
            return Err(identity_store::Error::NotFound { what: "session", id: id.to_string() }.into());
        }
        Ok(session)
    }

    /// Extends `identity`'s session `id` to a full lifespan from now, once less than `earliest_possible_extend`
    /// is left; before that it is returned unchanged. A revoked or expired session cannot be extended.
    pub async fn extend(&self, identity: IdentityId, id: SessionId) -> Result<Session, Error> {
        let now = self.clock.now();
        let session = self.own(identity, id).await?;
        if !session.is_valid_at(now) {
            return Err(Error::SessionInactive);
        }
        if session.expires_at - now > self.settings.earliest_possible_extend {
            return Ok(session);
        }
        let expires_at =
            now.checked_add(self.settings.lifespan).ok_or(Error::Internal { reason: "lifespan".into() })?;
        Ok(self.store.extend_session(id, expires_at).await?)
    }

    /// The identity's sessions, newest first; with `active_only`, only those still usable.
    pub async fn list(&self, identity: IdentityId, active_only: bool) -> Result<Vec<Session>, Error> {
        let active_at = active_only.then(|| self.clock.now());
        Ok(self.store.sessions_of(identity, active_at).await?)
    }

    /// Revokes `identity`'s session `id` (logout, or "sign out that device").
    pub async fn revoke(&self, identity: IdentityId, id: SessionId) -> Result<(), Error> {
        self.own(identity, id).await?;
        Ok(self.store.revoke_session(id).await?)
    }

    /// Revokes every session of `identity` but `keep` ("sign out everywhere else"); returns how many.
    pub async fn revoke_others(&self, identity: IdentityId, keep: SessionId) -> Result<u64, Error> {
        Ok(self.store.revoke_sessions_of(identity, Some(keep)).await?)
    }

    /// Revokes every session of `identity`: after it is disabled, its password reset or a second factor
    /// removed. Returns how many were active.
    pub async fn revoke_all(&self, identity: IdentityId) -> Result<u64, Error> {
        Ok(self.store.revoke_sessions_of(identity, None).await?)
    }

    /// Whether `session` authenticated recently enough to change credentials.
    pub fn is_privileged(&self, session: &Session) -> bool {
        let now = self.clock.now();
        let age = now - session.authenticated_at;
        session.is_valid_at(now) && !age.is_negative() && age <= self.settings.privileged_max_age
    }

    /// [`Error::ReauthenticationRequired`] unless the session [`is_privileged`](Self::is_privileged).
    pub fn require_privileged(&self, session: &Session) -> Result<(), Error> {
        if self.is_privileged(session) { Ok(()) } else { Err(Error::ReauthenticationRequired) }
    }
}

/// Whether the identity has a second factor set up.
pub fn has_second_factor(identity: &Identity) -> bool {
    identity.has_credential(CredentialType::Totp) || identity.has_credential(CredentialType::LookupSecret)
}
