//! Random secrets and their hashes: what is handed out once and what is stored instead.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use identity_core::{SecretBytes, SecretString, TokenHash};
use sha2::{Digest, Sha256};

use crate::error::Error;

/// `len` random bytes from the operating system.
pub fn random_bytes(len: usize) -> Result<SecretBytes, Error> {
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut bytes).map_err(|_| Error::Random)?;
    Ok(SecretBytes::new(bytes.as_slice()))
}

/// A token of 32 random bytes in unpadded base64url: session tokens, enrollment tokens, refresh tokens.
pub fn random_token() -> Result<SecretString, Error> {
    Ok(SecretString::new(URL_SAFE_NO_PAD.encode(random_bytes(32)?.expose_secret())))
}

/// `len` characters drawn uniformly from `alphabet` (which must hold fewer than 256 characters).
pub fn random_code(alphabet: &[u8], len: usize) -> Result<SecretString, Error> {
    if alphabet.is_empty() || alphabet.len() > 255 || !alphabet.is_ascii() {
        return Err(Error::InvalidConfig { field: "alphabet", reason: "use 1 to 255 ASCII characters".into() });
    }
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % alphabet.len();
    let mut code = String::with_capacity(len);
    while code.len() < len {
        for byte in random_bytes(len * 2)?.expose_secret() {
            if (*byte as usize) < limit && code.len() < len {
                code.push(char::from(alphabet[*byte as usize % alphabet.len()]));
            }
        }
    }
    Ok(SecretString::new(code))
}

/// The SHA-256 of a high-entropy token: enough to store it, since a 256-bit token cannot be guessed.
pub fn hash_token(token: &str) -> TokenHash {
    TokenHash::from_bytes(Sha256::digest(token.as_bytes()).into())
}

/// The HMAC-SHA-256 of a low-entropy code under `key` and `context`. A plain hash of an 8-character code could
/// be brute-forced from a database dump; without the key, which lives outside the database, it cannot.
pub fn hash_code(key: &SecretBytes, context: &[u8], code: &str) -> TokenHash {
    // HMAC accepts keys of any length, so this cannot fail; a zero key would still be a keyed hash.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.expose_secret())
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    mac.update(&(context.len() as u64).to_be_bytes());
    mac.update(context);
    mac.update(code.as_bytes());
    TokenHash::from_bytes(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.expose_secret().len(), 43);
        assert!(!a.ct_eq(b.expose_secret()));
        assert!(a.expose_secret().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(hash_token(a.expose_secret()), hash_token(a.expose_secret()));
        assert_ne!(hash_token(a.expose_secret()), hash_token(b.expose_secret()));
    }

    #[test]
    fn codes_use_only_their_alphabet() {
        let code = random_code(b"abc", 64).unwrap();
        assert_eq!(code.expose_secret().len(), 64);
        assert!(code.expose_secret().chars().all(|c| "abc".contains(c)));
        assert!(matches!(random_code(b"", 4), Err(Error::InvalidConfig { .. })));
        assert!(matches!(random_code(&[b'a'; 300], 4), Err(Error::InvalidConfig { .. })));
    }

    #[test]
    fn code_hashes_depend_on_key_and_context() {
        let key = SecretBytes::new(vec![1; 32]);
        let other = SecretBytes::new(vec![2; 32]);
        let base = hash_code(&key, b"identity-a", "k3x9m2p7");
        assert_eq!(base, hash_code(&key, b"identity-a", "k3x9m2p7"));
        assert_ne!(base, hash_code(&other, b"identity-a", "k3x9m2p7"));
        assert_ne!(base, hash_code(&key, b"identity-b", "k3x9m2p7"));
        assert_ne!(hash_code(&key, b"ab", "c"), hash_code(&key, b"a", "bc"));
        assert_ne!(base, hash_token("k3x9m2p7"));
    }
}
