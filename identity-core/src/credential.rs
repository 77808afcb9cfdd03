//! Credentials (authenticators): what an identity proves itself with. Each has a type, the login identifiers it
//! answers to, and a type-specific config that holds only hashes, sealed secrets or public facts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use time::OffsetDateTime;

use crate::error::{Error, Problem, require_text};
use crate::id::JwtSignerId;
use crate::identity::AddressVia;
use crate::secret::{HashedPassword, SealedSecret, SecretString, TokenHash};

/// The kinds of credential, named as Kratos names them (plus `x509` and `ext_jwt` from OpenZiti's model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialType {
    /// A password, hashed.
    Password,
    /// A TOTP authenticator app (second factor).
    Totp,
    /// Single-use lookup (backup) codes (second factor).
    LookupSecret,
    /// A WebAuthn security key. Identifiers are derived from schemas; the credential itself is kept as imported.
    Webauthn,
    /// A passkey. Kept as imported.
    Passkey,
    /// A one-time code sent to an email address or phone number.
    Code,
    /// A link to an account at an upstream OIDC provider.
    Oidc,
    /// An X.509 client certificate.
    X509,
    /// A JWT issued by a trusted external signer.
    ExtJwt,
}

impl CredentialType {
    /// Every credential type.
    pub const ALL: [CredentialType; 9] = [
        CredentialType::Password,
        CredentialType::Totp,
        CredentialType::LookupSecret,
        CredentialType::Webauthn,
        CredentialType::Passkey,
        CredentialType::Code,
        CredentialType::Oidc,
        CredentialType::X509,
        CredentialType::ExtJwt,
    ];

    /// The name used in JSON and in Kratos' APIs.
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialType::Password => "password",
            CredentialType::Totp => "totp",
            CredentialType::LookupSecret => "lookup_secret",
            CredentialType::Webauthn => "webauthn",
            CredentialType::Passkey => "passkey",
            CredentialType::Code => "code",
            CredentialType::Oidc => "oidc",
            CredentialType::X509 => "x509",
            CredentialType::ExtJwt => "ext_jwt",
        }
    }
}

impl fmt::Display for CredentialType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CredentialType {
    type Err = Problem;

    fn from_str(s: &str) -> Result<Self, Problem> {
        CredentialType::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| Problem::UnknownVariant {
            value: s.to_owned(),
            expected: "password, totp, lookup_secret, webauthn, passkey, code, oidc, x509, ext_jwt",
        })
    }
}

/// One credential of an identity. Serialises in Kratos' shape: `{type, identifiers, config, version, created_at,
/// updated_at}`; the config is checked against its type when decoded, and unknown config keys are refused
/// rather than silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CredentialRepr", into = "CredentialRepr")]
pub struct Credential {
    /// The login identifiers this credential answers to (emails, user names, `provider:subject`, fingerprints).
    pub identifiers: Vec<String>,
    /// The type-specific part; its variant is the credential's type.
    pub config: CredentialConfig,
    /// The config's format version (Kratos increments it when a format changes).
    pub version: u32,
    /// When the credential was added.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

impl Credential {
    /// A credential made at `now`, answering to `identifiers` (each must be non-blank).
    pub fn new(config: CredentialConfig, identifiers: Vec<String>, now: OffsetDateTime) -> Result<Self, Error> {
        for (index, identifier) in identifiers.iter().enumerate() {
            require_text(&format!("identifiers[{index}]"), identifier)?;
        }
        Ok(Self { identifiers, config, version: 0, created_at: now, updated_at: now })
    }

    /// This credential's type.
    pub fn credential_type(&self) -> CredentialType {
        self.config.credential_type()
    }

    /// Whether the credential still carries plaintext secrets from a Kratos import (a `totp_url`, lookup
    /// `recovery_codes`) that identity-auth must seal or hash before it is stored. Stores refuse such credentials:
    /// the plaintext is never serialised, so storing it would lose it.
    pub fn has_unsealed_import(&self) -> bool {
        match &self.config {
            CredentialConfig::Totp(totp) => totp.imported_url.is_some(),
            CredentialConfig::LookupSecret(lookup) => !lookup.imported_codes.is_empty(),
            _ => false,
        }
    }
}

/// The type-specific part of a [`Credential`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CredentialConfig {
    /// See [`PasswordConfig`].
    Password(PasswordConfig),
    /// See [`TotpConfig`].
    Totp(TotpConfig),
    /// See [`LookupSecretConfig`].
    LookupSecret(LookupSecretConfig),
    /// Kept as imported from Kratos; this workspace does not use WebAuthn credentials yet.
    Webauthn(Value),
    /// Kept as imported from Kratos; this workspace does not use passkeys yet.
    Passkey(Value),
    /// See [`CodeConfig`].
    Code(CodeConfig),
    /// See [`OidcConfig`].
    Oidc(OidcConfig),
    /// See [`X509Config`].
    X509(X509Config),
    /// See [`ExtJwtConfig`].
    ExtJwt(ExtJwtConfig),
}

