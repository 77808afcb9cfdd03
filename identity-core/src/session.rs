//! Sessions: proof that an identity authenticated, held by the client as a token and by the store as its hash.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::credential::CredentialType;
use crate::error::{Error, Problem};
use crate::id::{DeviceId, IdentityId, SessionId};
use crate::json::Validate;
use crate::secret::TokenHash;

/// Authenticator assurance level: how many factors a session has proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AssuranceLevel {
    /// One factor.
    Aal1,
    /// Two factors.
    Aal2,
}

/// One factor completed during the session's authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthenticationMethod {
    /// The credential type used.
    pub method: CredentialType,
    /// The level this step reached.
    pub aal: AssuranceLevel,
    /// When it was completed.
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
}

/// A device a session was used from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// The device's id.
    pub id: DeviceId,
    /// The client's address, when known.
    #[serde(default)]
    pub ip_address: Option<IpAddr>,
    /// The client's `User-Agent`, when sent.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// A coarse location, when known.
    #[serde(default)]
    pub location: Option<String>,
}

/// A session. The token itself is never part of it: only its [`TokenHash`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The session's id (not secret; used to list and revoke).
    pub id: SessionId,
    /// Whose session it is.
    pub identity_id: IdentityId,
    /// The hash of the token the client holds.
    pub token_hash: TokenHash,
    /// False once revoked.
    pub active: bool,
    /// The highest level reached.
    pub authenticator_assurance_level: AssuranceLevel,
    /// The factors completed, in order.
    pub authentication_methods: Vec<AuthenticationMethod>,
    /// When the session was issued.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// When the identity last authenticated in it (refreshed by re-authentication).
    #[serde(with = "time::serde::rfc3339")]
    pub authenticated_at: OffsetDateTime,
    /// When it stops being valid.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Where it was used from.
    #[serde(default)]
    pub devices: Vec<Device>,
}

impl Session {
    /// A session for `identity_id` whose token hashes to `token_hash`, authenticated by `methods` (at least
    /// one), issued at `now` for `lifespan` (positive). Its level is the highest the methods reached.
    pub fn new(
        identity_id: IdentityId,
        token_hash: TokenHash,
        methods: Vec<AuthenticationMethod>,
        now: OffsetDateTime,
        lifespan: Duration,
    ) -> Result<Self, Error> {
        if !lifespan.is_positive() {
            return Err(Problem::Inconsistent("a session's lifespan must be positive").at("lifespan"));
        }
        let expires_at = now
            .checked_add(lifespan)
            .ok_or(Problem::Inconsistent("a session's lifespan must end before the year 10000").at("lifespan"))?;
        let session = Self {
            id: SessionId::new(),
            identity_id,
            token_hash,
            active: true,
            authenticator_assurance_level: highest_level(&methods).unwrap_or(AssuranceLevel::Aal1),
            authentication_methods: methods,
            issued_at: now,
            authenticated_at: now,
            expires_at,
            devices: Vec::new(),
        };
        session.validate()?;
        Ok(session)
    }

    /// Whether the session can be used at `now`: active and not expired.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.active && now < self.expires_at
    }

    /// Records another completed factor and raises the level if it is higher.
    pub fn add_method(&mut self, method: AuthenticationMethod) {
        // A completion time from the future must not stretch the privileged window.
        self.authenticated_at = self.authenticated_at.max(method.completed_at.min(self.expires_at));
        self.authentication_methods.push(method);
        self.authenticator_assurance_level =
            highest_level(&self.authentication_methods).unwrap_or(self.authenticator_assurance_level);
    }

    /// Ends the session.
    pub fn revoke(&mut self) {
        self.active = false;
    }
}

/// The level `methods` reach: aal2 takes a first factor and a second one, so one method alone, whatever it
/// claims, stays aal1.
fn highest_level(methods: &[AuthenticationMethod]) -> Option<AssuranceLevel> {
    let first = methods.iter().any(|m| m.aal == AssuranceLevel::Aal1);
    let second = methods.iter().any(|m| m.aal == AssuranceLevel::Aal2);
    match (methods.is_empty(), first && second) {
        (true, _) => None,
        (false, true) => Some(AssuranceLevel::Aal2),
        (false, false) => Some(AssuranceLevel::Aal1),
    }
}

