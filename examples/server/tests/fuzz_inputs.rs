//! The kept inputs of the fuzz targets `flow_body` (their seed corpus and every crash found, under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`), replayed through the targets' own functions: a
//! regression test for what the fuzzers found, without libFuzzer. See `fuzz/README.md`.

#[path = "../../../fuzz/src/flow_body.rs"]
mod flow_body;
#[path = "../../../fuzz/src/replay.rs"]
mod replay;

#[test]
fn kept_flow_body_fuzz_inputs_pass_the_target() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    assert!(replay::replay(&fuzz, "flow_body", flow_body::run) > 0, "the flow_body target has no kept inputs");
}
