//! The kept inputs of the fuzz targets `jwt` `certificate` `password` (their seed corpus and every crash found, under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`), replayed through the targets' own functions: a
//! regression test for what the fuzzers found, without libFuzzer. See `fuzz/README.md`.

#[path = "../../fuzz/src/certificate.rs"]
mod certificate;
#[path = "../../fuzz/src/jwt.rs"]
mod jwt;
#[path = "../../fuzz/src/password.rs"]
mod password;
#[path = "../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn kept_jwt_fuzz_inputs_pass_the_target() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    assert!(replay::replay(&fuzz, "jwt", jwt::run) > 0, "the jwt target has no kept inputs");
}

#[test]
fn kept_certificate_fuzz_inputs_pass_the_target() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    assert!(replay::replay(&fuzz, "certificate", certificate::run) > 0, "the certificate target has no kept inputs");
}

#[test]
fn kept_password_fuzz_inputs_pass_the_target() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    assert!(replay::replay(&fuzz, "password", password::run) > 0, "the password target has no kept inputs");
}

/// The seeds reach past parsing: the fuzzer starts from inputs that verify.
#[test]
fn the_seeds_verify_where_they_should() {
    use identity_auth::Verification;
    let seed =
        |path: &str| std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(path));
    let token = String::from_utf8(seed("jwt/valid.jwt").unwrap()).unwrap();
    for signer in jwt::fixed_signers() {
        assert!(signer.verify(&token, jwt::now()).is_ok(), "{:?}", signer.verify(&token, jwt::now()));
        let wrong = String::from_utf8(seed("jwt/wrong-audience.jwt").unwrap()).unwrap();
        assert!(signer.verify(&wrong, jwt::now()).is_err());
    }
    let ca = certificate::ca();
    for name in ["client.der", "client.pem"] {
        let verified = ca.verifier().verify(&seed(&format!("certificate/{name}")).unwrap(), &[], certificate::now());
        assert_eq!(verified.unwrap().common_name.as_deref(), Some("device-1"), "{name}");
    }
    for name in ["csr.der", "csr.pem"] {
        assert!(ca.issue(&seed(&format!("certificate/{name}")).unwrap(), "x", certificate::now()).is_ok(), "{name}");
    }
    for name in ["pbkdf2-sha256", "pbkdf2-sha512", "scrypt-kratos", "scrypt-phc"] {
        let text = String::from_utf8(seed(&format!("password/{name}")).unwrap()).unwrap();
        let hash = identity_core::HashedPassword::new(text).unwrap();
        let verified = password::hasher().verify(&identity_core::SecretString::new("password"), &hash).unwrap();
        assert!(matches!(verified, Verification::Match { .. }), "{name}");
    }
}
