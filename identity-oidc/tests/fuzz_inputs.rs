//! The kept inputs of the fuzz targets `oauth2` (their seed corpus and every crash found, under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`), replayed through the targets' own functions: a
//! regression test for what the fuzzers found, without libFuzzer. See `fuzz/README.md`.

#[path = "../../fuzz/src/oauth2.rs"]
mod oauth2;
#[path = "../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn kept_oauth2_fuzz_inputs_pass_the_target() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    assert!(replay::replay(&fuzz, "oauth2", oauth2::run) > 0, "the oauth2 target has no kept inputs");
}