impl CredentialConfig {
    /// The type of credential this config belongs to.
    pub fn credential_type(&self) -> CredentialType {
        match self {
            CredentialConfig::Password(_) => CredentialType::Password,
            CredentialConfig::Totp(_) => CredentialType::Totp,
            CredentialConfig::LookupSecret(_) => CredentialType::LookupSecret,
            CredentialConfig::Webauthn(_) => CredentialType::Webauthn,
            CredentialConfig::Passkey(_) => CredentialType::Passkey,
            CredentialConfig::Code(_) => CredentialType::Code,
            CredentialConfig::Oidc(_) => CredentialType::Oidc,
            CredentialConfig::X509(_) => CredentialType::X509,
            CredentialConfig::ExtJwt(_) => CredentialType::ExtJwt,
        }
    }

    fn to_value(&self) -> Result<Value, serde_json::Error> {
        match self {
            CredentialConfig::Password(c) => serde_json::to_value(c),
            CredentialConfig::Totp(c) => serde_json::to_value(c),
            CredentialConfig::LookupSecret(c) => serde_json::to_value(c),
            CredentialConfig::Webauthn(v) | CredentialConfig::Passkey(v) => Ok(v.clone()),
            CredentialConfig::Code(c) => serde_json::to_value(c),
            CredentialConfig::Oidc(c) => serde_json::to_value(c),
            CredentialConfig::X509(c) => serde_json::to_value(c),
            CredentialConfig::ExtJwt(c) => serde_json::to_value(c),
        }
    }

    fn from_value(kind: CredentialType, config: Value) -> Result<Self, serde_json::Error> {
        // Kratos writes `{}` (or nothing) when a credential's config was not requested.
        let config = if config.is_null() { Value::Object(Default::default()) } else { config };
        Ok(match kind {
            CredentialType::Password => CredentialConfig::Password(serde_json::from_value(config)?),
            CredentialType::Totp => {
                let totp: TotpConfig = serde_json::from_value(config)?;
                totp.check().map_err(serde::de::Error::custom)?;
                CredentialConfig::Totp(totp)
            }
            CredentialType::LookupSecret => CredentialConfig::LookupSecret(serde_json::from_value(config)?),
            CredentialType::Webauthn => CredentialConfig::Webauthn(config),
            CredentialType::Passkey => CredentialConfig::Passkey(config),
            CredentialType::Code => CredentialConfig::Code(serde_json::from_value(config)?),
            CredentialType::Oidc => CredentialConfig::Oidc(serde_json::from_value(config)?),
            CredentialType::X509 => CredentialConfig::X509(serde_json::from_value(config)?),
            CredentialType::ExtJwt => CredentialConfig::ExtJwt(serde_json::from_value(config)?),
        })
    }
}

/// A password credential's config. Kratos leaves the hash out of exports unless asked, hence the `Option`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfig {
    /// The PHC or crypt hash of the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashed_password: Option<HashedPassword>,
}

/// The hash algorithm of a TOTP authenticator (RFC 6238).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TotpAlgorithm {
    /// HMAC-SHA-1, what nearly every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

/// A TOTP credential's config: the seed sealed by the secret cipher, its parameters, and the last time step
/// accepted, so that no code is accepted twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpConfig {
    /// The seed, encrypted at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SealedSecret>,
    /// The HMAC algorithm.
    #[serde(default)]
    pub algorithm: TotpAlgorithm,
    /// Digits per code, 6 to 8.
    #[serde(default = "TotpConfig::default_digits")]
    pub digits: u8,
    /// Seconds per step, 1 to 300.
    #[serde(default = "TotpConfig::default_period")]
    pub period_seconds: u32,
    /// The last step a code was accepted for; codes of this step or earlier are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_step: Option<u64>,
    /// Kratos' plaintext `otpauth://` URL, when the credential came from a Kratos export: read, never
    /// written. identity-auth seals it into `secret` and clears it before the credential is stored.
    #[serde(default, rename = "totp_url", skip_serializing)]
    pub imported_url: Option<SecretString>,
}

impl TotpConfig {
    fn default_digits() -> u8 {
        6
    }

