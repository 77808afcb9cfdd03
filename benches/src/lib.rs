//! Criterion benchmarks of the identity platform's hot paths. The benchmarks live in `benches/benches/`; their
//! figures, each a ratio against a baseline measured in the same run, are in `benches/README.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
