//! Enrollments (OpenZiti's model): an operator invites an identity to add a credential; the invitation is a
//! one-time token, delivered inside a signed JWT that names the identity, the enrollment method and the expiry.
//! `ott` enrols a certificate issued by the platform's CA, `ottca` one issued by a named third-party CA, `updb` a
//! password for a user name. Only the token's hash is stored; completing an enrollment consumes it.

use std::collections::HashMap;
use std::sync::Arc;

use identity_core::time::Duration;
use identity_core::{
    CaId, Clock, Credential, CredentialConfig, Enrollment, EnrollmentId, EnrollmentMethod, Identity, IdentityId,
    PasswordConfig, SecretBytes, SecretString, X509Config,
};
use identity_store::Store;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::ca::PlatformCa;
use crate::certificate::{CertificateVerifier, VerifiedCertificate};
use crate::error::Error;
use crate::password::{PasswordHasher, PasswordPolicy};
use crate::policy::Policies;
use crate::token::{hash_token, random_token};

/// An enrollment just made or refreshed.
#[derive(Debug)]
pub struct IssuedEnrollment {
    /// The stored enrollment (with the token's hash only).
    pub enrollment: Enrollment,
    /// The JWT to hand to the enrollee, once: it carries the token.
    pub jwt: SecretString,
}

/// How enrollments are issued.
#[derive(Debug, Clone)]
pub struct EnrollmentSettings {
    /// How long an enrollment stays open (default 24 hours).
    pub lifetime: Duration,
    /// The `iss` of enrollment JWTs (the platform's public URL).
    pub issuer: String,
}

impl Default for EnrollmentSettings {
    fn default() -> Self {
        Self { lifetime: Duration::hours(24), issuer: "identity".into() }
    }
}

/// What an enrollment JWT says. The server verifies its own JWTs, so they are signed with a server secret
/// (HS256); clients only read them.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    /// The one-time token, as OpenZiti carries it.
    jti: String,
    /// The enrollment method (`ott`, `ottca`, `updb`).
    em: String,
    exp: i64,
    iat: i64,
}

/// Issues and completes enrollments.
pub struct Enrollments {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: Arc<PasswordHasher>,
    policy: PasswordPolicy,
    policies: Policies,
    settings: EnrollmentSettings,
    encoding: EncodingKey,
    decoding: DecodingKey,
    platform_ca: Option<PlatformCa>,
    third_party_cas: HashMap<CaId, CertificateVerifier>,
}

impl std::fmt::Debug for Enrollments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrollments").field("settings", &self.settings).finish_non_exhaustive()
    }
}

fn certificate_credential(
    verified: VerifiedCertificate,
    now: identity_core::time::OffsetDateTime,
) -> Result<Credential, Error> {
    let config = CredentialConfig::X509(X509Config::single(verified.fingerprint, verified.subject));
    // The store derives login keys from the certificates themselves, so removing a certificate revokes it.
    Ok(Credential::new(config, vec![], now)?)
}

fn method_name(method: &EnrollmentMethod) -> &'static str {
    match method {
        EnrollmentMethod::Ott => "ott",
        EnrollmentMethod::Ottca { .. } => "ottca",
        EnrollmentMethod::Updb { .. } => "updb",
    }
}