    fn default_period() -> u32 {
        30
    }

    /// A config for `secret` with the usual parameters: SHA-1, 6 digits, 30 seconds.
    pub fn new(secret: SealedSecret) -> Self {
        Self {
            secret: Some(secret),
            algorithm: TotpAlgorithm::Sha1,
            digits: Self::default_digits(),
            period_seconds: Self::default_period(),
            last_used_step: None,
            imported_url: None,
        }
    }

    /// Checks the parameters' ranges.
    pub fn check(&self) -> Result<(), Error> {
        if !(6..=8).contains(&self.digits) {
            return Err(Problem::OutOfRange { min: 6, max: 8 }.at("digits"));
        }
        if !(1..=300).contains(&self.period_seconds) {
            return Err(Problem::OutOfRange { min: 1, max: 300 }.at("period_seconds"));
        }
        Ok(())
    }
}

/// A lookup-secret credential's config: the backup codes, each only as its hash.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupSecretConfig {
    /// The codes.
    #[serde(default)]
    pub codes: Vec<LookupCode>,
    /// Kratos' plaintext `recovery_codes`, when the credential came from a Kratos export: read, never written.
    /// identity-auth hashes them into `codes` and clears this before the credential is stored.
    #[serde(default, rename = "recovery_codes", skip_serializing)]
    pub imported_codes: Vec<ImportedLookupCode>,
}

/// A plaintext backup code from a Kratos export, as Kratos writes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportedLookupCode {
    /// The code itself.
    pub code: SecretString,
    /// When it was used, if it was.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
}

/// One backup code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupCode {
    /// The code's keyed hash.
    pub hash: TokenHash,
    /// When it was used; a used code is never accepted again.
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub used_at: Option<OffsetDateTime>,
}

/// A code credential's config: where one-time login codes go (Kratos' shape).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeConfig {
    /// The addresses.
    #[serde(default)]
    pub addresses: Vec<CodeAddress>,
}

/// One address one-time codes may be sent to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeAddress {
    /// Email or SMS.
    pub channel: AddressVia,
    /// The address itself.
    pub address: String,
}

/// An OIDC credential's config: the upstream accounts linked to the identity.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The links.
    #[serde(default)]
    pub providers: Vec<OidcLink>,
}

/// One link to an upstream account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcLink {
    /// The provider's id in the configuration (e.g. `google`).
    pub provider: String,
    /// The account's `sub` at that provider.
    pub subject: String,
    /// The upstream ID token from the first sign-in, as Kratos keeps it (encrypted with Kratos' own key, so
    /// opaque here; kept so an import loses nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_id_token: Option<String>,
    /// The upstream access token from the first sign-in, as Kratos keeps it (encrypted, opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_access_token: Option<String>,
    /// The upstream refresh token from the first sign-in, as Kratos keeps it (encrypted, opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_refresh_token: Option<String>,
    /// The Kratos organization the link was made for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

impl OidcLink {
    /// A link to account `subject` at `provider`.
    pub fn new(provider: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            subject: subject.into(),
            initial_id_token: None,
            initial_access_token: None,
            initial_refresh_token: None,
            organization: None,
        }
    }
}

/// An X.509 certificate credential's config: the client certificates enrolled for the identity (a device may
/// hold several, say while one replaces another).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X509Config {
    /// The certificates, in the order they were enrolled.
    #[serde(default)]
    pub certificates: Vec<EnrolledCertificate>,
}

impl X509Config {
    /// A config holding one certificate.
    pub fn single(fingerprint: CertificateFingerprint, subject: impl Into<String>) -> Self {
        Self { certificates: vec![EnrolledCertificate { fingerprint, subject: subject.into() }] }
    }

    /// Adds a certificate unless one with the same fingerprint is there already.
    pub fn add(&mut self, certificate: EnrolledCertificate) {
        if self.certificates.iter().all(|held| held.fingerprint != certificate.fingerprint) {
            self.certificates.push(certificate);
        }
    }
}

/// One enrolled client certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolledCertificate {
    /// The SHA-256 fingerprint of the certificate's DER encoding.
    pub fingerprint: CertificateFingerprint,
    /// The certificate's subject distinguished name, for display.
    pub subject: String,
}

/// An external-JWT credential's config: which signer vouches for the identity, and under which subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtJwtConfig {
    /// The trusted signer.
    pub signer_id: JwtSignerId,
    /// The value of the signer's subject claim that means this identity.
    pub subject: String,
}

