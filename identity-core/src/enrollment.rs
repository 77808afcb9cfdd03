//! Enrollments: one-time, expiring invitations to add a credential (OpenZiti's `ott`, `ottca` and `updb`).

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Problem, require_text};
use crate::id::{CaId, EnrollmentId, IdentityId};
use crate::json::Validate;
use crate::secret::TokenHash;

/// What completing the enrollment adds to the identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EnrollmentMethod {
    /// A one-time token that lets a device present a certificate signing request to the platform's CA.
    Ott,
    /// A one-time token that lets a device register a certificate issued by a third-party CA.
    Ottca {
        /// The CA that must have issued the certificate.
        ca_id: CaId,
    },
    /// A one-time token that lets a person set a password for `username`.
    Updb {
        /// The user name the password will be for.
        username: String,
    },
}

/// An open enrollment. Its token is shown once; the store keeps only the hash, and consumes it on completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    /// The enrollment's id.
    pub id: EnrollmentId,
    /// The identity it enrolls a credential for.
    pub identity_id: IdentityId,
    /// What it enrolls.
    pub method: EnrollmentMethod,
    /// The hash of the one-time token.
    pub token_hash: TokenHash,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it lapses.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl Enrollment {
    /// An enrollment made at `now`, lapsing after `lifetime` (positive).
    pub fn new(
        identity_id: IdentityId,
        method: EnrollmentMethod,
        token_hash: TokenHash,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<Self, Error> {
        let enrollment = Self {
            id: EnrollmentId::new(),
            identity_id,
            method,
            token_hash,
            created_at: now,
            expires_at: end_of(now, lifetime)?,
        };
        enrollment.validate()?;
        Ok(enrollment)
    }

    /// Whether it has lapsed at `now`.
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        now >= self.expires_at
    }

    /// Replaces the token and pushes the expiry to `now + lifetime` (OpenZiti's refresh): the old token stops
    /// working, since only the new hash is kept.
    pub fn refresh(&mut self, token_hash: TokenHash, now: OffsetDateTime, lifetime: Duration) -> Result<(), Error> {
        if !lifetime.is_positive() {
            return Err(Problem::Inconsistent("an enrollment's lifetime must be positive").at("lifetime"));
        }
        self.expires_at = end_of(now, lifetime)?;
        self.token_hash = token_hash;
        Ok(())
    }
}

fn end_of(now: OffsetDateTime, lifetime: Duration) -> Result<OffsetDateTime, Error> {
    now.checked_add(lifetime)
        .ok_or(Problem::Inconsistent("an enrollment's lifetime must end before the year 10000").at("lifetime"))
}

impl Validate for Enrollment {
    fn validate(&self) -> Result<(), Error> {
        if let EnrollmentMethod::Updb { username } = &self.method {
            require_text("method.username", username)?;
        }
        if self.expires_at <= self.created_at {
            return Err(Problem::NotAfter { earlier: "created_at" }.at("expires_at"));
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

    #[test]
    fn an_enrollment_lapses_and_can_be_refreshed() {
        let mut enrollment = Enrollment::new(
            IdentityId::new(),
            EnrollmentMethod::Ott,
            TokenHash::from_bytes([1; 32]),
            NOW,
            Duration::hours(1),
        )
        .unwrap();
        assert!(!enrollment.is_expired_at(NOW + Duration::minutes(59)));
        assert!(enrollment.is_expired_at(NOW + Duration::hours(1)));
        let later = NOW + Duration::hours(2);
        enrollment.refresh(TokenHash::from_bytes([2; 32]), later, Duration::hours(1)).unwrap();
        assert!(!enrollment.is_expired_at(later));
        assert_eq!(enrollment.token_hash, TokenHash::from_bytes([2; 32]));
        assert!(enrollment.refresh(TokenHash::from_bytes([3; 32]), later, Duration::ZERO).is_err());
        assert!(enrollment.refresh(TokenHash::from_bytes([3; 32]), later, Duration::MAX).is_err());
        assert_eq!(enrollment.token_hash, TokenHash::from_bytes([2; 32]), "a refused refresh changes nothing");
    }

    #[test]
    fn bad_enrollments_name_their_field() {
        let blank = EnrollmentMethod::Updb { username: " ".into() };
        let err = Enrollment::new(IdentityId::new(), blank, TokenHash::from_bytes([1; 32]), NOW, Duration::hours(1));
        assert_eq!(err.unwrap_err(), Problem::Empty.at("method.username"));
        let err = Enrollment::new(
            IdentityId::new(),
            EnrollmentMethod::Ott,
            TokenHash::from_bytes([1; 32]),
            NOW,
            -Duration::hours(1),
        );
        assert_eq!(err.unwrap_err(), Problem::NotAfter { earlier: "created_at" }.at("expires_at"));
    }

    #[test]
    fn methods_serialise_with_their_data() {
        let ca_id = CaId::new();
        let enrollment = Enrollment::new(
            IdentityId::new(),
            EnrollmentMethod::Ottca { ca_id },
            TokenHash::from_bytes([1; 32]),
            NOW,
            Duration::hours(1),
        )
        .unwrap();
        let json = serde_json::to_value(&enrollment).unwrap();
        assert_eq!(json["method"], serde_json::json!({"type": "ottca", "ca_id": ca_id}));
        assert_eq!(from_json::<Enrollment>(&json.to_string()).unwrap(), enrollment);
        let mut bad = json.clone();
        bad["method"]["type"] = "magic".into();
        let err = from_json::<Enrollment>(&bad.to_string()).unwrap_err();
        assert!(matches!(err, Error::Json { ref path, .. } if path.starts_with("method")), "{err}");
    }
}
