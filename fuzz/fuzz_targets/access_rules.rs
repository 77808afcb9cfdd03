//! libFuzzer entry point of the `access_rules` target: see `src/access_rules.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz::access_rules::run(data));
