//! libFuzzer entry point of the `certificate` target: see `src/certificate.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz::certificate::run(data));
