#!/usr/bin/env bash
# Sums fuzz-out/ledger.tsv (written by run-fuzz.sh) per target: runs, executions, seconds, and runs that found
# something (any exit status other than 0, or 72 for an interrupted run). Tests/Fuzz/FINDINGS.md quotes it.
set -euo pipefail
ledger="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/fuzz-out/ledger.tsv}"
[ -s "$ledger" ] || { echo "no ledger at $ledger" >&2; exit 1; }
printf "%-16s %5s %14s %9s %9s %8s\n" target runs executions seconds exec/s failing
awk -F'\t' '
    { runs[$3]++; execs[$3] += $5; secs[$3] += $4; if ($6 != 0 && $6 != 72) bad[$3]++ }
    END {
        for (t in runs)
            printf "%-16s %5d %14d %9d %9d %8d\n", t, runs[t], execs[t], secs[t], secs[t] ? execs[t] / secs[t] : 0, bad[t]
    }' "$ledger" | sort
