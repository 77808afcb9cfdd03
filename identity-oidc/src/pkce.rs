//! Proof Key for Code Exchange (RFC 7636), `S256` only: `plain` would hand the verifier to whoever sees the
//! authorization request, so it is refused (RFC 9700 §2.1.1).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, ErrorCode};

/// The one challenge method accepted.
pub const S256: &str = "S256";

/// Whether `text` has the length (43 to 128) and the characters (`A-Z a-z 0-9 - . _ ~`) RFC 7636 §4.1 asks of a
/// verifier. A challenge is a base64url SHA-256, so it is exactly 43 of the same characters.
fn is_unreserved(text: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The `S256` challenge of `verifier`: `BASE64URL(SHA256(verifier))`.
pub fn challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Checks the `code_challenge` and `code_challenge_method` of an authorization request. A missing method means
/// `plain` (RFC 7636 §4.3), which is refused like an explicit `plain`.
pub fn check_challenge(challenge: &str, method: Option<&str>) -> Result<(), Error> {
    if method != Some(S256) {
        return Err(Error::oauth(ErrorCode::InvalidRequest, "code_challenge_method must be S256"));
    }
    if challenge.len() != 43 || !is_unreserved(challenge, 43..=43) {
        return Err(Error::oauth(ErrorCode::InvalidRequest, "code_challenge must be a base64url SHA-256"));
    }
    Ok(())
}

/// Checks a token request's `code_verifier` against the stored `S256` challenge, in constant time.
pub fn verify(challenge: &str, verifier: &str) -> Result<(), Error> {
    if !is_unreserved(verifier, 43..=128) {
        return Err(Error::oauth(ErrorCode::InvalidGrant, "code_verifier must be 43 to 128 unreserved characters"));
    }
    if bool::from(challenge_s256(verifier).as_bytes().ct_eq(challenge.as_bytes())) {
        Ok(())
    } else {
        Err(Error::oauth(ErrorCode::InvalidGrant, "the code_verifier does not match the code_challenge"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector() -> serde_json::Value {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata/vectors/rfc7636-pkce.json");
        let fallback = "/work/shared/testdata/vectors/rfc7636-pkce.json";
        let text = std::fs::read_to_string(path).or_else(|_| std::fs::read_to_string(fallback)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_rfc_7636_appendix_b_vector_verifies() {
        let v = vector();
        let verifier = v["code_verifier"].as_str().unwrap();
        let challenge = v["code_challenge"].as_str().unwrap();
        assert_eq!(v["code_challenge_method"], S256);
        assert_eq!(challenge_s256(verifier), challenge);
        check_challenge(challenge, Some(S256)).unwrap();
        verify(challenge, verifier).unwrap();
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        let v = vector();
        let challenge = v["code_challenge"].as_str().unwrap();
        for method in [Some("plain"), None, Some("s256")] {
            let err = check_challenge(challenge, method).unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::InvalidRequest), "{method:?}");
        }
        assert!(check_challenge("short", Some(S256)).is_err());
    }

    #[test]
    fn wrong_short_long_and_odd_verifiers_are_invalid_grant() {
        let v = vector();
        let challenge = v["code_challenge"].as_str().unwrap();
        let mut wrong = v["code_verifier"].as_str().unwrap().to_owned();
        wrong.replace_range(0..1, "e");
        for verifier in [wrong, "a".repeat(42), "a".repeat(129), format!("{}+", "a".repeat(43)), String::new()] {
            assert_eq!(verify(challenge, &verifier).unwrap_err().code(), Some(ErrorCode::InvalidGrant), "{verifier}");
        }
        // The plain method's check (verifier == challenge) must not pass either.
        assert!(verify(challenge, challenge).is_err());
    }
}
