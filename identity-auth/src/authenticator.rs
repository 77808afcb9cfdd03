//! One entry point for first factors: a presented credential (password, client certificate or external JWT)
//! goes in; the identity, the methods used, the assurance level and any second factor still required come out,
//! after the identity's authentication policy and its lockout counters were applied. Second factors (TOTP,
//! backup codes) have their own calls, which also update the stored credential.

use std::net::IpAddr;
use std::sync::Arc;

use identity_core::time::{Duration, OffsetDateTime};
use identity_core::{
    AssuranceLevel, AuthenticationMethod, AuthenticationPolicy, Clock, CredentialConfig, CredentialType, Identity,
    IdentityId, SecretString,
};
use identity_store::Store;

use crate::certificate::CertificateVerifier;
use crate::error::Error;
use crate::jwt_signer::{CompiledSigner, IdentityMatch};
use crate::lookup::LookupSecrets;
use crate::password::{PasswordHasher, Verification};
use crate::policy::Policies;
use crate::throttle::{RateLimit, Throttle, identifier_key, identity_key, second_factor_key};
use crate::totp::TotpVerifier;

/// A first factor as a client presents it.
#[derive(Debug)]
pub enum Presentation {
    /// An identifier (email, user name) and a password.
    Password {
        /// The identifier, as typed.
        identifier: String,
        /// The password.
        password: SecretString,
    },
    /// A client certificate (DER or PEM) from the TLS handshake, with any intermediates the client sent.
    Certificate {
        /// The leaf.
        certificate: Vec<u8>,
        /// Intermediates, leaf's issuer first or in any order.
        intermediates: Vec<Vec<u8>>,
    },
    /// A JWT from a trusted external signer.
    ExternalJwt {
        /// The compact JWT.
        token: SecretString,
    },
}

/// A successful first factor.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// Who authenticated.
    pub identity: Identity,
    /// The factors completed so far.
    pub methods: Vec<AuthenticationMethod>,
    /// The level reached so far.
    pub aal: AssuranceLevel,
    /// The second factors the identity can complete, when one is still required (by its policy, or because it
    /// has one). An empty list means one is required but none is set up yet: the caller must enrol TOTP.
    pub second_factor: Option<Vec<CredentialType>>,
}

