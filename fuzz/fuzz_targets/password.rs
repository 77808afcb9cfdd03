//! libFuzzer entry point of the `password` target: see `src/password.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz::password::run(data));
