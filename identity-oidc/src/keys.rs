//! The signing key set: a current key that signs and the previous one, still published in the JWKS so tokens it
//! signed verify until they lapse. Keys are made with aws-lc-rs (ES256 by default; EdDSA and RS256 on request) and
//! handed to jsonwebtoken as PKCS#8.
//!
//! [`KeySet::to_document`] and [`KeySet::from_document`] turn the set into JSON holding only private keys sealed by
//! identity-auth's [`SecretCipher`]. [`KeySet::load_or_create`] and [`KeySet::rotate_stored`] keep that document
//! in the store, so that a restarted provider and every replica sign and verify with the same keys.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use identity_auth::SecretCipher;
use identity_core::{SealedSecret, SecretBytes};
use identity_store::OAuth2Store;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// The algorithms keys are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SigningAlgorithm {
    /// ECDSA on P-256 with SHA-256: small, fast, the default.
    #[default]
    ES256,
    /// Ed25519.
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key, for relying parties that know nothing else.
    RS256,
}

impl SigningAlgorithm {
    /// jsonwebtoken's name for it.
    pub const fn jwt_algorithm(self) -> Algorithm {
        match self {
            SigningAlgorithm::ES256 => Algorithm::ES256,
            SigningAlgorithm::EdDSA => Algorithm::EdDSA,
            SigningAlgorithm::RS256 => Algorithm::RS256,
        }
    }

    /// The JOSE `alg` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::EdDSA => "EdDSA",
            SigningAlgorithm::RS256 => "RS256",
        }
    }
}

/// One signing key: its id, its algorithm, the keys jsonwebtoken uses, and its public JWK.
pub struct SigningKey {
    kid: String,
    algorithm: SigningAlgorithm,
    pkcs8: SecretBytes,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

fn key_error(what: &str) -> Error {
    Error::Keys { reason: what.to_owned() }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    /// A fresh key for `algorithm`.
    pub fn generate(algorithm: SigningAlgorithm) -> Result<Self, Error> {
        let pkcs8 = match algorithm {
            SigningAlgorithm::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map(|d| d.as_ref().to_vec()),
            SigningAlgorithm::EdDSA => {
                Ed25519KeyPair::generate().and_then(|k| k.to_pkcs8v1()).map(|d| d.as_ref().to_vec())
            }
            SigningAlgorithm::RS256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|k| AsDer::<Pkcs8V1Der>::as_der(&k))
                .map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| key_error("the key could not be generated"))?;
        Self::from_pkcs8(algorithm, SecretBytes::new(pkcs8))
    }

    /// A key from its PKCS#8 DER private key.
    pub fn from_pkcs8(algorithm: SigningAlgorithm, pkcs8: SecretBytes) -> Result<Self, Error> {
        let der = pkcs8.expose_secret();
        let (encoding, decoding, mut jwk) = match algorithm {
            SigningAlgorithm::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| key_error("not a P-256 PKCS#8 key"))?;
                // An uncompressed point: 0x04 | x (32 bytes) | y (32 bytes).
                let point = pair.public_key().as_ref();
                let (x, y) = match point {
                    [4, rest @ ..] if rest.len() == 64 => rest.split_at(32),
                    _ => return Err(key_error("unexpected P-256 public key encoding")),
                };
                let (x, y) = (b64(x), b64(y));
                let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|_| key_error("bad P-256 point"))?;
                (EncodingKey::from_ec_der(der), decoding, json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}))
            }
            SigningAlgorithm::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|_| key_error("not an Ed25519 PKCS#8 key"))?;
                let x = b64(pair.public_key().as_ref());
                let decoding = DecodingKey::from_ed_components(&x).map_err(|_| key_error("bad Ed25519 key"))?;
                (EncodingKey::from_ed_der(der), decoding, json!({"kty": "OKP", "crv": "Ed25519", "x": x}))
            }
            SigningAlgorithm::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| key_error("not an RSA PKCS#8 key"))?;
                let n = b64(pair.public_key().modulus().big_endian_without_leading_zero());
                let e = b64(pair.public_key().exponent().big_endian_without_leading_zero());
                let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|_| key_error("bad RSA key"))?;
                // jsonwebtoken's RSA DER loader wants PKCS#1; its PEM loader unwraps PKCS#8, so go through PEM.
                let encoding = EncodingKey::from_rsa_pem(pem("PRIVATE KEY", der).as_bytes())
                    .map_err(|_| key_error("jsonwebtoken refused the RSA key"))?;
                (encoding, decoding, json!({"kty": "RSA", "n": n, "e": e}))
            }
        };
        // The kid is a digest of the public key, so the same key always has the same id.
        let kid = b64(&Sha256::digest(jwk.to_string().as_bytes())[..16]);
        jwk["alg"] = algorithm.as_str().into();
        jwk["use"] = "sig".into();
        jwk["kid"] = kid.clone().into();
        Ok(Self { kid, algorithm, pkcs8, encoding, decoding, jwk })
    }

    /// The key id, as in the JWT header and the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.algorithm
    }

    /// The public key as an RFC 7517 JWK (`kty`, `crv`/`x`/`y` or `n`/`e`, `alg`, `use`, `kid`).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The key jsonwebtoken signs with.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The key jsonwebtoken verifies with.
    pub fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }

    /// A JWT header for this key with `typ`.
    pub fn header(&self, typ: &str) -> Header {
        let mut header = Header::new(self.algorithm.jwt_algorithm());
        header.typ = Some(typ.to_owned());
        header.kid = Some(self.kid.clone());
        header
    }

    /// Signs `claims` into a compact JWT with a `typ` header.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, Error> {
        jsonwebtoken::encode(&self.header(typ), claims, &self.encoding).map_err(Error::internal)
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The provider's keys: the current one signs; the previous one, if any, still verifies.
#[derive(Debug)]
pub struct KeySet {
    current: SigningKey,
    previous: Option<SigningKey>,
}

