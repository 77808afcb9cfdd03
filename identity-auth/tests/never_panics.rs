//! Arbitrary password hash strings never panic the hasher; they verify or give a typed error.

use identity_auth::{Argon2Params, HashAlgorithm, HasherConfig, PasswordHasher};
use identity_core::{HashedPassword, SecretString};
use proptest::prelude::*;

fn hasher() -> &'static PasswordHasher {
    static HASHER: std::sync::OnceLock<PasswordHasher> = std::sync::OnceLock::new();
    HASHER.get_or_init(|| {
        PasswordHasher::new(HasherConfig {
            algorithm: HashAlgorithm::Argon2id,
            argon2: Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 },
            bcrypt_cost: 4,
        })
        .unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_phc_like_strings_never_panic(
        algorithm in prop_oneof![
            Just("argon2id".to_owned()), Just("argon2i".to_owned()), Just("pbkdf2-sha256".to_owned()),
            Just("pbkdf2-sha512".to_owned()), Just("scrypt".to_owned()), Just("2b".to_owned()), Just("2y".to_owned()),
            "[a-z0-9-]{0,12}"
        ],
        rest in "[a-zA-Z0-9=,$./+*-]{0,80}",
    ) {
        if let Ok(hash) = HashedPassword::new(format!("${algorithm}${rest}")) {
            let _ = PasswordHasher::check_importable(&hash);
            let _ = hasher().verify(&SecretString::new("password"), &hash);
        }
    }
}
