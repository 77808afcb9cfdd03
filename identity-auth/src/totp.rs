//! TOTP (RFC 6238) as a second factor: enrolment with a 160-bit secret sealed at rest, an `otpauth://` URI for
//! authenticator apps, verification with ±1 step of skew, and replay protection (a step once accepted is never
//! accepted again).

use std::sync::Arc;

use identity_core::time::OffsetDateTime;
use identity_core::{IdentityId, SecretBytes, SecretString, TotpAlgorithm, TotpConfig};
use totp_rs::{Algorithm, Builder, Secret};

use crate::cipher::SecretCipher;
use crate::error::Error;

/// How TOTP authenticators are set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSettings {
    /// The name authenticator apps show above the code (your product's name). Must not contain `:`.
    pub issuer: String,
    /// The HMAC algorithm (SHA-1, which every app supports, unless you know yours support more).
    pub algorithm: TotpAlgorithm,
    /// Digits per code: 6 to 8.
    pub digits: u8,
    /// Seconds per step.
    pub period_seconds: u32,
    /// Steps of clock drift accepted on either side.
    pub skew: u16,
}

impl Default for TotpSettings {
    fn default() -> Self {
        Self { issuer: "identity".into(), algorithm: TotpAlgorithm::Sha1, digits: 6, period_seconds: 30, skew: 1 }
    }
}

/// What enrolling produces: the config to store in the identity's TOTP credential, and the URI to show once
/// (as a QR code) so the user's app can add the account.
#[derive(Debug)]
pub struct TotpEnrollment {
    /// The credential config, with the secret sealed.
    pub config: TotpConfig,
    /// The `otpauth://` URI, which contains the secret: show it once, never store or log it.
    pub uri: SecretString,
}

/// Sets up and checks TOTP authenticators.
#[derive(Debug, Clone)]
pub struct TotpVerifier {
    settings: TotpSettings,
    cipher: Arc<SecretCipher>,
}

impl TotpVerifier {
    /// A verifier that seals secrets with `cipher`.
    pub fn new(settings: TotpSettings, cipher: Arc<SecretCipher>) -> Result<Self, Error> {
        if settings.issuer.is_empty() || settings.issuer.contains(':') {
            return Err(Error::InvalidTotpSetup { reason: "the issuer must be non-empty and without ':'".into() });
        }
        if !(6..=8).contains(&settings.digits) || settings.period_seconds == 0 || settings.skew > 2 {
            return Err(Error::InvalidTotpSetup {
                reason: "use 6 to 8 digits, a positive period and a skew of at most 2".into(),
            });
        }
        Ok(Self { settings, cipher })
    }

    /// The steps of drift accepted on either side of now.
    pub fn skew(&self) -> u16 {
        self.settings.skew
    }

    /// A fresh 160-bit secret for `identity`, shown to `account_name`'s authenticator app (from the schema's
    /// `totp.account_name` trait).
    pub fn enroll(&self, identity: IdentityId, account_name: &str) -> Result<TotpEnrollment, Error> {
        let secret = crate::token::random_bytes(20)?;
        let mut config = TotpConfig::new(self.cipher.seal(secret.expose_secret(), identity.as_uuid().as_bytes())?);
        config.algorithm = self.settings.algorithm;
        config.digits = self.settings.digits;
        config.period_seconds = self.settings.period_seconds;
        let totp = build(&config, &secret, Some(&self.settings.issuer), account_name)?;
        let uri = totp.to_url().map_err(|e| Error::InvalidTotpSetup { reason: e.to_string() })?;
        Ok(TotpEnrollment { config, uri: SecretString::new(uri) })
    }

