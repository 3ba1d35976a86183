#!/usr/bin/env bash
# `make test-oci`: builds go-runc-conformance and memhog (GOPATH mode, Debian's go-runc and runtime-spec, no
# downloads), runs the program against runc (must pass), then against fc-supervisor's runc command line, and
# compares the two result files (compare.py, field lists in README.md).
#
#   OCI_ONLY=runc        runc only; the checker then compares two runc runs (a test of the program and the lists)
#   OCI_REQUIRE_FC=1     fail (instead of skipping) when fc-supervisor does not speak runc's command line
#   OCI_CASES=a,b        a subset of the cases (see README.md)
#   FC_SUPERVISOR=PATH   the fc-supervisor binary (default: $(swift build --show-bin-path)/fc-supervisor, built)
#   FC_SUPERVISOR_CONFIG the runtime configuration (default: build/config.json, from `make runtime-config`)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
B=$ROOT/build
OUT=$B/oci
mkdir -p "$OUT" "$ROOT/.build-go"
# Every run gets its own state roots and bundle directories: two runs on one machine (a developer's and CI's), or
# the remains of an interrupted one, never share a container id. Short, because sockets live under the roots.
WORK=$(mktemp -d /var/tmp/oci.XXXX)
trap 'rm -rf "$WORK"' EXIT
# speaks_runc BIN: BIN answers go-runc's `list --format=json` with JSON (null or an array), i.e. has runc's CLI.
speaks_runc() {
    local out
    out=$("$1" --root "$WORK/probe" list --format=json 2>/dev/null) || return 1
    case $out in null*|"["*) return 0 ;; *) return 1 ;; esac
}
log() { printf '\033[1m[test-oci]\033[0m %s\n' "$*" >&2; }
export GO111MODULE=off GOPATH=/usr/share/gocode:$ROOT/.build-go GOCACHE=$ROOT/.build-go/cache GOFLAGS=
for d in github.com/containerd/go-runc github.com/opencontainers/runtime-spec/specs-go; do
    [ -d "/usr/share/gocode/src/$d" ] || { echo "test-oci: /usr/share/gocode/src/$d missing (make deps)" >&2; exit 1; }
done
log "compare.py's own tests"
python3 -m pytest -q -p no:cacheprovider Tests/GoRunc/test_compare.py >&2
log "building go-runc-conformance and memhog"
(cd Tests/GoRunc && go vet . && go build -o "$B/go-runc-conformance" .)
(cd Tests/GoRunc/memhog && CGO_ENABLED=0 go build -o "$B/memhog" .)
PROG=$B/go-runc-conformance
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
CASES=()
[ -z "${OCI_CASES:-}" ] || CASES=(-cases "$OCI_CASES")

# run NAME RUNTIME ROOT: one conformance run; its JSON is $OUT/NAME.json.
run() {
    local name=$1 runtime=$2 root=$3
    local vm=()
    [ "$name" = runc ] || vm=(-vm)
    log "go-runc against $name ($runtime, --root $root)"
    "$PROG" -runtime "$runtime" -root "$root" -bundle-dir "$WORK/b-$name" -memhog "$B/memhog" \
        -bundle-script "$ROOT/scripts/oci-bundle.sh" -out "$OUT/$name.json" "${vm[@]}" "${CASES[@]}"
}

run runc "$RUNC" "$WORK/runc"

OTHER=""
if [ "${OCI_ONLY:-}" != runc ]; then
    FC=${FC_SUPERVISOR:-}
    if [ -z "$FC" ]; then
        swift build --product fc-supervisor >&2
        FC=$(swift build --show-bin-path)/fc-supervisor
    fi
    export FC_SUPERVISOR_CONFIG=${FC_SUPERVISOR_CONFIG:-$B/config.json}
    if [ ! -f "$FC_SUPERVISOR_CONFIG" ] && grep -q '^runtime-config:' Makefile; then
        make runtime-config >&2
    fi
    # The runc command line is there when `list --format=json` (go-runc's List) answers with JSON (null or an array).
    if [ -f "$FC_SUPERVISOR_CONFIG" ] && speaks_runc "$FC"; then
        # fc-supervisor's failures are reported by the checker, field by field: do not stop at the program's status.
        run fc-supervisor "$FC" "$WORK/fc" || log "go-runc against fc-supervisor reported problems (see the checker)"
        OTHER=fc-supervisor
    elif [ "${OCI_REQUIRE_FC:-0}" = 1 ]; then
        echo "test-oci: $FC does not speak runc's command line (or $FC_SUPERVISOR_CONFIG is missing)" >&2
        exit 1
    else
        log "SKIPPED fc-supervisor: $FC does not answer 'list --format=json' yet, or $FC_SUPERVISOR_CONFIG is missing"
    fi
fi
if [ -z "$OTHER" ]; then
    # Two runc runs must agree on every compared field: checks the program's determinism and the field lists.
    run runc2 "$RUNC" "$WORK/runc2"
    OTHER=runc2
fi
log "comparing runc with $OTHER"
python3 Tests/GoRunc/compare.py "$OUT/runc.json" "$OUT/$OTHER.json"
