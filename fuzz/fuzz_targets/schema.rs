//! libFuzzer entry point of the `schema` target: see `src/schema.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz::schema::run(data));