    /// Checks `code` for `identity` at `now`. On success records the step in `config.last_used_step`; the
    /// caller must store the updated credential. A code of a step at or before the last used one is refused,
    /// so a code cannot be replayed.
    pub fn verify(
        &self,
        identity: IdentityId,
        config: &mut TotpConfig,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<u64, Error> {
        let sealed = config.secret.as_ref().ok_or(Error::InvalidTotpCode)?;
        let secret = self.cipher.open(sealed, identity.as_uuid().as_bytes())?;
        let totp = build(config, &secret, None, "")?;
        let seconds = u64::try_from(now.unix_timestamp()).map_err(|_| Error::InvalidTotpCode)?;
        let step = check_with_skew(&totp, code.trim(), seconds, self.settings.skew).ok_or(Error::InvalidTotpCode)?;
        if config.last_used_step.is_some_and(|last| step <= last) {
            return Err(Error::InvalidTotpCode);
        }
        config.last_used_step = Some(step);
        Ok(step)
    }

    /// Turns a Kratos import's plaintext `totp_url` into a sealed secret, clearing the plaintext.
    pub fn seal_imported(&self, identity: IdentityId, config: &mut TotpConfig) -> Result<(), Error> {
        let Some(url) = &config.imported_url else { return Ok(()) };
        let imported = parse_otpauth(url.expose_secret())?;
        // Everything is checked before `config` changes, so a refused import leaves it as it was.
        let mut updated = config.clone();
        updated.secret = Some(self.cipher.seal(imported.secret.expose_secret(), identity.as_uuid().as_bytes())?);
        updated.algorithm = imported.algorithm;
        updated.digits = imported.digits;
        updated.period_seconds = imported.period_seconds;
        updated.imported_url = None;
        updated.check()?;
        *config = updated;
        Ok(())
    }
}

fn algorithm_of(algorithm: TotpAlgorithm) -> Algorithm {
    match algorithm {
        TotpAlgorithm::Sha1 => Algorithm::SHA1,
        TotpAlgorithm::Sha256 => Algorithm::SHA256,
        TotpAlgorithm::Sha512 => Algorithm::SHA512,
    }
}

fn build(
    config: &TotpConfig,
    secret: &SecretBytes,
    issuer: Option<&str>,
    account: &str,
) -> Result<totp_rs::Totp, Error> {
    config.check()?;
    Builder::new()
        .with_algorithm(algorithm_of(config.algorithm))
        .with_digits(config.digits)
        .with_step_duration(u64::from(config.period_seconds))
        .with_skew(0)
        .with_secret(Secret::from(secret.expose_secret()))
        .with_issuer(issuer.map(str::to_owned))
        .with_account_name(account.to_owned())
        .build()
        .map_err(|e| Error::InvalidTotpSetup { reason: e.to_string() })
}

/// The step `code` is valid for, looking `skew` steps either side of `seconds`; the latest matching step wins.
fn check_with_skew(totp: &totp_rs::Totp, code: &str, seconds: u64, skew: u16) -> Option<u64> {
    let period = totp.step();
    let origin = seconds / period;
    (origin.saturating_sub(u64::from(skew))..=origin.saturating_add(u64::from(skew)))
        .rev()
        .find(|step| totp.check(code, step.saturating_mul(period)).is_some())
}

struct ImportedTotp {
    secret: SecretBytes,
    algorithm: TotpAlgorithm,
    digits: u8,
    period_seconds: u32,
}

/// Reads an `otpauth://totp/...?secret=...&algorithm=...&digits=...&period=...` URI.
fn parse_otpauth(url: &str) -> Result<ImportedTotp, Error> {
    let bad = |reason: &str| Error::InvalidTotpSetup { reason: format!("imported totp_url: {reason}") };
    let query = url.strip_prefix("otpauth://totp/").and_then(|rest| rest.split_once('?')).map(|(_, q)| q);
    let query = query.ok_or_else(|| bad("not an otpauth://totp/ URI"))?;
    let mut imported = ImportedTotp {
        secret: SecretBytes::new(Vec::new()),
        algorithm: TotpAlgorithm::Sha1,
        digits: 6,
        period_seconds: 30,
    };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key.to_ascii_lowercase().as_str() {
            "secret" => {
                let secret = Secret::try_from_base32(value).map_err(|_| bad("the secret is not base32"))?;
                imported.secret = SecretBytes::new(secret.as_ref());
            }
            "algorithm" => {
                imported.algorithm = match value.to_ascii_uppercase().as_str() {
                    "SHA1" => TotpAlgorithm::Sha1,
                    "SHA256" => TotpAlgorithm::Sha256,
                    "SHA512" => TotpAlgorithm::Sha512,
                    _ => return Err(bad("unknown algorithm")),
                }
            }
            "digits" => imported.digits = value.parse().map_err(|_| bad("digits is not a number"))?,
            "period" => imported.period_seconds = value.parse().map_err(|_| bad("period is not a number"))?,
            _ => {}
        }
    }
    if imported.secret.expose_secret().len() < 10 {
        return Err(bad("the secret is missing or shorter than 80 bits"));
    }
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::CipherKey;
    use time::macros::datetime;