#[derive(Serialize, Deserialize)]
struct SealedKey {
    kid: String,
    alg: SigningAlgorithm,
    sealed_private_key: SealedSecret,
}

#[derive(Serialize, Deserialize)]
struct KeySetDocument {
    /// Current first.
    keys: Vec<SealedKey>,
}

fn seal_context(kid: &str) -> Vec<u8> {
    format!("identity-oidc signing key {kid}").into_bytes()
}

impl KeySet {
    /// A set with one fresh key for `algorithm`.
    pub fn generate(algorithm: SigningAlgorithm) -> Result<Self, Error> {
        Ok(Self { current: SigningKey::generate(algorithm)?, previous: None })
    }

    /// A set whose current key is `current`.
    pub fn with_key(current: SigningKey) -> Self {
        Self { current, previous: None }
    }

    /// Makes a new current key for `algorithm`; the current one becomes the previous, the previous one is dropped
    /// (tokens it signed stop verifying, so rotate less often than the longest token lifetime).
    pub fn rotate(&mut self, algorithm: SigningAlgorithm) -> Result<(), Error> {
        let next = SigningKey::generate(algorithm)?;
        self.previous = Some(std::mem::replace(&mut self.current, next));
        Ok(())
    }

    /// The key that signs.
    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    /// The key with `kid`, current or previous.
    pub fn find(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.current).chain(self.previous.as_ref()).find(|key| key.kid == kid)
    }

    /// The JWKS (RFC 7517): `{"keys": [current, previous]}`.
    pub fn jwks(&self) -> Value {
        let keys: Vec<&Value> = std::iter::once(&self.current).chain(self.previous.as_ref()).map(|k| &k.jwk).collect();
        json!({ "keys": keys })
    }

    /// The set as a JSON document whose private keys are sealed with `cipher`, for the caller to persist.
    pub fn to_document(&self, cipher: &SecretCipher) -> Result<Value, Error> {
        let mut keys = Vec::new();
        for key in std::iter::once(&self.current).chain(self.previous.as_ref()) {
            let sealed = cipher.seal(key.pkcs8.expose_secret(), &seal_context(&key.kid))?;
            keys.push(SealedKey { kid: key.kid.clone(), alg: key.algorithm, sealed_private_key: sealed });
        }
        serde_json::to_value(KeySetDocument { keys }).map_err(Error::internal)
    }

    /// A set read back from [`to_document`](Self::to_document)'s JSON. Fails if a key was tampered with, sealed
    /// under another cipher, or has another id than the one recorded.
    pub fn from_document(document: &Value, cipher: &SecretCipher) -> Result<Self, Error> {
        let document: KeySetDocument =
            serde_json::from_value(document.clone()).map_err(|e| key_error(&format!("bad key set document: {e}")))?;
        let mut keys = Vec::new();
        for sealed in document.keys.into_iter().take(2) {
            let pkcs8 = cipher.open(&sealed.sealed_private_key, &seal_context(&sealed.kid))?;
            let key = SigningKey::from_pkcs8(sealed.alg, pkcs8)?;
            if key.kid != sealed.kid {
                return Err(key_error("a key's id does not match its key"));
            }
            keys.push(key);
        }
        let mut keys = keys.into_iter();
        let current = keys.next().ok_or_else(|| key_error("the key set document holds no key"))?;
        Ok(Self { current, previous: keys.next() })
    }
}

/// Where the key set lives in the store: one document that every replica reads.
const STORED_KIND: &str = "signing_keys";
const STORED_NAME: &str = "current";

impl KeySet {
    /// The key set `store` holds, or a fresh one for `algorithm`, stored now, if it holds none. Of replicas starting
    /// at once, one creates the set and the others read it.
    pub async fn load_or_create(
        store: &dyn OAuth2Store,
        cipher: &SecretCipher,
        algorithm: SigningAlgorithm,
    ) -> Result<Self, Error> {
        if let Some(keys) = Self::load(store, cipher).await? {
            return Ok(keys);
        }
        let keys = Self::generate(algorithm)?;
        match store.put_document(STORED_KIND, STORED_NAME, &keys.to_document(cipher)?, None).await {
            Ok(_) => Ok(keys),
            Err(identity_store::Error::Conflict { .. }) => Self::load(store, cipher)
                .await?
                .ok_or_else(|| key_error("the stored key set vanished while it was being created")),
            Err(other) => Err(other.into()),
        }
    }

