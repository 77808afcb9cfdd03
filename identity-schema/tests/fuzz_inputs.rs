//! The kept inputs of the fuzz targets `schema` (their seed corpus and every crash found, under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/`), replayed through the targets' own functions: a
//! regression test for what the fuzzers found, without libFuzzer. See `fuzz/README.md`.

#[path = "../../fuzz/src/replay.rs"]
mod replay;
#[path = "../../fuzz/src/schema.rs"]
mod schema;

#[test]
fn kept_schema_fuzz_inputs_pass_the_target() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    assert!(replay::replay(&fuzz, "schema", schema::run) > 0, "the schema target has no kept inputs");
}