    fn verifier() -> TotpVerifier {
        let cipher = SecretCipher::new(vec![CipherKey::new(1, &SecretBytes::new(vec![9; 32])).unwrap()]).unwrap();
        TotpVerifier::new(TotpSettings { issuer: "ACME".into(), ..TotpSettings::default() }, Arc::new(cipher)).unwrap()
    }

    fn code_for(config: &TotpConfig, identity: IdentityId, verifier: &TotpVerifier, at: OffsetDateTime) -> String {
        let secret = verifier.cipher.open(config.secret.as_ref().unwrap(), identity.as_uuid().as_bytes()).unwrap();
        build(config, &secret, None, "").unwrap().generate(at.unix_timestamp() as u64).to_string()
    }

    #[test]
    fn rfc_6238_vectors_pass() {
        let text = include_str!("../tests/data/rfc6238-totp.json");
        let vectors: serde_json::Value = serde_json::from_str(text).unwrap();
        let vectors = vectors["vectors"].as_array().unwrap();
        assert!(vectors.len() >= 18);
        for vector in vectors {
            let mut config = TotpConfig::new(identity_core::SealedSecret::from_bytes(vec![]));
            config.algorithm = match vector["algorithm"].as_str().unwrap() {
                "SHA1" => TotpAlgorithm::Sha1,
                "SHA256" => TotpAlgorithm::Sha256,
                _ => TotpAlgorithm::Sha512,
            };
            config.digits = vector["digits"].as_u64().unwrap() as u8;
            config.period_seconds = vector["period"].as_u64().unwrap() as u32;
            let secret = SecretBytes::new(vector["secret_ascii"].as_str().unwrap().as_bytes());
            let totp = build(&config, &secret, None, "").unwrap();
            let time = vector["unix_time"].as_u64().unwrap();
            assert_eq!(totp.generate(time).to_string(), vector["totp"].as_str().unwrap(), "{vector}");
            let step = u64::from_str_radix(vector["step_hex"].as_str().unwrap(), 16).unwrap();
            assert_eq!(check_with_skew(&totp, vector["totp"].as_str().unwrap(), time, 0), Some(step));
        }
    }

    #[test]
    fn enrolment_gives_a_sealed_160_bit_secret_and_an_otpauth_uri() {
        let verifier = verifier();
        let identity = IdentityId::new();
        let enrollment = verifier.enroll(identity, "ada@example.com").unwrap();
        let uri = enrollment.uri.expose_secret();
        assert!(uri.starts_with("otpauth://totp/ACME:ada%40example.com?"), "{uri}");
        assert!(uri.contains("issuer=ACME") && uri.contains("secret="));
        let secret = verifier.cipher.open(enrollment.config.secret.as_ref().unwrap(), identity.as_uuid().as_bytes());
        assert_eq!(secret.unwrap().expose_secret().len(), 20);
        assert_eq!((enrollment.config.digits, enrollment.config.period_seconds), (6, 30));
        assert!(!format!("{enrollment:?}").contains("secret="), "the URI leaks through Debug");
    }

