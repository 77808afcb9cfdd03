//! Fuzz target `password`: the input as a stored password hash (PHC strings of argon2, pbkdf2 and scrypt, bcrypt's
//! modular crypt format, as imported from Kratos), checked for import and verified against a password.
//!
//! Verifying runs the hash's own cost parameters, which the library bounds (see `identity-auth`'s `password.rs`)
//! but which still allow a verification of seconds: more than a fuzzer can afford per input. So verification only
//! runs for hashes whose parameters are all small; importing is checked for every input.

use std::sync::OnceLock;

use identity_auth::{Argon2Params, HashAlgorithm, HasherConfig, PasswordHasher, Verification};
use identity_core::{HashedPassword, SecretString};

/// The hasher inputs are verified with (cheap argon2id for its own hashes).
pub fn hasher() -> &'static PasswordHasher {
    static HASHER: OnceLock<PasswordHasher> = OnceLock::new();
    HASHER.get_or_init(|| {
        let config = HasherConfig {
            algorithm: HashAlgorithm::Argon2id,
            argon2: Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 },
            bcrypt_cost: 4,
        };
        match PasswordHasher::new(config) {
            Ok(hasher) => hasher,
            Err(e) => panic!("the fixed hasher must build: {e}"),
        }
    })
}

/// Whether every cost parameter `hash` states is small enough to verify in about a millisecond. Numbers that do not
/// parse pass: the library refuses them before any work.
fn cheap(hash: &str) -> bool {
    let segments: Vec<&str> = hash.split('$').collect();
    if segments.get(1).is_some_and(|algorithm| algorithm.starts_with('2')) {
        return segments.get(2).and_then(|cost| cost.parse::<u64>().ok()).is_none_or(|cost| cost <= 6);
    }
    segments.iter().filter(|segment| segment.contains('=')).flat_map(|segment| segment.split(',')).all(|pair| {
        let Some((name, value)) = pair.split_once('=') else { return true };
        let Ok(value) = value.parse::<u64>() else { return true };
        match name {
            "m" => value <= 1024,
            "t" | "p" | "r" => value <= 8,
            "i" => value <= 2000,
            // scrypt's N, written as log2(N) or as N itself.
            "ln" => value <= 10 || (64..=1024).contains(&value),
            _ => value <= 1024,
        }
    })
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(hash) = HashedPassword::new(text.trim_end_matches('\n')) else { return };
    let importable = PasswordHasher::check_importable(&hash);
    if !cheap(hash.as_str()) {
        return;
    }
    let verified = hasher().verify(&SecretString::new("password"), &hash);
    // Import refuses exactly what login could not verify.
    assert_eq!(importable.is_ok(), verified.is_ok(), "import and verify disagree on {}", hash.as_str());
    if let Ok(Verification::Match { .. }) = verified {
        let wrong = hasher().verify(&SecretString::new("passwore"), &hash);
        assert!(matches!(wrong, Ok(Verification::Mismatch)), "a wrong password matched {}", hash.as_str());
    }
}
