//! libFuzzer entry point of the `flow_body` target: see `src/flow_body.rs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| identity_fuzz::flow_body::run(data));