/// The SHA-256 fingerprint of a certificate's DER encoding. Parses hexadecimal with or without `:` separators,
/// in either case (as `openssl x509 -fingerprint -sha256` prints it); serialises as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CertificateFingerprint([u8; 32]);

impl CertificateFingerprint {
    /// Wraps a digest computed elsewhere.
    pub const fn from_bytes(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The digest's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for CertificateFingerprint {
    type Err = Problem;

    fn from_str(s: &str) -> Result<Self, Problem> {
        let digits: String = s.trim().chars().filter(|c| *c != ':').collect();
        let mut digest = [0u8; 32];
        hex::decode_to_slice(&digits, &mut digest)
            .map_err(|_| Problem::Malformed { expected: "a SHA-256 fingerprint: 64 hex digits, `:` optional" })?;
        Ok(Self(digest))
    }
}

impl fmt::Debug for CertificateFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateFingerprint({})", self.to_hex())
    }
}

impl fmt::Display for CertificateFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for CertificateFingerprint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for CertificateFingerprint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// An identity's credentials, at most one per type, keyed by type as Kratos' JSON keys them. Decoding refuses a
/// key that differs from its credential's `type`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<String, Credential>")]
pub struct Credentials(BTreeMap<CredentialType, Credential>);

impl Credentials {
    /// No credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// The credential of `kind`, if the identity has one.
    pub fn get(&self, kind: CredentialType) -> Option<&Credential> {
        self.0.get(&kind)
    }

    /// The credential of `kind`, to change it.
    pub fn get_mut(&mut self, kind: CredentialType) -> Option<&mut Credential> {
        self.0.get_mut(&kind)
    }

    /// Adds `credential` under its own type; returns the one it replaces.
    pub fn insert(&mut self, credential: Credential) -> Option<Credential> {
        self.0.insert(credential.credential_type(), credential)
    }

    /// Removes and returns the credential of `kind`.
    pub fn remove(&mut self, kind: CredentialType) -> Option<Credential> {
        self.0.remove(&kind)
    }

    /// The credentials, ordered by type.
    pub fn iter(&self) -> impl Iterator<Item = &Credential> {
        self.0.values()
    }

    /// How many credentials there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// Keys decode as strings first so that decoding errors inside a credential carry its key in their path.
impl TryFrom<BTreeMap<String, Credential>> for Credentials {
    type Error = Problem;

