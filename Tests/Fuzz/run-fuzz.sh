#!/usr/bin/env bash
# Builds and runs every libFuzzer target (AddressSanitizer + libFuzzer) for SECONDS each (default 60).
#
#   Tests/Fuzz/run-fuzz.sh [SECONDS] [extra libFuzzer flags…]     (`make fuzz` calls this)
#   FUZZ_TARGETS="guest-mux http-response" Tests/Fuzz/run-fuzz.sh 300      # a subset
#
# Targets (see build-fuzz.sh): frame-decoder (a), vminit-session (b), guest-mux (c), http-response (d).
# Each target first replays its regression inputs (Tests/Fuzz/regressions/<target>/, every past crash), then
# fuzzes from its working corpus fuzz-out/corpus-<target>/ (git-ignored), seeded from the checked-in seeds
# (never written to). Crash artifacts go to fuzz-out/artifacts/<target>/; logs to fuzz-out/<target>.log.
# Exit status: 0 when nothing was found, non-zero when any target crashed (or a regression input fails again).
# Every run appends a line per target to fuzz-out/ledger.tsv (date, commit, target, seconds taken, executions,
# status). Executions add up across runs; Tests/Fuzz/FINDINGS.md quotes the totals.
#
# ASan records no allocation stack by default here (malloc_context_size=0): that spares a stack walk on every
# allocation and detects the same bugs. To read a finding's full report, replay its input:  ASAN_OPTIONS= fuzz-out/bin/<target> <input>
set -uo pipefail
export ASAN_OPTIONS="${ASAN_OPTIONS-malloc_context_size=0}"

seconds="${1:-60}"
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/fuzz-out"
targets=(${FUZZ_TARGETS:-frame-decoder vminit-session guest-mux http-response})

bash "$root/Tests/Fuzz/build-fuzz.sh" "${targets[@]}" || exit 2

seeds() {
    case "$1" in
    frame-decoder) echo "$root/Tests/Fuzz/corpus" ;;
    vminit-session) echo "$root/Tests/Fuzz/corpus-vminit" ;;
    guest-mux) echo "$root/Tests/Fuzz/corpus-guestmux" ;;
    http-response) echo "$root/Tests/Fuzz/corpus-http" ;;
    esac
}
maxlen() { case "$1" in frame-decoder) echo 8192 ;; http-response) echo 4096 ;; *) echo 16384 ;; esac; }

failed=0
summary=""
for t in "${targets[@]}"; do
    bin="$out/bin/$t"; log="$out/$t.log"; corpus="$out/corpus-$t"; art="$out/artifacts/$t/"
    mkdir -p "$corpus" "$art"
    reg="$root/Tests/Fuzz/regressions/$t"
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
        if ! "$bin" -runs=0 "$reg"/* >"$out/$t.regressions.log" 2>&1; then
            echo "REGRESSION: a past crash input of $t fails again (see $out/$t.regressions.log)" >&2
            failed=1
        fi
    fi
    echo "fuzzing $t for ${seconds}s (log: $log)"
    started=$SECONDS
    "$bin" "$corpus" "$(seeds "$t")" -max_total_time="$seconds" -max_len="$(maxlen "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art" "$@" >"$log" 2>&1
    status=$?
    grep -E "^#[0-9]+ +(INITED|DONE)|ERROR|SUMMARY|Fatal error" "$log" | tail -5
    runs="$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)"
    summary+="$t: ${runs:-unknown} executions, exit status $status"$'\n'
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo -)" \
        "$t" "$((SECONDS - started))" "${runs:-0}" "$status" >>"$out/ledger.tsv"
    if [ "$status" -eq 72 ]; then
        echo "$t was interrupted (SIGINT); its executions so far are in the ledger" >&2
    elif [ "$status" -ne 0 ]; then
        echo "FUZZ FAILURE in $t: see $log and $art" >&2
        failed=1
    fi
done
printf '%s' "$summary"
exit "$failed"
