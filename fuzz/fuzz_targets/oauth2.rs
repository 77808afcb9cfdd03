//! libFuzzer entry point of the `oauth2` target: see `src/oauth2.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz::oauth2::run(data));
