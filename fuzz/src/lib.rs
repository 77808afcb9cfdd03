//! The fuzz targets' bodies, one module per target, each with a `run(&[u8])` that feeds one input to the public
//! parsing and validation API it covers and panics only on a broken invariant. `fuzz_targets/*.rs` hand libFuzzer's
//! inputs to them; the crates' `tests/fuzz_inputs.rs` include the same modules (by `#[path]`) and replay the kept
//! inputs through [`replay::replay`], so a normal `cargo test` reruns every seed and every crash ever found.

pub mod access_rules;
pub mod certificate;
pub mod flow_body;
pub mod jwt;
pub mod oauth2;
pub mod password;
pub mod replay;
pub mod schema;
