//! The kept inputs of the fuzz targets `jwt` `certificate` `password` (their seed corpus and every crash found, under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`), replayed through the targets' own functions: a
//! regression test for what the fuzzers found, without libFuzzer. See `fuzz/README.md`.

#[path = "../../fuzz/src/replay.rs"]
mod replay;
#[path = "../../fuzz/src/jwt.rs"]
mod jwt;
#[path = "../../fuzz/src/certificate.rs"]
mod certificate;
#[path = "../../fuzz/src/password.rs"]
mod password;

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
