//! libFuzzer entry point of the `jwt` target: see `src/jwt.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz::jwt::run(data));
