//! Secret material as types. Raw secrets ([`SecretString`], [`SecretBytes`]) redact `Debug`, zeroize on drop,
//! have no `Serialize`, and compare only in constant time. What the store keeps instead ([`TokenHash`],
//! [`HashedPassword`], [`SealedSecret`]) is serialisable but still redacted in `Debug`; [`TokenHash`], the lookup
//! key of secrets, compares in constant time. Verifying a password against a [`HashedPassword`] is
//! identity-auth's job (its hash libraries compare in constant time); equality on the stored forms is only for
//! tests and bookkeeping.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::Problem;

/// A secret string as a person or client holds it: a password, a session token, a recovery code.
///
/// It can be deserialised (it arrives in requests) but never serialised; the one way to read it is
/// [`expose_secret`](Self::expose_secret), so every place that does is easy to find.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `secret`.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Call it only where the secret must be used or handed over once.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Compares with `other` in time that depends only on the lengths, not on where they differ.
    pub fn ct_eq(&self, other: &str) -> bool {
        self.0.as_bytes().ct_eq(other.as_bytes()).into()
    }
}

impl PartialEq for SecretString {
    /// Constant-time, like [`SecretString::ct_eq`].
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other.expose_secret())
    }
}

impl Eq for SecretString {}

impl From<String> for SecretString {
    fn from(secret: String) -> Self {
        Self(secret)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// Secret bytes: a TOTP seed, a key, a random token before encoding. Redacted, zeroized, never serialised.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps `secret`.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self(secret.into())
    }

    /// The secret itself.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Compares with `other` in time that depends only on the lengths.
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.0.ct_eq(other).into()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, ***)", self.0.len())
    }
}

/// The SHA-256 (or keyed HMAC-SHA-256) digest of a secret token or code: the only form in which the store sees
/// session tokens, enrollment tokens, one-time codes and refresh tokens.
///
/// Serialises as 64 lower-case hexadecimal digits. Equality runs in constant time. `Debug` shows only the first
/// four bytes, enough to correlate log lines without handing out a lookup key.
#[derive(Clone, Copy)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Wraps a digest computed elsewhere (identity-auth hashes; this crate does no cryptography).
    pub const fn from_bytes(digest: [u8; 32]) -> Self {
        Self(digest)
    }

    /// The digest's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lower-case hexadecimal digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TokenHash {}

// Written out beside the hand-made `PartialEq`: equal digests have equal bytes, so they hash alike.
impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

impl FromStr for TokenHash {
    type Err = Problem;

    fn from_str(s: &str) -> Result<Self, Problem> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(s, &mut digest)
            .map_err(|_| Problem::Malformed { expected: "64 hexadecimal digits (a SHA-256 digest)" })?;
        Ok(Self(digest))
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A password hash in PHC (`$argon2id$v=19$...`, `$pbkdf2-sha256$...`, `$scrypt$...`) or crypt (`$2b$...`)
/// format, as stored and as Kratos' import accepts it. Which formats verify is identity-auth's business; this type
/// only insists on the leading `$` and redacts everything after the algorithm in `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HashedPassword(String);

impl HashedPassword {
    /// Accepts a PHC or crypt string.
    pub fn new(encoded: impl Into<String>) -> Result<Self, Problem> {
        let encoded = encoded.into();
        let algorithm = encoded.strip_prefix('$').and_then(|rest| rest.split('$').next());
        match algorithm {
            Some(id) if !id.is_empty() && encoded.len() <= 1024 => Ok(Self(encoded)),
            _ => Err(Problem::Malformed { expected: "a PHC or crypt string such as `$argon2id$...` or `$2b$...`" }),
        }
    }

    /// The encoded hash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The algorithm id between the first two `$`: `argon2id`, `2b`, `pbkdf2-sha256`, ...
    pub fn algorithm(&self) -> &str {
        self.0.trim_start_matches('$').split('$').next().unwrap_or_default()
    }
}

impl TryFrom<String> for HashedPassword {
    type Error = Problem;

    fn try_from(encoded: String) -> Result<Self, Problem> {
        Self::new(encoded)
    }
}

impl From<HashedPassword> for String {
    fn from(hash: HashedPassword) -> String {
        hash.0
    }
}

impl fmt::Debug for HashedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashedPassword(${}$***)", self.algorithm())
    }
}

/// A secret encrypted by identity-auth's secret cipher (nonce, ciphertext and tag, with the key id), e.g. a TOTP
/// seed at rest. Opaque here; serialises as unpadded base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    /// Wraps sealed bytes.
    pub fn from_bytes(sealed: impl Into<Vec<u8>>) -> Self {
        Self(sealed.into())
    }

    /// The sealed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret({} bytes)", self.0.len())
    }
}

impl Serialize for SealedSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SealedSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map(Self)
            .map_err(|_| serde::de::Error::custom("sealed secret must be unpadded base64url"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_secret() {
        let password = SecretString::new("hunter2-correct-horse");
        let bytes = SecretBytes::new(b"seed-seed-seed".to_vec());
        let hash = HashedPassword::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g").unwrap();
        let sealed = SealedSecret::from_bytes(b"ciphertext".to_vec());
        let all = format!("{password:?} {bytes:?} {hash:?} {sealed:?}");
        for leaked in ["hunter2", "seed", "c2FsdHNhbHQ", "aGFzaGhhc2g", "ciphertext"] {
            assert!(!all.contains(leaked), "{leaked} leaked in {all}");
        }
        assert!(all.contains("$argon2id$***"));
    }

    #[test]
    fn secret_strings_compare_in_constant_time_helpers() {
        let token = SecretString::new("abc");
        assert!(token.ct_eq("abc"));
        assert!(!token.ct_eq("abd"));
        assert!(!token.ct_eq("abcd"));
        assert!(SecretBytes::new(vec![1, 2]).ct_eq(&[1, 2]));
    }

    #[test]
    fn token_hash_round_trips_as_hex_and_redacts_debug() {
        let hash = TokenHash::from_bytes([0xab; 32]);
        let json = serde_json::to_string(&hash).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<TokenHash>(&json).unwrap(), hash);
        assert_eq!(format!("{hash:?}"), "TokenHash(abababab…)");
        assert!("abc".parse::<TokenHash>().is_err());
        assert!("zz".repeat(32).parse::<TokenHash>().is_err());
        assert_ne!(hash, TokenHash::from_bytes([0xac; 32]));
    }

    #[test]
    fn hashed_password_needs_a_phc_or_crypt_prefix() {
        assert_eq!(HashedPassword::new("$2b$12$abcdefghijklmnopqrstuv").unwrap().algorithm(), "2b");
        for bad in ["", "plaintext", "$", "$$x", &format!("${}", "a".repeat(2000))] {
            assert!(HashedPassword::new(bad).is_err(), "{bad} accepted");
        }
        assert!(serde_json::from_str::<HashedPassword>("\"plain\"").is_err());
    }

    #[test]
    fn sealed_secret_round_trips_as_base64url() {
        let sealed = SealedSecret::from_bytes(vec![0xff, 0x00, 0x10]);
        let json = serde_json::to_string(&sealed).unwrap();
        assert_eq!(json, "\"_wAQ\"");
        assert_eq!(serde_json::from_str::<SealedSecret>(&json).unwrap(), sealed);
        assert!(serde_json::from_str::<SealedSecret>("\"*not base64*\"").is_err());
    }
}
