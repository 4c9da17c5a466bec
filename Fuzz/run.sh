#!/usr/bin/env bash
# make fuzz: builds dploy-fuzz (libFuzzer and AddressSanitizer) in .build-fuzz, then runs
# each target for FUZZ_SECONDS, one after another. Fails on a crash (a broken invariant
# included), a hang (one input over FUZZ_TIMEOUT seconds) or memory over FUZZ_RSS_MB, and
# prints the reproducer and the command that replays it.
#   FUZZ_SECONDS=60 FUZZ_TARGETS="spec lshw redfish boot" FUZZ_TIMEOUT=10 FUZZ_RSS_MB=2048
# New inputs go to .build-fuzz/corpus/TARGET (kept between runs, never committed);
# Fuzz/corpus/TARGET is the committed seed corpus, read only. FUZZ_EXTRA_CORPUS_TARGET
# names more read-only folders (for redfish, the HPE iLO captures in ../shared/fixtures
# when they exist: read where they are, never copied into the repository).
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-spec lshw redfish boot}
timeout=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
scratch=.build-fuzz
swift=${SWIFT:-swift}

# swiftc drops -sanitize=fuzzer's coverage instrumentation when -g is on (SwiftPM's debug
# builds): without the explicit -sanitize-coverage, only the C code (libyaml) is covered.
echo "== building dploy-fuzz (libFuzzer + AddressSanitizer) in $scratch"
build_start=$(date +%s)
# gold warns once per ASan helper symbol (about 140 lines, harmless): those are left out.
# SwiftPM keeps the sanitizers in a Set, so without deterministic hashing their order on
# every command line changes from run to run, and each run rebuilt everything.
SWIFT_DETERMINISTIC_HASHING=1 DPLOY_FUZZ=1 "$swift" build -c debug -j 2 --scratch-path "$scratch" --product dploy-fuzz \
    --sanitize fuzzer --sanitize address \
    -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp \
    2>&1 | grep -v "ld.gold: warning: Cannot export local symbol '__asan"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "error: the fuzz build failed" >&2; exit 1; }
echo "== built in $(( $(date +%s) - build_start )) s"
binary=$scratch/debug/dploy-fuzz

# libFuzzer prints the stack of a crash; Swift's own backtracer would run under ASan after it.
export SWIFT_BACKTRACE=enable=no
declare -A dictionary=([spec]=yaml [lshw]=json [redfish]=json [boot]=boot)
declare -A max_len=([spec]=16384 [lshw]=65536 [redfish]=65536 [boot]=1024)
FUZZ_EXTRA_CORPUS_redfish=${FUZZ_EXTRA_CORPUS_redfish-../shared/fixtures/hpe-ilo-mockups}

failed=()
summary=()
for target in $targets; do
    [ -n "${dictionary[$target]:-}" ] || { echo "unknown fuzz target '$target'" >&2; exit 2; }
    new=$scratch/corpus/$target
    artifacts=$scratch/artifacts/$target
    log=$scratch/logs/$target.log
    mkdir -p "$new" "$artifacts" "$(dirname "$log")"
    corpora=("$new" "Fuzz/corpus/$target")
    extra_var=FUZZ_EXTRA_CORPUS_$target
    for folder in ${!extra_var:-}; do [ -d "$folder" ] && corpora+=("$folder"); done
    before=$(find "$artifacts" -type f | wc -l)
    echo "== $target: ${seconds}s (corpus: ${corpora[*]})"
    DPLOY_FUZZ_TARGET=$target "$binary" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_mb" \
        -max_len="${max_len[$target]}" -dict="Fuzz/dict/${dictionary[$target]}.dict" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${corpora[@]}" >"$log" 2>&1
    status=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    summary+=("$(printf '%-8s %10s executions %6s exec/s  cov %6s  exit %s' "$target" "${executions:-?}" "${rate:-?}" "${coverage:-?}" "$status")")
    if [ "$status" != 0 ] || [ "$(find "$artifacts" -type f | wc -l)" != "$before" ]; then
        failed+=("$target")
        echo "!! $target failed (exit $status); the end of $log:" >&2
        tail -40 "$log" >&2
        for artifact in $(find "$artifacts" -type f -newer "$binary"); do
            echo "!! reproducer: $artifact" >&2
            echo "!! replay it:  DPLOY_FUZZ_TARGET=$target $binary $artifact" >&2
        done
    fi
done

echo "== fuzzing, ${seconds}s per target:"
printf '   %s\n' "${summary[@]}"
if [ ${#failed[@]} != 0 ]; then
    echo "fuzzing found a problem in: ${failed[*]} (see above)" >&2
    exit 1
fi