impl Validate for Session {
    fn validate(&self) -> Result<(), Error> {
        if self.authentication_methods.is_empty() {
            return Err(Problem::Empty.at("authentication_methods"));
        }
        if highest_level(&self.authentication_methods) != Some(self.authenticator_assurance_level) {
            return Err(Problem::Inconsistent("must be the highest level of the authentication methods")
                .at("authenticator_assurance_level"));
        }
        if self.expires_at <= self.issued_at {
            return Err(Problem::NotAfter { earlier: "issued_at" }.at("expires_at"));
        }
        if self.authenticated_at < self.issued_at {
            return Err(Problem::Inconsistent("cannot be before `issued_at`").at("authenticated_at"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::from_json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

    fn password_step() -> AuthenticationMethod {
        AuthenticationMethod { method: CredentialType::Password, aal: AssuranceLevel::Aal1, completed_at: NOW }
    }

    fn session() -> Session {
        Session::new(IdentityId::new(), TokenHash::from_bytes([1; 32]), vec![password_step()], NOW, Duration::hours(24))
            .unwrap()
    }

    #[test]
    fn a_session_is_valid_until_it_expires_or_is_revoked() {
        let mut session = session();
        assert_eq!(session.authenticator_assurance_level, AssuranceLevel::Aal1);
        assert!(session.is_valid_at(NOW + Duration::hours(23)));
        assert!(!session.is_valid_at(NOW + Duration::hours(24)));
        session.revoke();
        assert!(!session.is_valid_at(NOW));
    }

    #[test]
    fn a_second_factor_raises_the_level() {
        let mut session = session();
        let later = NOW + Duration::minutes(1);
        session.add_method(AuthenticationMethod {
            method: CredentialType::Totp,
            aal: AssuranceLevel::Aal2,
            completed_at: later,
        });
        assert_eq!(session.authenticator_assurance_level, AssuranceLevel::Aal2);
        assert_eq!(session.authenticated_at, later);
        assert!(session.validate().is_ok());
    }

    #[test]
    fn one_factor_alone_is_aal1_whatever_it_claims() {
        let claim = AuthenticationMethod { method: CredentialType::Totp, aal: AssuranceLevel::Aal2, completed_at: NOW };
        let session =
            Session::new(IdentityId::new(), TokenHash::from_bytes([1; 32]), vec![claim], NOW, Duration::hours(1));
        assert_eq!(session.unwrap().authenticator_assurance_level, AssuranceLevel::Aal1);
    }

    #[test]
    fn bad_sessions_are_refused() {
        let no_methods =
            Session::new(IdentityId::new(), TokenHash::from_bytes([1; 32]), vec![], NOW, Duration::hours(1));
        assert_eq!(no_methods.unwrap_err(), Problem::Empty.at("authentication_methods"));
        let no_life =
            Session::new(IdentityId::new(), TokenHash::from_bytes([1; 32]), vec![password_step()], NOW, Duration::ZERO);
        assert!(matches!(no_life, Err(Error::InvalidField { ref field, .. }) if field == "lifespan"));
        let forever =
            Session::new(IdentityId::new(), TokenHash::from_bytes([1; 32]), vec![password_step()], NOW, Duration::MAX);
        assert!(matches!(forever, Err(Error::InvalidField { ref field, .. }) if field == "lifespan"));
    }

    #[test]
    fn decoding_checks_the_level_and_the_aal_names() {
        let mut json = serde_json::to_value(session()).unwrap();
        json["authenticator_assurance_level"] = "aal2".into();
        let err = from_json::<Session>(&json.to_string()).unwrap_err();
        assert!(matches!(err, Error::InvalidField { ref field, .. } if field == "authenticator_assurance_level"));
        json["authenticator_assurance_level"] = "aal9".into();
        let err = from_json::<Session>(&json.to_string()).unwrap_err();
        assert!(matches!(err, Error::Json { ref path, .. } if path == "authenticator_assurance_level"), "{err}");
    }

    #[test]
    fn devices_keep_typed_addresses() {
        let device = Device {
            id: DeviceId::new(),
            ip_address: Some("192.0.2.7".parse().unwrap()),
            user_agent: Some("curl/8".into()),
            location: None,
        };
        let json = serde_json::to_value(&device).unwrap();
        assert_eq!(json["ip_address"], "192.0.2.7");
        assert!(serde_json::from_value::<Device>(serde_json::json!({"id": device.id, "ip_address": "nope"})).is_err());
    }
}