    fn try_from(map: BTreeMap<String, Credential>) -> Result<Self, Problem> {
        let mut credentials = BTreeMap::new();
        for (key, credential) in map {
            if key.parse::<CredentialType>()? != credential.credential_type() {
                return Err(Problem::Inconsistent("a credential's key must equal its `type`"));
            }
            credentials.insert(credential.credential_type(), credential);
        }
        Ok(Self(credentials))
    }
}

impl FromIterator<Credential> for Credentials {
    fn from_iter<I: IntoIterator<Item = Credential>>(iter: I) -> Self {
        Self(iter.into_iter().map(|c| (c.credential_type(), c)).collect())
    }
}

#[derive(Serialize, Deserialize)]
struct CredentialRepr {
    #[serde(rename = "type")]
    kind: CredentialType,
    #[serde(default)]
    identifiers: Vec<String>,
    #[serde(default)]
    config: Value,
    #[serde(default)]
    version: u32,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl TryFrom<CredentialRepr> for Credential {
    type Error = serde_json::Error;

    fn try_from(repr: CredentialRepr) -> Result<Self, serde_json::Error> {
        if repr.identifiers.iter().any(|i| i.trim().is_empty()) {
            return Err(serde::de::Error::custom("identifiers must not be blank"));
        }
        Ok(Credential {
            config: CredentialConfig::from_value(repr.kind, repr.config)?,
            identifiers: repr.identifiers,
            version: repr.version,
            created_at: repr.created_at,
            updated_at: repr.updated_at,
        })
    }
}

impl From<Credential> for CredentialRepr {
    fn from(credential: Credential) -> Self {
        CredentialRepr {
            kind: credential.credential_type(),
            // The typed configs serialise to JSON objects without fail; `Null` would only hide a bug.
            config: credential.config.to_value().unwrap_or(Value::Null),
            identifiers: credential.identifiers,
            version: credential.version,
            created_at: credential.created_at,
            updated_at: credential.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

    fn password() -> Credential {
        let hash = HashedPassword::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").unwrap();
        let config = CredentialConfig::Password(PasswordConfig { hashed_password: Some(hash) });
        Credential::new(config, vec!["alice@example.com".into()], NOW).unwrap()
    }

    #[test]
    fn credentials_round_trip_in_kratos_shape() {
        let credential = password();
        let json = serde_json::to_value(&credential).unwrap();
        assert_eq!(json["type"], "password");
        assert_eq!(json["identifiers"], json!(["alice@example.com"]));
        assert!(json["config"]["hashed_password"].as_str().unwrap().starts_with("$argon2id$"));
        assert_eq!(json["version"], 0);
        assert_eq!(serde_json::from_value::<Credential>(json).unwrap(), credential);
    }

    #[test]
    fn every_config_round_trips() {
        let configs = [
            CredentialConfig::Totp(TotpConfig::new(SealedSecret::from_bytes(vec![1, 2, 3]))),
            CredentialConfig::LookupSecret(LookupSecretConfig {
                codes: vec![LookupCode { hash: TokenHash::from_bytes([7; 32]), used_at: Some(NOW) }],
                imported_codes: vec![],
            }),
            CredentialConfig::Webauthn(json!({"credentials": []})),
            CredentialConfig::Code(CodeConfig {
                addresses: vec![CodeAddress { channel: AddressVia::Sms, address: "+4915112345678".into() }],
            }),
            CredentialConfig::Oidc(OidcConfig { providers: vec![OidcLink::new("google", "1234")] }),
            CredentialConfig::X509(X509Config::single(CertificateFingerprint::from_bytes([0xab; 32]), "CN=device-1")),
            CredentialConfig::ExtJwt(ExtJwtConfig { signer_id: JwtSignerId::new(), subject: "svc".into() }),
        ];
        for config in configs {
            let credential = Credential::new(config, vec!["x".into()], NOW).unwrap();
            let json = serde_json::to_string(&credential).unwrap();
            let back: Credential = serde_json::from_str(&json).unwrap();
            assert_eq!(back, credential, "{json}");
        }
    }

    #[test]
    fn kratos_empty_configs_decode() {
        let json = json!({"type": "totp", "identifiers": ["alice"], "config": {}, "version": 0,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"});
        let credential: Credential = serde_json::from_value(json).unwrap();
        let CredentialConfig::Totp(totp) = credential.config else { panic!("not totp") };
        assert_eq!((totp.digits, totp.period_seconds, totp.secret), (6, 30, None));
    }

    #[test]
    fn unknown_config_keys_are_refused_not_dropped() {
        let json = json!({"type": "totp", "identifiers": [], "config": {"seed": "JBSWY3DPEHPK3PXP"},
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"});
        let err = serde_json::from_value::<Credential>(json).unwrap_err();
        assert!(err.to_string().contains("seed"), "{err}");
    }

    #[test]
    fn bad_configs_and_types_are_refused() {
        let base = |kind: &str, config: Value| {
            json!({"type": kind, "identifiers": [], "config": config,
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})
        };
        assert!(serde_json::from_value::<Credential>(base("magic", json!({}))).is_err());
        assert!(serde_json::from_value::<Credential>(base("totp", json!({"digits": 4}))).is_err());
        assert!(serde_json::from_value::<Credential>(base("totp", json!({"period_seconds": 0}))).is_err());
        assert!(serde_json::from_value::<Credential>(base("password", json!({"hashed_password": "plain"}))).is_err());
        assert!(
            serde_json::from_value::<Credential>(base("x509", json!({"fingerprint": "ab", "subject": "x"}))).is_err()
        );
        assert!(Credential::new(CredentialConfig::Password(PasswordConfig::default()), vec![" ".into()], NOW).is_err());
    }

    #[test]
    fn credentials_map_refuses_mismatched_keys() {
        let mut json = serde_json::to_value(Credentials::from_iter([password()])).unwrap();
        assert!(serde_json::from_value::<Credentials>(json.clone()).is_ok());
        let moved = json["password"].take();
        json["totp"] = moved;
        json.as_object_mut().unwrap().remove("password");
        let err = serde_json::from_value::<Credentials>(json).unwrap_err();
        assert!(err.to_string().contains("key must equal"), "{err}");
    }

    #[test]
    fn fingerprints_parse_openssl_output() {
        let openssl = "AB:".repeat(31) + "AB";
        let fingerprint: CertificateFingerprint = openssl.parse().unwrap();
        assert_eq!(fingerprint.to_hex(), "ab".repeat(32));
        assert!("AB:CD".parse::<CertificateFingerprint>().is_err());
    }

    #[test]
    fn credential_type_names_match_kratos() {
        for kind in CredentialType::ALL {
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.as_str()));
            assert_eq!(kind.as_str().parse::<CredentialType>(), Ok(kind));
        }
        assert!("saml".parse::<CredentialType>().is_err());
    }
}
