//! The secret cipher: XChaCha20-Poly1305 with a key ring. The first key seals; every key opens, so keys rotate
//! without downtime (add the new key first, re-seal at leisure, then drop the old one).
//!
//! A sealed secret is `key id (1 byte) | nonce (24 bytes) | ciphertext and tag`. The random 192-bit nonce makes
//! nonce reuse a non-issue for the number of secrets a deployment will ever seal.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use identity_core::{SealedSecret, SecretBytes};
use zeroize::Zeroizing;

use crate::error::Error;

const NONCE_LEN: usize = 24;

/// One key of the ring: a 32-byte key and the id written into what it seals.
pub struct CipherKey {
    id: u8,
    cipher: XChaCha20Poly1305,
}

impl CipherKey {
    /// A key from 32 secret bytes, known by `id` (0 to 255, unique in the ring).
    pub fn new(id: u8, key: &SecretBytes) -> Result<Self, Error> {
        let cipher = XChaCha20Poly1305::new_from_slice(key.expose_secret()).map_err(|_| Error::InvalidKeyRing {
            reason: format!("key {id} must be 32 bytes, not {}", key.expose_secret().len()),
        })?;
        Ok(Self { id, cipher })
    }
}

impl std::fmt::Debug for CipherKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CipherKey({}, ***)", self.id)
    }
}

/// Seals and opens secrets at rest (TOTP seeds, upstream tokens).
#[derive(Debug)]
pub struct SecretCipher {
    keys: Vec<CipherKey>,
}

impl SecretCipher {
    /// A cipher over `keys`; the first one seals. Refuses an empty ring and duplicate ids.
    pub fn new(keys: Vec<CipherKey>) -> Result<Self, Error> {
        if keys.is_empty() {
            return Err(Error::InvalidKeyRing { reason: "at least one key is needed".into() });
        }
        for (index, key) in keys.iter().enumerate() {
            if keys[..index].iter().any(|other| other.id == key.id) {
                return Err(Error::InvalidKeyRing { reason: format!("key id {} is used twice", key.id) });
            }
        }
        Ok(Self { keys })
    }

    /// Encrypts `plaintext` with the first key. `context` (say, the identity id) is authenticated but not
    /// stored: opening needs the same context, so a sealed secret cannot be moved to another identity.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Result<SealedSecret, Error> {
        let key = self.keys.first().ok_or(Error::Internal { reason: "the key ring is empty".into() })?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| Error::Random)?;
        let ciphertext = key
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad: context })
            .map_err(|_| Error::Internal { reason: "the plaintext is too long to seal".into() })?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(key.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(SealedSecret::from_bytes(sealed))
    }

    /// Decrypts what [`seal`](Self::seal) made, with whichever key of the ring sealed it.
    pub fn open(&self, sealed: &SealedSecret, context: &[u8]) -> Result<SecretBytes, Error> {
        let bytes = sealed.as_bytes();
        let (&id, rest) = bytes.split_first().ok_or(Error::TamperedSecret)?;
        if rest.len() < NONCE_LEN + 16 {
            return Err(Error::TamperedSecret);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::TamperedSecret)?;
        let key = self.keys.iter().find(|key| key.id == id).ok_or(Error::UnknownCipherKey)?;
        let plaintext = Zeroizing::new(
            key.cipher
                .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: context })
                .map_err(|_| Error::TamperedSecret)?,
        );
        Ok(SecretBytes::new(plaintext.as_slice()))
    }

    /// Whether `sealed` was made with a key other than the current one, so it should be sealed again.
    pub fn needs_reseal(&self, sealed: &SealedSecret) -> bool {
        self.keys.first().is_some_and(|current| sealed.as_bytes().first() != Some(&current.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u8, byte: u8) -> CipherKey {
        CipherKey::new(id, &SecretBytes::new(vec![byte; 32])).unwrap()
    }

    #[test]
    fn sealed_secrets_open_with_the_same_context() {
        let cipher = SecretCipher::new(vec![key(1, 7)]).unwrap();
        let sealed = cipher.seal(b"totp seed", b"identity-1").unwrap();
        assert!(!sealed.as_bytes().windows(9).any(|w| w == b"totp seed"));
        assert_eq!(cipher.open(&sealed, b"identity-1").unwrap().expose_secret(), b"totp seed");
        assert!(matches!(cipher.open(&sealed, b"identity-2"), Err(Error::TamperedSecret)));
        assert_ne!(cipher.seal(b"totp seed", b"identity-1").unwrap(), sealed, "nonces must differ");
    }

    #[test]
    fn keys_rotate_without_downtime() {
        let old = SecretCipher::new(vec![key(1, 7)]).unwrap();
        let sealed_before = old.seal(b"seed", b"").unwrap();
        let rotated = SecretCipher::new(vec![key(2, 9), key(1, 7)]).unwrap();
        assert_eq!(rotated.open(&sealed_before, b"").unwrap().expose_secret(), b"seed");
        assert!(rotated.needs_reseal(&sealed_before));
        let sealed_after = rotated.seal(b"seed", b"").unwrap();
        assert!(!rotated.needs_reseal(&sealed_after));
        assert!(matches!(old.open(&sealed_after, b""), Err(Error::UnknownCipherKey)));
    }

    #[test]
    fn tampered_truncated_and_foreign_secrets_are_refused() {
        let cipher = SecretCipher::new(vec![key(1, 7)]).unwrap();
        let sealed = cipher.seal(b"seed", b"").unwrap();
        let mut tampered = sealed.as_bytes().to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(matches!(cipher.open(&SealedSecret::from_bytes(tampered), b""), Err(Error::TamperedSecret)));
        for cut in [0, 1, 10, 25, 40] {
            let truncated = SealedSecret::from_bytes(sealed.as_bytes()[..cut].to_vec());
            assert!(matches!(cipher.open(&truncated, b""), Err(Error::TamperedSecret)), "cut at {cut}");
        }
        let other = SecretCipher::new(vec![key(1, 8)]).unwrap();
        assert!(matches!(other.open(&sealed, b""), Err(Error::TamperedSecret)));
    }

    #[test]
    fn bad_key_rings_are_refused() {
        assert!(matches!(SecretCipher::new(vec![]), Err(Error::InvalidKeyRing { .. })));
        assert!(matches!(SecretCipher::new(vec![key(1, 1), key(1, 2)]), Err(Error::InvalidKeyRing { .. })));
        assert!(matches!(CipherKey::new(1, &SecretBytes::new(vec![0; 16])), Err(Error::InvalidKeyRing { .. })));
        assert!(!format!("{:?}", key(3, 0x41)).contains("65"));
    }
}