    /// The key set `store` holds, if any.
    pub async fn load(store: &dyn OAuth2Store, cipher: &SecretCipher) -> Result<Option<Self>, Error> {
        match store.document(STORED_KIND, STORED_NAME).await? {
            Some(stored) => Ok(Some(Self::from_document(&stored.document, cipher)?)),
            None => Ok(None),
        }
    }

    /// Rotates the stored set (see [`rotate`](Self::rotate)) away from the key `replacing` (the kid the caller
    /// signs with) and returns it. If another replica already rotated away from that key, or does so meanwhile,
    /// its rotation stands and is returned: replicas asked at once rotate once, not once each (which would drop the
    /// key that signed the tokens still in use).
    pub async fn rotate_stored(
        store: &dyn OAuth2Store,
        cipher: &SecretCipher,
        algorithm: SigningAlgorithm,
        replacing: &str,
    ) -> Result<Self, Error> {
        let Some(stored) = store.document(STORED_KIND, STORED_NAME).await? else {
            return Self::load_or_create(store, cipher, algorithm).await;
        };
        let mut keys = Self::from_document(&stored.document, cipher)?;
        if keys.current.kid != replacing {
            return Ok(keys);
        }
        keys.rotate(algorithm)?;
        let document = keys.to_document(cipher)?;
        match store.put_document(STORED_KIND, STORED_NAME, &document, Some(stored.version)).await {
            Ok(_) => Ok(keys),
            Err(identity_store::Error::Conflict { .. }) => Self::load(store, cipher)
                .await?
                .ok_or_else(|| key_error("the stored key set vanished while it was being rotated")),
            Err(other) => Err(other.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use identity_auth::CipherKey;

    fn cipher(byte: u8) -> SecretCipher {
        SecretCipher::new(vec![CipherKey::new(1, &SecretBytes::new(vec![byte; 32])).unwrap()]).unwrap()
    }

    #[test]
    fn every_algorithm_signs_and_verifies_with_its_published_jwk() {
        for alg in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA, SigningAlgorithm::RS256] {
            let key = SigningKey::generate(alg).unwrap();
            let token = key.sign("JWT", &json!({"sub": "ada", "exp": 4_000_000_000u64})).unwrap();
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
            let decoding = DecodingKey::from_jwk(&jwk).unwrap();
            let validation = jsonwebtoken::Validation::new(alg.jwt_algorithm());
            let data = jsonwebtoken::decode::<Value>(&token, &decoding, &validation).unwrap();
            assert_eq!(data.claims["sub"], "ada");
            assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
            let published = key.public_jwk();
            assert_eq!((published["use"].as_str(), published["alg"].as_str()), (Some("sig"), Some(alg.as_str())));
            assert!(published.get("d").is_none(), "a private part was published");
        }
    }

    #[test]
    fn rotation_publishes_current_and_previous_only() {
        let mut set = KeySet::generate(SigningAlgorithm::ES256).unwrap();
        let first = set.current().kid().to_owned();
        set.rotate(SigningAlgorithm::EdDSA).unwrap();
        let second = set.current().kid().to_owned();
        set.rotate(SigningAlgorithm::ES256).unwrap();
        let kids: Vec<_> = set.jwks()["keys"].as_array().unwrap().iter().map(|k| k["kid"].clone()).collect();
        assert_eq!(kids, vec![Value::from(set.current().kid()), Value::from(second.as_str())]);
        assert!(set.find(&first).is_none());
        assert!(set.find(&second).is_some());
    }

    #[test]
    fn the_document_holds_only_sealed_keys_and_round_trips() {
        let mut set = KeySet::generate(SigningAlgorithm::RS256).unwrap();
        set.rotate(SigningAlgorithm::ES256).unwrap();
        let document = set.to_document(&cipher(7)).unwrap();
        let raw = STANDARD.encode(set.current().pkcs8.expose_secret());
        assert!(!document.to_string().contains(&raw[..40]));
        let back = KeySet::from_document(&document, &cipher(7)).unwrap();
        assert_eq!(back.jwks(), set.jwks());
        assert!(KeySet::from_document(&document, &cipher(8)).is_err());
        assert!(KeySet::from_document(&json!({"keys": []}), &cipher(7)).is_err());
        let mut moved = document.clone();
        moved["keys"][0]["kid"] = moved["keys"][1]["kid"].clone();
        assert!(KeySet::from_document(&moved, &cipher(7)).is_err(), "a sealed key opened under another kid");
    }

    #[test]
    fn debug_does_not_show_the_private_key() {
        let key = SigningKey::generate(SigningAlgorithm::EdDSA).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains(key.kid()));
        assert!(!shown.contains("pkcs8"));
    }
}