    #[test]
    fn codes_verify_within_one_step_of_skew_and_never_twice() {
        let verifier = verifier();
        let identity = IdentityId::new();
        let mut config = verifier.enroll(identity, "ada").unwrap().config;
        let now = datetime!(2026-01-01 12:00:15 UTC);
        let code = code_for(&config, identity, &verifier, now);
        let step = verifier.verify(identity, &mut config, &code, now).unwrap();
        assert_eq!(config.last_used_step, Some(step));
        assert!(matches!(verifier.verify(identity, &mut config, &code, now), Err(Error::InvalidTotpCode)), "replayed");

        let later = now + identity_core::time::Duration::seconds(30);
        let previous_step_code = code_for(&config, identity, &verifier, now);
        assert!(verifier.verify(identity, &mut config, &previous_step_code, later).is_err(), "old step after use");
        let next = code_for(&config, identity, &verifier, later);
        assert!(
            verifier.verify(identity, &mut config, &next, later - identity_core::time::Duration::seconds(25)).is_ok()
        );

        let far = later + identity_core::time::Duration::minutes(5);
        let stale = code_for(&config, identity, &verifier, far - identity_core::time::Duration::seconds(90));
        assert!(matches!(verifier.verify(identity, &mut config, &stale, far), Err(Error::InvalidTotpCode)));
    }

    #[test]
    fn wrong_codes_garbage_and_other_identities_fail() {
        let verifier = verifier();
        let identity = IdentityId::new();
        let mut config = verifier.enroll(identity, "ada").unwrap().config;
        let now = datetime!(2026-01-01 12:00:00 UTC);
        for bad in ["", "12345", "abcdef", "0000000", "１２３４５６"] {
            assert!(verifier.verify(identity, &mut config, bad, now).is_err(), "{bad:?}");
        }
        let code = code_for(&config, identity, &verifier, now);
        assert!(matches!(verifier.verify(IdentityId::new(), &mut config, &code, now), Err(Error::TamperedSecret)));
    }

    #[test]
    fn imported_kratos_urls_are_sealed_and_cleared() {
        let verifier = verifier();
        let identity = IdentityId::new();
        let mut config = TotpConfig::new(identity_core::SealedSecret::from_bytes(vec![]));
        config.secret = None;
        config.imported_url = Some(SecretString::new(
            "otpauth://totp/ACME:ada?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=ACME&digits=8",
        ));
        verifier.seal_imported(identity, &mut config).unwrap();
        assert!(config.imported_url.is_none() && config.secret.is_some());
        assert_eq!(config.digits, 8);
        let now = datetime!(2026-01-01 12:00:00 UTC);
        let code = code_for(&config, identity, &verifier, now);
        assert!(verifier.verify(identity, &mut config, &code, now).is_ok());

        for bad in [
            "https://x",
            "otpauth://totp/x?secret=!!!",
            "otpauth://totp/x?issuer=ACME",
            "otpauth://totp/x?secret=JBSWY3DP",
        ] {
            let mut config = TotpConfig::new(identity_core::SealedSecret::from_bytes(vec![]));
            config.imported_url = Some(SecretString::new(bad));
            assert!(
                matches!(verifier.seal_imported(identity, &mut config), Err(Error::InvalidTotpSetup { .. })),
                "{bad}"
            );
            assert!(config.imported_url.is_some(), "a refused import must keep the plaintext: {bad}");
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let cipher =
            Arc::new(SecretCipher::new(vec![CipherKey::new(1, &SecretBytes::new(vec![9; 32])).unwrap()]).unwrap());
        for settings in [
            TotpSettings { issuer: "a:b".into(), ..TotpSettings::default() },
            TotpSettings { digits: 5, ..TotpSettings::default() },
            TotpSettings { period_seconds: 0, ..TotpSettings::default() },
        ] {
            assert!(TotpVerifier::new(settings, cipher.clone()).is_err());
        }
    }
}
