//! Authentication policies: which primary methods an identity may use, and which second factors it must add
//! (OpenZiti's model).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::credential::CredentialType;
use crate::error::{Error, Problem, require_text};
use crate::id::{AuthenticationPolicyId, JwtSignerId};
use crate::json::Validate;

/// The smallest minimum password length a policy may set (NIST SP 800-63B).
pub const MIN_PASSWORD_LENGTH_FLOOR: u32 = 8;

/// A named set of authentication rules; identities without a policy get [`AuthenticationPolicy::default`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationPolicy {
    /// The policy's id.
    pub id: AuthenticationPolicyId,
    /// A name for operators.
    pub name: String,
    /// Primary (first-factor) methods.
    pub primary: PrimaryMethods,
    /// Second factors.
    pub secondary: SecondaryFactors,
}

/// The first-factor methods a policy allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryMethods {
    /// Client certificates.
    pub cert: CertificateRules,
    /// User name and password.
    pub password: PasswordRules,
    /// JWTs from external signers.
    pub ext_jwt: ExtJwtRules,
}

/// Rules for certificate authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateRules {
    /// Whether certificates may be used.
    pub allowed: bool,
    /// Whether an expired certificate still authenticates (for devices that cannot renew on time).
    #[serde(default)]
    pub allow_expired_certs: bool,
}

/// Rules for password authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordRules {
    /// Whether passwords may be used.
    pub allowed: bool,
    /// The shortest password accepted, at least [`MIN_PASSWORD_LENGTH_FLOOR`].
    pub min_password_length: u32,
    /// Failed attempts before the identity is locked out; `None` for no lockout.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// How long a lockout lasts, in minutes (at least 1 when `max_attempts` is set).
    #[serde(default)]
    pub lockout_duration_minutes: u32,
}

/// Rules for external JWT authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtJwtRules {
    /// Whether external JWTs may be used.
    pub allowed: bool,
    /// The signers whose JWTs are accepted; empty means none.
    #[serde(default)]
    pub allowed_signers: BTreeSet<JwtSignerId>,
}

/// The second factors a policy requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SecondaryFactors {
    /// Whether a TOTP code is required after the first factor.
    #[serde(default)]
    pub require_totp: bool,
    /// A signer whose JWT is required as a second factor.
    #[serde(default)]
    pub require_ext_jwt_signer: Option<JwtSignerId>,
}

impl Default for AuthenticationPolicy {
    /// The default policy: passwords (8 characters or more, lockout for 15 minutes after 10 failures) and
    /// certificates; no external JWTs until a signer is allowed; no second factor required.
    fn default() -> Self {
        Self {
            id: AuthenticationPolicyId::from_uuid(uuid::Uuid::nil()),
            name: "default".into(),
            primary: PrimaryMethods {
                cert: CertificateRules { allowed: true, allow_expired_certs: false },
                password: PasswordRules {
                    allowed: true,
                    min_password_length: MIN_PASSWORD_LENGTH_FLOOR,
                    max_attempts: Some(10),
                    lockout_duration_minutes: 15,
                },
                ext_jwt: ExtJwtRules { allowed: false, allowed_signers: BTreeSet::new() },
            },
            secondary: SecondaryFactors::default(),
        }
    }
}

impl AuthenticationPolicy {
    /// Whether `method` may be used as a first factor. For external JWTs, see also [`Self::allows_signer`].
    pub fn allows_primary(&self, method: CredentialType) -> bool {
        match method {
            CredentialType::Password => self.primary.password.allowed,
            CredentialType::X509 => self.primary.cert.allowed,
            CredentialType::ExtJwt => self.primary.ext_jwt.allowed,
            _ => false,
        }
    }

    /// Whether a JWT from `signer` may be used as a first factor.
    pub fn allows_signer(&self, signer: JwtSignerId) -> bool {
        self.primary.ext_jwt.allowed && self.primary.ext_jwt.allowed_signers.contains(&signer)
    }
}

impl Validate for AuthenticationPolicy {
    fn validate(&self) -> Result<(), Error> {
        require_text("name", &self.name)?;
        let primary = &self.primary;
        if !(primary.cert.allowed || primary.password.allowed || primary.ext_jwt.allowed) {
            return Err(Problem::Inconsistent("at least one primary method must be allowed").at("primary"));
        }
        let password = &primary.password;
        if password.min_password_length < MIN_PASSWORD_LENGTH_FLOOR || password.min_password_length > 1024 {
            return Err(Problem::OutOfRange { min: MIN_PASSWORD_LENGTH_FLOOR.into(), max: 1024 }
                .at("primary.password.min_password_length"));
        }
        if let Some(attempts) = password.max_attempts {
            if attempts == 0 {
                return Err(Problem::OutOfRange { min: 1, max: u32::MAX.into() }.at("primary.password.max_attempts"));
            }
            if password.lockout_duration_minutes == 0 {
                return Err(Problem::OutOfRange { min: 1, max: u32::MAX.into() }
                    .at("primary.password.lockout_duration_minutes"));
            }
        }
        if primary.ext_jwt.allowed && primary.ext_jwt.allowed_signers.is_empty() {
            return Err(Problem::Inconsistent("name at least one signer when external JWTs are allowed")
                .at("primary.ext_jwt.allowed_signers"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::from_json;

    #[test]
    fn the_default_policy_is_valid_and_safe() {
        let policy = AuthenticationPolicy::default();
        assert!(policy.validate().is_ok());
        assert!(policy.allows_primary(CredentialType::Password));
        assert!(policy.allows_primary(CredentialType::X509));
        assert!(!policy.allows_primary(CredentialType::ExtJwt));
        assert!(!policy.allows_primary(CredentialType::Totp));
        assert!(!policy.allows_signer(JwtSignerId::new()));
    }

    #[test]
    fn signers_must_be_listed() {
        let signer = JwtSignerId::new();
        let mut policy = AuthenticationPolicy::default();
        policy.primary.ext_jwt.allowed = true;
        assert!(policy.validate().is_err());
        policy.primary.ext_jwt.allowed_signers.insert(signer);
        assert!(policy.validate().is_ok());
        assert!(policy.allows_signer(signer));
        assert!(!policy.allows_signer(JwtSignerId::new()));
    }

    #[test]
    fn bad_policies_name_the_field() {
        let mut policy = AuthenticationPolicy::default();
        policy.primary.password.min_password_length = 4;
        assert!(matches!(policy.validate(), Err(Error::InvalidField { ref field, .. })
            if field == "primary.password.min_password_length"));
        let mut policy = AuthenticationPolicy::default();
        policy.primary.password.lockout_duration_minutes = 0;
        assert!(matches!(policy.validate(), Err(Error::InvalidField { ref field, .. })
            if field == "primary.password.lockout_duration_minutes"));
        let mut policy = AuthenticationPolicy::default();
        policy.primary.password.allowed = false;
        policy.primary.cert.allowed = false;
        assert!(matches!(policy.validate(), Err(Error::InvalidField { ref field, .. }) if field == "primary"));
    }

    #[test]
    fn decoding_validates() {
        let mut json = serde_json::to_value(AuthenticationPolicy::default()).unwrap();
        assert!(from_json::<AuthenticationPolicy>(&json.to_string()).is_ok());
        json["primary"]["password"]["min_password_length"] = 3.into();
        assert!(from_json::<AuthenticationPolicy>(&json.to_string()).is_err());
    }
}