/// Checks first and second factors against the store, under each identity's authentication policy.
pub struct Authenticator {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: Arc<PasswordHasher>,
    policies: Policies,
    throttle: Throttle,
    certificates: Option<CertificateVerifier>,
    signers: Vec<CompiledSigner>,
    totp: Option<TotpVerifier>,
    lookup: Option<LookupSecrets>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("policies", &self.policies).finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator with passwords only, under the default policy, limiting failures per client address to
    /// [`RateLimit::default`]. Add the rest with the `with_` methods.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, hasher: Arc<PasswordHasher>) -> Self {
        Self {
            throttle: Throttle::new(store.clone(), Some(RateLimit::default())),
            store,
            clock,
            hasher,
            policies: Policies::default(),
            certificates: None,
            signers: Vec::new(),
            totp: None,
            lookup: None,
        }
    }

    /// Sets the policies in force (the default one applies until this is called).
    pub fn with_policies(mut self, policies: Policies) -> Self {
        self.policies = policies;
        self
    }

    /// Sets how many failures one client address may make, in passwords, second factors and the self-service
    /// flows' codes (`None`: no limit per address). Identifiers and identities are limited by the
    /// authentication policies.
    pub fn with_address_limit(mut self, limit: Option<RateLimit>) -> Result<Self, Error> {
        if let Some(limit) = limit {
            limit.check("address_limit")?;
        }
        self.throttle = Throttle::new(self.store.clone(), limit);
        Ok(self)
    }

    /// Accepts client certificates issued by these CAs.
    pub fn with_certificates(mut self, verifier: CertificateVerifier) -> Self {
        self.certificates = Some(verifier);
        self
    }

    /// Accepts JWTs from these signers.
    pub fn with_signers(mut self, signers: Vec<CompiledSigner>) -> Self {
        self.signers = signers;
        self
    }

    /// Enables TOTP as a second factor.
    pub fn with_totp(mut self, totp: TotpVerifier) -> Self {
        self.totp = Some(totp);
        self
    }

    /// Enables backup codes as a second factor.
    pub fn with_lookup_secrets(mut self, lookup: LookupSecrets) -> Self {
        self.lookup = Some(lookup);
        self
    }

    /// The TOTP verifier, when TOTP is enabled.
    pub(crate) fn totp(&self) -> Option<&TotpVerifier> {
        self.totp.as_ref()
    }

    /// The backup-code hasher, when backup codes are enabled.
    pub(crate) fn lookup(&self) -> Option<&LookupSecrets> {
        self.lookup.as_ref()
    }

    /// The throttle, shared with the self-service flows so one client address has one budget.
    pub(crate) fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// The password hasher.
    pub(crate) fn hasher(&self) -> &Arc<PasswordHasher> {
        &self.hasher
    }

    /// The policy that applies to `identity`.
    pub fn policy_of(&self, identity: &Identity) -> &AuthenticationPolicy {
        self.policies.of(identity)
    }

    /// Checks a first factor from an unknown client address; see [`authenticate_from`](Self::authenticate_from).
    pub async fn authenticate(&self, presentation: Presentation) -> Result<Authenticated, Error> {
        self.authenticate_from(presentation, None).await
    }

    /// Checks a first factor presented from `client`. Wrong identifiers and wrong secrets fail alike
    /// ([`Error::InvalidCredentials`], after the same work); a disabled identity never authenticates; the policy
    /// decides which methods count. Password guesses are limited per identifier (the default policy's limit),
    /// per identity (its own policy's) and per client address, with [`Error::RateLimited`] before any hashing.
    pub async fn authenticate_from(
        &self,
        presentation: Presentation,
        client: Option<IpAddr>,
    ) -> Result<Authenticated, Error> {
        let now = self.clock.now();
        let (identity, method) = match presentation {
            Presentation::Password { identifier, password } => {
                self.throttle.check_address(client, now).await?;
                let checked = self.check_password(&identifier, password, now).await;
                if matches!(checked, Err(Error::InvalidCredentials)) {
                    self.throttle.address_failed(client, now).await?;
                }
                (checked?, CredentialType::Password)
            }
            Presentation::Certificate { certificate, intermediates } => {
                (self.check_certificate(&certificate, &intermediates, now).await?.0, CredentialType::X509)
            }
            Presentation::ExternalJwt { token } => {
                (self.check_jwt(token.expose_secret(), now).await?, CredentialType::ExtJwt)
            }
        };
        self.first_factor_done(identity, method, now)
    }

    /// Checks a client certificate as [`authenticate`](Self::authenticate) does with
    /// [`Presentation::Certificate`], and also returns the verified certificate: what an OAuth2 provider binds
    /// tokens to (RFC 8705) and compares with a client's registered subject.
    pub async fn authenticate_certificate(
        &self,
        certificate: &[u8],
        intermediates: &[Vec<u8>],
    ) -> Result<(Authenticated, crate::certificate::VerifiedCertificate), Error> {
        let now = self.clock.now();
        let (identity, verified) = self.check_certificate(certificate, intermediates, now).await?;
        Ok((self.first_factor_done(identity, CredentialType::X509, now)?, verified))
    }

    /// What follows any first factor: a disabled identity stops here, the policy must allow `method`, and the
    /// second factors still due are listed.
    fn first_factor_done(
        &self,
        identity: Identity,
        method: CredentialType,
        now: OffsetDateTime,
    ) -> Result<Authenticated, Error> {
        if !identity.is_active() {
            return Err(Error::IdentityDisabled);
        }
        let policy = self.policy_of(&identity);
        if !policy.allows_primary(method) {
            return Err(Error::MethodNotAllowed { method: method.as_str() });
        }
        let second_factor = if policy.secondary.require_ext_jwt_signer.is_some() {
            // A policy naming a signer as second factor accepts only that.
            Some(vec![CredentialType::ExtJwt])
        } else {
            (policy.secondary.require_totp
                || identity.has_credential(CredentialType::Totp)
                || identity.has_credential(CredentialType::LookupSecret))
            .then(|| {
                [CredentialType::Totp, CredentialType::LookupSecret]
                    .into_iter()
                    .filter(|kind| identity.has_credential(*kind))
                    .collect()
            })
        };
        Ok(Authenticated {
            identity,
            methods: vec![AuthenticationMethod { method, aal: AssuranceLevel::Aal1, completed_at: now }],
            aal: AssuranceLevel::Aal1,
            second_factor,
        })
    }

    async fn check_password(
        &self,
        identifier: &str,
        password: SecretString,
        now: OffsetDateTime,
    ) -> Result<Identity, Error> {
        let identity = self.store.find_identity_by_identifier(CredentialType::Password, identifier).await?;
        // Every attempt is counted before the password is checked, so parallel guesses cannot all slip under
        // the limit. The identifier's counter follows the default policy whether or not the account exists, so
        // lockout does not tell which accounts do; the identity's own counter (across all its identifiers)
        // follows its policy.
        let identifier_key = identifier_key(identifier);
        let default_limit = RateLimit::of_policy(self.policies.default_policy());
        self.throttle.count_attempt(&identifier_key, default_limit, now).await?;
        if let Some(identity) = &identity {
            let limit = RateLimit::of_policy(self.policy_of(identity));
            self.throttle.count_attempt(&identity_key(identity.id), limit, now).await?;
        }
        let hash = identity.as_ref().and_then(|identity| match identity.credentials.get(CredentialType::Password) {
            Some(credential) => match &credential.config {
                CredentialConfig::Password(config) => config.hashed_password.clone(),
                _ => None,
            },
            None => None,
        });
        let verification = self.hasher.verify_async(password.clone(), hash).await?;
        let (Verification::Match { rehash }, Some(mut identity)) = (verification, identity) else {
            return Err(Error::InvalidCredentials);
        };
        // A right password under a policy that forbids passwords must not confirm the password either.
        if !self.policy_of(&identity).allows_primary(CredentialType::Password) {
            return Err(Error::InvalidCredentials);
        }
        self.throttle.reset(&identifier_key).await?;
        self.throttle.reset(&identity_key(identity.id)).await?;
        if rehash && let Ok(fresh) = self.hasher.hash_async(password).await {
            // Best effort: the login succeeded whatever happens to the upgrade.
            let verified =
                identity.credentials.get(CredentialType::Password).and_then(|credential| match &credential.config {
                    CredentialConfig::Password(config) => config.hashed_password.clone(),
                    _ => None,
                });
            let upgraded = update_identity(self.store.as_ref(), identity.id, now, |stored| {
                // Only the hash that was just verified is replaced: a password reset meanwhile wins.
                if let Some(credential) = stored.credentials.get_mut(CredentialType::Password)
                    && let CredentialConfig::Password(config) = &mut credential.config
                    && config.hashed_password == verified
                {
                    config.hashed_password = Some(fresh.clone());
                    return Ok(());
                }
                Err(Error::InvalidCredentials)
            })
            .await;
            if let Ok(upgraded) = upgraded {
                identity = upgraded;
            }
        }
        Ok(identity)
    }

    async fn check_certificate(
        &self,
        der: &[u8],
        intermediates: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> Result<(Identity, crate::certificate::VerifiedCertificate), Error> {
        let verifier = self.certificates.as_ref().ok_or(Error::MethodNotAllowed { method: "x509" })?;
        // An expired certificate is let through here only to learn whose it is: its holder's policy decides.
        let (certificate, expired) = verifier.verify_allowing_expired(der, intermediates, now)?;
        let identity = self.certificate_holder(&certificate).await?;
        if expired && !self.policy_of(&identity).primary.cert.allow_expired_certs {
            return Err(Error::CertificateExpired { not_after: certificate.not_after });
        }
        Ok((identity, certificate))
    }

    async fn certificate_holder(
        &self,
        certificate: &crate::certificate::VerifiedCertificate,
    ) -> Result<Identity, Error> {
        if let Some(identity) = self.store.find_identity_by_certificate(&certificate.fingerprint).await? {
            return Ok(identity);
        }
        // A service identity may be registered by its certificates' common name (`cn:<name>` among its X.509
        // identifiers) instead of one certificate. The prefix keeps names apart from fingerprints, which are
        // public; only service identities qualify.
        if let Some(name) = &certificate.common_name
            && let Some(identity) =
                self.store.find_identity_by_identifier(CredentialType::X509, &format!("cn:{name}")).await?
            && identity.identity_type == identity_core::IdentityType::Service
        {
            return Ok(identity);
        }
        Err(Error::InvalidCredentials)
    }

    async fn check_jwt(&self, token: &str, now: OffsetDateTime) -> Result<Identity, Error> {
        if token.len() > crate::jwt_signer::MAX_TOKEN_LENGTH {
            return Err(Error::MalformedToken { reason: "the token is too long".into() });
        }
        // The unverified `iss` only picks which signer's keys to try; the signer then verifies everything.
        let issuer = unverified_issuer(token)?;
        // Collected first: an iterator adapter held across an await would make this future not `Send`.
        let candidates: Vec<&CompiledSigner> =
            self.signers.iter().filter(|signer| signer.signer().issuer == issuer).collect();
        if candidates.is_empty() {
            return Err(Error::WrongIssuer);
        }
        let mut last_error = Error::WrongIssuer;
        for signer in candidates {
            let verified = match signer.verify(token, now) {
                Ok(verified) => verified,
                // Several signers may share an issuer (key rollover across signers): try the next one.
                Err(error @ (Error::UnknownKey { .. } | Error::BadSignature | Error::SignerDisabled)) => {
                    last_error = error;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let identity = match &verified.matches {
                IdentityMatch::ExternalId(external_id) => self.store.find_identity_by_external_id(external_id).await?,
                IdentityMatch::Id(id) => match self.store.identity(*id).await {
                    Ok(identity) => Some(identity),
                    Err(identity_store::Error::NotFound { .. }) => None,
                    Err(other) => return Err(other.into()),
                },
            };
            let identity = identity.ok_or(Error::InvalidCredentials)?;
            if !self.policy_of(&identity).allows_signer(verified.signer_id) {
                return Err(Error::MethodNotAllowed { method: "ext_jwt" });
            }
            return Ok(identity);
        }
        Err(last_error)
    }

    /// Completes a TOTP second factor for `identity` from an unknown client address; see
    /// [`verify_totp_from`](Self::verify_totp_from).
    pub async fn verify_totp(&self, identity: IdentityId, code: &str) -> Result<AuthenticationMethod, Error> {
        self.verify_totp_from(identity, code, None).await
    }

    /// Completes a TOTP second factor for `identity`, presented from `client`: checks `code`, claims its time step
    /// atomically in the store (so two concurrent requests cannot both use it), and stores the step as the last
    /// used one. Guesses are limited per identity and per client address.
    pub async fn verify_totp_from(
        &self,
        identity: IdentityId,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<AuthenticationMethod, Error> {
        let totp = self.totp.as_ref().ok_or(Error::MethodNotAllowed { method: "totp" })?;
        let now = self.clock.now();
        let stored = self.second_factor_subject(identity, client, now).await?;
        let checked = self.check_totp(totp, stored, code, now).await;
        self.second_factor_outcome(identity, client, now, checked).await
    }

    async fn check_totp(
        &self,
        totp: &TotpVerifier,
        mut stored: Identity,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<AuthenticationMethod, Error> {
        let identity = stored.id;
        let credential = stored.credentials.get_mut(CredentialType::Totp).ok_or(Error::InvalidTotpCode)?;
        let CredentialConfig::Totp(config) = &mut credential.config else { return Err(Error::InvalidTotpCode) };
        let period = Duration::seconds(i64::from(config.period_seconds));
        let step = totp.verify(identity, config, code, now)?;
        // A code stays valid for 2·skew+1 steps; the claim outlives that, so no replay fits in between.
        let window = period * (2 * i32::from(totp.skew()) + 2);
        if !self.throttle.claim_once(&format!("totp-step:{identity}:{step}"), window, now).await? {
            return Err(Error::InvalidTotpCode);
        }
        let secret = config.secret.clone();
        update_identity(self.store.as_ref(), identity, now, |fresh| {
            if !fresh.is_active() {
                return Err(Error::IdentityDisabled);
            }
            // The code was checked against this secret: if TOTP was removed or re-enrolled since, it does not count.
            let Some(credential) = fresh.credentials.get_mut(CredentialType::Totp) else {
                return Err(Error::InvalidTotpCode);
            };
            let CredentialConfig::Totp(config) = &mut credential.config else { return Err(Error::InvalidTotpCode) };
            if config.secret != secret {
                return Err(Error::InvalidTotpCode);
            }
            config.last_used_step = Some(config.last_used_step.map_or(step, |last| last.max(step)));
            credential.updated_at = now;
            Ok(())
        })
        .await?;
        Ok(AuthenticationMethod { method: CredentialType::Totp, aal: AssuranceLevel::Aal2, completed_at: now })
    }

    /// Completes an external-JWT second factor for `identity`: the token must come from the signer the
    /// identity's policy requires, and name this identity.
    pub async fn verify_external_jwt(&self, identity: IdentityId, token: &str) -> Result<AuthenticationMethod, Error> {
        let now = self.clock.now();
        let stored = self.second_factor_subject(identity, None, now).await?;
        let required = self.policy_of(&stored).secondary.require_ext_jwt_signer;
        let required = required.ok_or(Error::MethodNotAllowed { method: "ext_jwt" })?;
        let signer = self.signers.iter().find(|signer| signer.signer().id == required);
        let verified = signer.ok_or(Error::SignerDisabled)?.verify(token, now)?;
        let names_identity = match &verified.matches {
            IdentityMatch::ExternalId(external_id) => stored.external_id.as_deref() == Some(external_id.as_str()),
            IdentityMatch::Id(id) => *id == identity,
        };
        if !names_identity {
            return Err(Error::InvalidCredentials);
        }
        self.throttle.reset(&second_factor_key(identity)).await?;
        Ok(AuthenticationMethod { method: CredentialType::ExtJwt, aal: AssuranceLevel::Aal2, completed_at: now })
    }

    /// Completes a backup-code second factor for `identity` from an unknown client address; see
    /// [`use_lookup_code_from`](Self::use_lookup_code_from).
    pub async fn use_lookup_code(
        &self,
        identity: IdentityId,
        code: &str,
    ) -> Result<(AuthenticationMethod, usize), Error> {
        self.use_lookup_code_from(identity, code, None).await
    }

    /// Completes a backup-code second factor for `identity`, presented from `client`, marking the code used;
    /// returns how many remain. Guesses are limited per identity and per client address.
    pub async fn use_lookup_code_from(
        &self,
        identity: IdentityId,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<(AuthenticationMethod, usize), Error> {
        let lookup = self.lookup.as_ref().ok_or(Error::MethodNotAllowed { method: "lookup_secret" })?;
        let now = self.clock.now();
        let stored = self.second_factor_subject(identity, client, now).await?;
        let checked = self.check_lookup_code(lookup, stored, code, now).await;
        self.second_factor_outcome(identity, client, now, checked).await
    }

    async fn check_lookup_code(
        &self,
        lookup: &LookupSecrets,
        mut stored: Identity,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<(AuthenticationMethod, usize), Error> {
        let identity = stored.id;
        let credential = stored.credentials.get_mut(CredentialType::LookupSecret).ok_or(Error::InvalidLookupCode)?;
        let CredentialConfig::LookupSecret(config) = &mut credential.config else {
            return Err(Error::InvalidLookupCode);
        };
        let remaining = lookup.consume(identity, config, code, now)?;
        let hash = lookup.hash(identity, code);
        let claim = format!("lookup-code:{identity}:{}", hash.to_hex());
        // A used code is marked in the credential; the claim covers concurrent requests, and lasts long enough
        // that no stale write of the credential could make the code usable again.
        if !self.throttle.claim_once(&claim, Duration::days(400), now).await? {
            return Err(Error::InvalidLookupCode);
        }
        update_identity(self.store.as_ref(), identity, now, |fresh| {
            if !fresh.is_active() {
                return Err(Error::IdentityDisabled);
            }
            // The code must still be in the current set, unused: regenerated codes or a concurrent use void it.
            let Some(credential) = fresh.credentials.get_mut(CredentialType::LookupSecret) else {
                return Err(Error::InvalidLookupCode);
            };
            let CredentialConfig::LookupSecret(config) = &mut credential.config else {
                return Err(Error::InvalidLookupCode);
            };
            let stored = config.codes.iter_mut().find(|stored| stored.hash == hash && stored.used_at.is_none());
            stored.ok_or(Error::InvalidLookupCode)?.used_at = Some(now);
            credential.updated_at = now;
            Ok(())
        })
        .await?;
        let method =
            AuthenticationMethod { method: CredentialType::LookupSecret, aal: AssuranceLevel::Aal2, completed_at: now };
        Ok((method, remaining))
    }
}

impl Authenticator {
    /// The identity a second factor is for: active, and not rate limited. Counts the attempt, under the
    /// identity's policy, so codes cannot be guessed without limit.
    async fn second_factor_subject(
        &self,
        identity: IdentityId,
        client: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Result<Identity, Error> {
        let stored = self.store.identity(identity).await?;
        if !stored.is_active() {
            return Err(Error::IdentityDisabled);
        }
        self.throttle.check_address(client, now).await?;
        let limit = RateLimit::of_policy(self.policy_of(&stored));
        self.throttle.count_attempt(&second_factor_key(identity), limit, now).await?;
        Ok(stored)
    }

    /// Forgets the identity's counted attempts after a success; counts a failure against the client's address.
    async fn second_factor_outcome<T>(
        &self,
        identity: IdentityId,
        client: Option<IpAddr>,
        now: OffsetDateTime,
        checked: Result<T, Error>,
    ) -> Result<T, Error> {
        match &checked {
            Ok(_) => self.throttle.reset(&second_factor_key(identity)).await?,
            Err(Error::InvalidTotpCode | Error::InvalidLookupCode) => self.throttle.address_failed(client, now).await?,
            Err(_) => {}
        }
        checked
    }
}

/// Applies `change` to the stored identity and writes it back only if nobody changed it meanwhile, retrying
/// on a fresh copy otherwise: a concurrent change (an admin disabling the identity, another factor's update) is
/// never overwritten with stale data.
pub(crate) async fn update_identity(
    store: &dyn Store,
    id: IdentityId,
    now: OffsetDateTime,
    change: impl Fn(&mut Identity) -> Result<(), Error>,
) -> Result<Identity, Error> {
    let mut last = None;
    for _ in 0..8 {
        let mut identity = store.identity(id).await?;
        let read_at = identity.updated_at;
        // The change decides on the fresh copy: what was checked against an older one may no longer hold.
        change(&mut identity)?;
        identity.updated_at = later_than(read_at, now);
        match store.update_identity_if_unchanged(&identity, read_at).await {
            Ok(()) => return Ok(identity),
            Err(conflict @ identity_store::Error::Conflict { .. }) if is_version_conflict(&conflict) => {
                last = Some(conflict)
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(last.map_or(Error::Internal { reason: "no attempt to update the identity".into() }, Error::Store))
}

/// `now`, or if the clock is not past `read_at`, the next microsecond after it: strictly later, or a second writer
/// holding the same copy would not be told apart.
pub(crate) fn later_than(read_at: OffsetDateTime, now: OffsetDateTime) -> OffsetDateTime {
    now.max(read_at.checked_add(Duration::microseconds(1)).unwrap_or(read_at))
}

fn is_version_conflict(error: &identity_store::Error) -> bool {
    matches!(error, identity_store::Error::Conflict { field, .. } if field == "identity version")
}

/// The `iss` claim of a compact JWT, read without verifying anything.
fn unverified_issuer(token: &str) -> Result<String, Error> {
    use base64::Engine as _;
    let malformed = |reason: &str| Error::MalformedToken { reason: reason.to_owned() };
    let payload = token.split('.').nth(1).ok_or_else(|| malformed("not a compact JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| malformed("the payload is not base64url"))?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed("the payload is not JSON"))?;
    claims.get("iss").and_then(serde_json::Value::as_str).map(str::to_owned).ok_or_else(|| malformed("no `iss` claim"))
}
