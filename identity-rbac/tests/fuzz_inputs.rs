//! The kept inputs of the fuzz targets `access_rules` (their seed corpus and every crash found, under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`), replayed through the targets' own functions: a
//! regression test for what the fuzzers found, without libFuzzer. See `fuzz/README.md`.

#[path = "../../fuzz/src/access_rules.rs"]
mod access_rules;
#[path = "../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn kept_access_rules_fuzz_inputs_pass_the_target() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    assert!(replay::replay(&fuzz, "access_rules", access_rules::run) > 0, "the access_rules target has no kept inputs");
}
