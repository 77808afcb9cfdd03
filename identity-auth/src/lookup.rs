//! Lookup secrets (backup codes): 12 single-use codes of 10 characters from an alphabet without look-alikes,
//! stored only as keyed hashes.

use identity_core::time::OffsetDateTime;
use identity_core::{IdentityId, LookupCode, LookupSecretConfig, SecretBytes, SecretString};

use crate::error::Error;
use crate::token::{hash_code, random_code};

/// How many codes a set has.
pub const LOOKUP_CODE_COUNT: usize = 12;
/// How long each code is (about 49 bits each).
pub const LOOKUP_CODE_LENGTH: usize = 10;
/// Letters and digits without `0`/`o`, `1`/`l`/`i`: nothing a person could misread.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// Makes and checks backup codes. The key (at least 32 bytes, kept outside the database) makes the stored hashes
/// useless to whoever steals only the database.
pub struct LookupSecrets {
    key: SecretBytes,
}

impl std::fmt::Debug for LookupSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookupSecrets(***)")
    }
}

impl LookupSecrets {
    /// Codes hashed under `key`.
    pub fn new(key: SecretBytes) -> Result<Self, Error> {
        if key.expose_secret().len() < 32 {
            return Err(Error::InvalidConfig { field: "lookup_code_key", reason: "must be at least 32 bytes".into() });
        }
        Ok(Self { key })
    }

    /// A new set for `identity`: the codes to show once, and the config to store. Storing it replaces, and so
    /// invalidates, the previous set.
    pub fn generate(&self, identity: IdentityId) -> Result<(Vec<SecretString>, LookupSecretConfig), Error> {
        let mut codes = Vec::with_capacity(LOOKUP_CODE_COUNT);
        let mut config = LookupSecretConfig::default();
        while codes.len() < LOOKUP_CODE_COUNT {
            let code = random_code(ALPHABET, LOOKUP_CODE_LENGTH)?;
            let hash = self.hash(identity, code.expose_secret());
            if config.codes.iter().all(|stored| stored.hash != hash) {
                config.codes.push(LookupCode { hash, used_at: None });
                codes.push(code);
            }
        }
        Ok((codes, config))
    }

    /// How many codes of `config` are still unused.
    pub fn remaining(config: &LookupSecretConfig) -> usize {
        config.codes.iter().filter(|code| code.used_at.is_none()).count()
    }

    /// Marks `code` used at `now` and returns how many remain. The caller stores the updated config; to make
    /// the single use hold across concurrent requests, [`crate::Authenticator::use_lookup_code`] also claims
    /// the code atomically in the store.
    pub fn consume(
        &self,
        identity: IdentityId,
        config: &mut LookupSecretConfig,
        code: &str,
        now: OffsetDateTime,
    ) -> Result<usize, Error> {
        let hash = self.hash(identity, code);
        let stored = config.codes.iter_mut().find(|stored| stored.hash == hash && stored.used_at.is_none());
        let stored = stored.ok_or(Error::InvalidLookupCode)?;
        stored.used_at = Some(now);
        Ok(Self::remaining(config))
    }

    /// Hashes a Kratos import's plaintext codes into `codes`, keeping which were used, and clears the plaintext.
    pub fn hash_imported(&self, identity: IdentityId, config: &mut LookupSecretConfig) {
        for imported in std::mem::take(&mut config.imported_codes) {
            let hash = self.hash(identity, imported.code.expose_secret());
            config.codes.push(LookupCode { hash, used_at: imported.used_at });
        }
    }

    /// The keyed hash of `code` for `identity`, after normalising what a person may type (case, spaces, dashes).
    pub(crate) fn hash(&self, identity: IdentityId, code: &str) -> identity_core::TokenHash {
        let normalized: String =
            code.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect();
        hash_code(&self.key, identity.as_uuid().as_bytes(), &normalized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

    fn secrets() -> LookupSecrets {
        LookupSecrets::new(SecretBytes::new(vec![5; 32])).unwrap()
    }

    #[test]
    fn a_set_has_twelve_unambiguous_codes_stored_only_hashed() {
        let identity = IdentityId::new();
        let (codes, config) = secrets().generate(identity).unwrap();
        assert_eq!(codes.len(), 12);
        assert_eq!(config.codes.len(), 12);
        for code in &codes {
            let code = code.expose_secret();
            assert_eq!(code.len(), LOOKUP_CODE_LENGTH);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
            assert!(!serde_json::to_string(&config).unwrap().contains(code));
        }
        assert_eq!(LookupSecrets::remaining(&config), 12);
    }

    #[test]
    fn each_code_works_once_and_the_count_goes_down() {
        let identity = IdentityId::new();
        let secrets = secrets();
        let (codes, mut config) = secrets.generate(identity).unwrap();
        let first = codes[0].expose_secret().to_uppercase();
        let typed = format!("{}-{} ", &first[..5], &first[5..]);
        assert_eq!(secrets.consume(identity, &mut config, &typed, NOW).unwrap(), 11);
        assert!(matches!(
            secrets.consume(identity, &mut config, codes[0].expose_secret(), NOW),
            Err(Error::InvalidLookupCode)
        ));
        assert_eq!(secrets.consume(identity, &mut config, codes[1].expose_secret(), NOW).unwrap(), 10);
        assert!(matches!(secrets.consume(identity, &mut config, "not-a-code", NOW), Err(Error::InvalidLookupCode)));
        assert!(matches!(
            secrets.consume(IdentityId::new(), &mut config, codes[2].expose_secret(), NOW),
            Err(Error::InvalidLookupCode)
        ));
    }

    #[test]
    fn regenerating_invalidates_the_old_set() {
        let identity = IdentityId::new();
        let secrets = secrets();
        let (old_codes, _) = secrets.generate(identity).unwrap();
        let (_, mut config) = secrets.generate(identity).unwrap();
        assert!(secrets.consume(identity, &mut config, old_codes[0].expose_secret(), NOW).is_err());
    }

    #[test]
    fn imported_codes_are_hashed_with_their_usage() {
        let identity = IdentityId::new();
        let secrets = secrets();
        let mut config: LookupSecretConfig = serde_json::from_value(serde_json::json!({"recovery_codes": [
            {"code": "abcd1234", "used_at": null}, {"code": "efgh5678", "used_at": "2025-01-01T00:00:00Z"}]}))
        .unwrap();
        secrets.hash_imported(identity, &mut config);
        assert!(config.imported_codes.is_empty());
        assert_eq!(LookupSecrets::remaining(&config), 1);
        assert_eq!(secrets.consume(identity, &mut config, "abcd1234", NOW).unwrap(), 0);
        assert!(secrets.consume(identity, &mut config, "efgh5678", NOW).is_err());
    }

    #[test]
    fn short_keys_are_refused_and_debug_is_redacted() {
        assert!(LookupSecrets::new(SecretBytes::new(vec![1; 16])).is_err());
        assert_eq!(format!("{:?}", secrets()), "LookupSecrets(***)");
    }
}