impl Enrollments {
    /// Enrollments signed with `signing_key` (at least 32 random bytes, kept secret by the server).
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: Arc<PasswordHasher>,
        signing_key: &SecretBytes,
        settings: EnrollmentSettings,
    ) -> Result<Self, Error> {
        if signing_key.expose_secret().len() < 32 {
            return Err(Error::InvalidConfig { field: "signing_key", reason: "must be at least 32 bytes".into() });
        }
        if !settings.lifetime.is_positive() {
            return Err(Error::InvalidConfig { field: "lifetime", reason: "must be positive".into() });
        }
        Ok(Self {
            store,
            clock,
            hasher,
            policy: PasswordPolicy::default(),
            policies: Policies::default(),
            settings,
            encoding: EncodingKey::from_secret(signing_key.expose_secret()),
            decoding: DecodingKey::from_secret(signing_key.expose_secret()),
            platform_ca: None,
            third_party_cas: HashMap::new(),
        })
    }

    /// The password policy `updb` completions must meet.
    pub fn with_password_policy(mut self, policy: PasswordPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The authentication policies in force: a `updb` password must also be as long as the identity's policy
    /// demands.
    pub fn with_policies(mut self, policies: Policies) -> Self {
        self.policies = policies;
        self
    }

    /// The platform's CA, which signs the CSRs of `ott` enrollees.
    pub fn with_platform_ca(mut self, ca: PlatformCa) -> Self {
        self.platform_ca = Some(ca);
        self
    }

    /// A third-party CA that `ottca` enrollments may name.
    pub fn with_third_party_ca(mut self, id: CaId, verifier: CertificateVerifier) -> Self {
        self.third_party_cas.insert(id, verifier);
        self
    }

    /// Opens an enrollment for `identity`.
    pub async fn create(&self, identity: IdentityId, method: EnrollmentMethod) -> Result<IssuedEnrollment, Error> {
        self.store.identity(identity).await?;
        let now = self.clock.now();
        let token = random_token()?;
        let enrollment =
            Enrollment::new(identity, method, hash_token(token.expose_secret()), now, self.settings.lifetime)?;
        self.store.insert_enrollment(&enrollment).await?;
        let jwt = self.sign(&enrollment, &token)?;
        Ok(IssuedEnrollment { enrollment, jwt })
    }

    /// Gives an enrollment a new token and a new expiry (the old JWT stops working).
    pub async fn refresh(&self, id: EnrollmentId) -> Result<IssuedEnrollment, Error> {
        let mut enrollment = self.store.enrollment(id).await?;
        let token = random_token()?;
        enrollment.refresh(hash_token(token.expose_secret()), self.clock.now(), self.settings.lifetime)?;
        self.store.update_enrollment(&enrollment).await?;
        let jwt = self.sign(&enrollment, &token)?;
        Ok(IssuedEnrollment { enrollment, jwt })
    }

    fn sign(&self, enrollment: &Enrollment, token: &SecretString) -> Result<SecretString, Error> {
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            sub: enrollment.identity_id.to_string(),
            jti: token.expose_secret().to_owned(),
            em: method_name(&enrollment.method).to_owned(),
            exp: enrollment.expires_at.unix_timestamp(),
            iat: enrollment.created_at.unix_timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map(SecretString::new)
            .map_err(|e| Error::Internal { reason: format!("signing an enrollment JWT: {e}") })
    }

    /// The open enrollment a JWT names, checked for method and expiry (but not consumed).
    async fn open(&self, jwt: &str, expected: &'static str) -> Result<(Enrollment, identity_core::TokenHash), Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the enrollment's stored expiry and the clock, below.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[self.settings.issuer.as_str()]);
        let claims = jsonwebtoken::decode::<Claims>(jwt, &self.decoding, &validation)
            .map_err(|_| Error::InvalidEnrollment)?
            .claims;
        let hash = hash_token(&claims.jti);
        let enrollment = self.store.find_enrollment_by_token_hash(&hash).await?.ok_or(Error::InvalidEnrollment)?;
        let actual = method_name(&enrollment.method);
        if actual != expected {
            return Err(Error::WrongEnrollmentMethod { expected: actual });
        }
        if enrollment.is_expired_at(self.clock.now()) {
            return Err(Error::EnrollmentExpired);
        }
        Ok((enrollment, hash))
    }

    /// Completes an `updb` enrollment: sets `password` for the enrollment's user name and consumes it.
    pub async fn complete_password(
        &self,
        jwt: &str,
        username: &str,
        password: SecretString,
    ) -> Result<Identity, Error> {
        let (enrollment, hash) = self.open(jwt, "updb").await?;
        let EnrollmentMethod::Updb { username: expected } = &enrollment.method else {
            return Err(Error::InvalidEnrollment);
        };
        let normalize =
            |name: &str| identity_store::normalize_identifier(identity_core::CredentialType::Password, name);
        if normalize(expected) != normalize(username) {
            return Err(Error::InvalidEnrollment);
        }
        let owner = self.store.identity(enrollment.identity_id).await?;
        let mut policy = self.policy.clone();
        let required =
            usize::try_from(self.policies.of(&owner).primary.password.min_password_length).unwrap_or(usize::MAX);
        policy.min_length = policy.min_length.max(required);
        policy.check(&password, &[expected.as_str()], self.hasher.max_password_bytes())?;
        let hashed = self.hasher.hash_async(password).await?;
        let config = CredentialConfig::Password(PasswordConfig { hashed_password: Some(hashed) });
        let credential = Credential::new(config, vec![expected.clone()], self.clock.now())?;
        self.finish(hash, enrollment.identity_id, credential).await
    }

    /// Completes an `ott` enrollment: the platform CA signs the enrollee's certificate signing request (PEM or
    /// DER) into a client certificate named after the identity, registers it, consumes the enrollment and
    /// returns the identity with the certificate (DER) for the enrollee.
    pub async fn complete_ott(&self, jwt: &str, csr: &[u8]) -> Result<(Identity, Vec<u8>), Error> {
        let (enrollment, hash) = self.open(jwt, "ott").await?;
        let ca = self.platform_ca.as_ref().ok_or(Error::InvalidConfig {
            field: "platform_ca",
            reason: "`ott` enrollments need the platform CA".into(),
        })?;
        let now = self.clock.now();
        let certificate = ca.issue(csr, &enrollment.identity_id.to_string(), now)?;
        let verified = ca.verifier().verify(&certificate, &[], now)?;
        let identity = self.finish(hash, enrollment.identity_id, certificate_credential(verified, now)?).await?;
        Ok((identity, certificate))
    }

    /// Completes an `ottca` enrollment with a certificate the enrollment's third-party CA issued: verifies it,
    /// registers its fingerprint and consumes the enrollment.
    pub async fn complete_ottca(
        &self,
        jwt: &str,
        certificate: &[u8],
        intermediates: &[Vec<u8>],
    ) -> Result<Identity, Error> {
        let (enrollment, hash) = self.open(jwt, "ottca").await?;
        let EnrollmentMethod::Ottca { ca_id } = &enrollment.method else { return Err(Error::InvalidEnrollment) };
        let verifier = self.third_party_cas.get(ca_id).ok_or(Error::UnknownIssuer)?;
        let now = self.clock.now();
        let verified = verifier.verify(certificate, intermediates, now)?;
        self.finish(hash, enrollment.identity_id, certificate_credential(verified, now)?).await
    }

    /// Consumes the enrollment and stores the credential in one store transaction: of concurrent completions
    /// exactly one succeeds, and if the credential cannot be stored (say, the user name is taken) the enrollment
    /// stays open.
    async fn finish(
        &self,
        hash: identity_core::TokenHash,
        identity: IdentityId,
        credential: Credential,
    ) -> Result<Identity, Error> {
        let now = self.clock.now();
        for _ in 0..8 {
            let mut stored = self.store.identity(identity).await?;
            let read_at = stored.updated_at;
            let mut credential = credential.clone();
            if let Some(existing) = stored.credentials.get(credential.credential_type()) {
                // A new password keeps the identifiers the old one answered to (say, the email from the schema);
                // a new certificate joins those already enrolled.
                for identifier in &existing.identifiers {
                    if !credential.identifiers.contains(identifier) {
                        credential.identifiers.push(identifier.clone());
                    }
                }
                if let (CredentialConfig::X509(held), CredentialConfig::X509(new)) =
                    (&existing.config, &mut credential.config)
                {
                    let mut merged = held.clone();
                    for certificate in std::mem::take(&mut new.certificates) {
                        merged.add(certificate);
                    }
                    *new = merged;
                }
                credential.created_at = existing.created_at;
            }
            stored.credentials.insert(credential);
            stored.updated_at = crate::authenticator::later_than(read_at, now);
            match self.store.complete_enrollment(&hash, now, &stored, read_at).await {
                Ok(Some(_)) => return Ok(stored),
                Ok(None) => return Err(Error::InvalidEnrollment),
                // The identity changed meanwhile: apply the credential to the fresh copy.
                Err(identity_store::Error::Conflict { field, .. }) if field == "identity version" => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(Error::Internal { reason: "the identity kept changing during the enrollment".into() })
    }
}
