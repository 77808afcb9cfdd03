#!/usr/bin/env bash
# Builds every fuzz target and runs each for a bounded time: `fuzz/run.sh [seconds-per-target, default 60]`.
#
# Each target starts from its kept seeds (fuzz/corpus/<target>/, read only) plus what earlier runs found
# (fuzz/target/corpus/<target>/, where libFuzzer writes new inputs; git-ignored). A crash, a hang (an input over
# FUZZ_TIMEOUT seconds) or running out of memory (FUZZ_RSS_MB) leaves its input in fuzz/artifacts/<target>/ and
# makes the script exit non-zero after the other targets ran. Figures per target go to fuzz/target/summary.tsv.
#
# Environment: FUZZ_TARGETS (space-separated subset), SANITIZER (none by default: the crates forbid `unsafe`, and
# `address` rebuilds everything for little more), FUZZ_LOCK (a file to `flock` around each build and run, for
# machines whose cores are shared), FUZZ_TIMEOUT (default 10), FUZZ_RSS_MB (default 2048).
set -uo pipefail
cd "$(dirname "$0")"

seconds=${1:-60}
sanitizer=${SANITIZER:-none}
timeout=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
targets=${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^identity-fuzz$')}
# cargo-fuzz passes nightly-only flags (-Z, --cfg fuzzing with sanitizer coverage); a stable toolchain accepts
# them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
export CARGO_TARGET_DIR="$PWD/target"
build_flags=(--sanitizer "$sanitizer" --debug-assertions --codegen-units 16)

locked() {
    if [ -n "${FUZZ_LOCK:-}" ]; then flock "$FUZZ_LOCK" "$@"; else "$@"; fi
}

if ! command -v cargo-fuzz >/dev/null; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz --locked" >&2
    exit 2
fi
echo "== building: $targets"
if ! locked cargo fuzz build "${build_flags[@]}"; then
    echo "FAILED: the fuzz targets do not build" >&2
    exit 2
fi

mkdir -p target/logs
summary=target/summary.tsv
printf 'target\tseconds\texecutions\tcorpus\tcov\tft\tresult\n' > "$summary"
failed=()
for target in $targets; do
    mkdir -p "target/corpus/$target" "artifacts/$target"
    log="target/logs/$target.log"
    echo "== $target: ${seconds}s"
    locked cargo fuzz run "${build_flags[@]}" "$target" "target/corpus/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_mb" -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" > "$log" 2>&1
    status=$?
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^(==|SUMMARY|thread .* panicked)|Test unit written' "$log" | tail -n 6
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1)
    cov=$(sed -n 's/.*[[:space:]]cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.*[[:space:]]ft: \([0-9]*\).*/\1/p' <<<"$last")
    corpus=$(sed -n 's/.*[[:space:]]corp: \([0-9]*\).*/\1/p' <<<"$last")
    result=ok
    if [ "$status" -ne 0 ]; then
        result="crash (exit $status; see $log and artifacts/$target/)"
        failed+=("$target")
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$seconds" "${execs:-?}" "${corpus:-?}" "${cov:-?}" "${ft:-?}" \
        "$result" >> "$summary"
done

echo "== summary (also in fuzz/$summary)"
column -t -s $'\t' "$summary" 2>/dev/null || cat "$summary"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} crashed; the inputs are in fuzz/artifacts/. Fix the library, then keep each input under" \
        "fuzz/regressions/<target>/ so that cargo test replays it." >&2
    exit 1
fi
echo "no crashes"
