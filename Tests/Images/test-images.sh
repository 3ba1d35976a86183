#!/usr/bin/env bash
# `make test-images`: fc-image against Debian's docker-registry on 127.0.0.1 and a stub registry for the faults a
# real one will not produce, then the pulled images run in real VMs (QEMU, build/config.json). See README.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
REPO=$PWD
BIN=$(swift build --show-bin-path)
FCI=$BIN/fc-image
FCS=$BIN/fc-supervisor
for tool in docker-registry skopeo zstd; do
    command -v "$tool" >/dev/null || { echo "test-images: $tool is missing (make deps)" >&2; exit 1; }
done
[ -x "$FCI" ] && [ -x "$FCS" ] || { echo "test-images: build fc-image and fc-supervisor first (swift build)" >&2; exit 1; }
[ -f build/config.json ] || { echo "test-images: build/config.json is missing (make runtime-config)" >&2; exit 1; }

W=$(mktemp -d /var/tmp/fc-image-test-XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "test-images: kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
FAILURES=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; FAILURES=$((FAILURES + 1)); }
export FC_IMAGE_ROOT=$W/store

# Nothing partial: no temporaries in the store, after any failure.
clean_store() {
    local left
    left=$(find "$FC_IMAGE_ROOT/blobs" "$FC_IMAGE_ROOT/rootfs" -maxdepth 2 -name '.tmp-*' 2>/dev/null | head -3)
    [ -z "$left" ] || { fail "$1: left in the store: $left"; return 1; }
}

refs() { if [ -d "$FC_IMAGE_ROOT/refs" ]; then find "$FC_IMAGE_ROOT/refs" -name '*.json' | wc -l; else echo 0; fi; }

# expect_error NAME SUBSTRING CMD...: exit status 1, exactly one line on stderr containing SUBSTRING, no ref
# recorded for the image, nothing partial.
expect_error() {
    local name=$1 want=$2; shift 2
    local refs_before; refs_before=$(refs)
    set +e; "$@" >"$W/err.out" 2>"$W/err.txt"; local rc=$?; set -e
    local lines; lines=$(wc -l <"$W/err.txt")
    if [ "$rc" != 1 ] || [ "$lines" != 1 ] || ! grep -qF -- "$want" "$W/err.txt"; then
        fail "$name: exit $rc, $lines stderr lines, want \"$want\": $(head -c 400 "$W/err.txt")"; return
    fi
    [ "$(refs)" = "$refs_before" ] || { fail "$name: a ref was recorded"; return; }
    clean_store "$name" && ok "$name: $(cat "$W/err.txt")"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "test-images: $1 never answered" >&2; exit 1; }

python3 Tests/Images/make_images.py "$W/layouts" "${BUSYBOX:-/bin/busybox}"

# --- the real registry -----------------------------------------------------------------------------------------
PORT=$(free_port)
mkdir -p "$W/registry"
cat >"$W/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $W/registry}}
http: {addr: 127.0.0.1:$PORT}
YML
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/v2/"
REG=127.0.0.1:$PORT
# (garbage is served by the stub only: skopeo would gzip a layer it finds uncompressed, making it valid gzip.)
for name in basic layers multi armonly; do
    skopeo copy -q --all --dest-tls-verify=false "oci:$W/layouts/$name:test" "docker://$REG/fc/$name:test"
done
ok "pushed 4 images with skopeo to docker-registry on $REG"

for name in basic layers multi; do
    if "$FCI" pull -q "$REG/fc/$name:test" >"$W/pull-$name.out" 2>"$W/pull-$name.err"; then ok "pull $name"
    else fail "pull $name: $(cat "$W/pull-$name.err")"; fi
done
"$FCI" pull "$REG/fc/layers:test" >/dev/null 2>"$W/again.err"
if grep -q "rootfs .*: cached" "$W/again.err" && ! grep -q "bytes$" "$W/again.err"; then ok "second pull: every layer and the tree cached"
else fail "second pull: $(cat "$W/again.err")"; fi
if "$FCS" image list | grep -q "$REG/fc/multi:test"; then ok "fc-supervisor image list (hands over to fc-image)"
else fail "fc-supervisor image list"; fi

# --- bundles in real VMs ---------------------------------------------------------------------------------------
for name in basic layers multi; do
    rm -rf "$W/bundle-$name"
    if ! "$FCI" bundle "$REG/fc/$name:test" "$W/bundle-$name" >/dev/null 2>"$W/bundle.err"; then fail "bundle $name: $(cat "$W/bundle.err")"; continue; fi
    set +e
    FC_SUPERVISOR_CONFIG=$REPO/build/config.json timeout 180 "$FCS" --root "$W/state" run --bundle "$W/bundle-$name" "img-$name-$$" \
        >"$W/run-$name.out" 2>"$W/run-$name.err" </dev/null
    rc=$?
    set -e
    if python3 - "$W/layouts/expected.json" "$name" "$W/run-$name.out" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))[sys.argv[2]]
got = open(sys.argv[3]).read().split("\n")
got = [l for l in got if l]
sys.exit(0 if got == want else (print("want", want, "\n got", got) or 1))
PY
    then [ "$rc" = 0 ] && ok "run $name in a VM: exactly the final layer set" || fail "run $name: exit $rc"
    else fail "run $name (exit $rc): $(tail -3 "$W/run-$name.err")"; fi
done
python3 - "$W/bundle-basic/config.json" <<'PY' && ok "bundle config: Entrypoint+Cmd, Env, WorkingDir, ExposedPorts" || fail "bundle config"
import json, sys
c = json.load(open(sys.argv[1]))
p = c["process"]
assert p["args"][:2] == ["/bin/sh", "-c"] and p["cwd"] == "/data" and "IMAGE_TEST=1" in p["env"], p
assert c["annotations"]["org.opencontainers.image.exposedPorts"] == "53/udp,8080/tcp", c["annotations"]
assert p["user"] == {"uid": 0, "gid": 0}, p["user"]
PY

# --- failures --------------------------------------------------------------------------------------------------
expect_error "another platform only" "no manifest for linux/amd64 (the index offers linux/arm64)" "$FCI" pull -q "$REG/fc/armonly:test"
expect_error "unknown tag" "answered 404" "$FCI" pull -q "$REG/fc/basic:nope"
expect_error "bad reference" "invalid image reference" "$FCI" pull -q "$REG/Fc/Basic"

stub() {  # stub MODE LAYOUT → sets SPORT; the stub's GETs go to $W/stub-MODE.log
    rm -f "$W/stub.port"
    python3 Tests/Images/stub_registry.py "$W/layouts/$2" "$W/stub.port" "$1" "$W/stub-$1.log" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -f "$W/stub.port" ] && break; sleep 0.1; done
    SPORT=$(cat "$W/stub.port")
}
# The stub's blobs are the registry's (same layouts), so the faults get a store of their own: in the shared one
# every blob would already be there and nothing would be downloaded.
export FC_IMAGE_ROOT=$W/store-faults
stub ok garbage; expect_error "gzip garbage" "not valid gzip data" "$FCI" pull -q "127.0.0.1:$SPORT/x:test"
stub wrong-digest basic; expect_error "wrong digest" "content has digest" "$FCI" pull -q "127.0.0.1:$SPORT/x:test"
stub truncated basic; expect_error "truncated blob" "the registry sends" "$FCI" pull -q "127.0.0.1:$SPORT/x:test"
stub drop basic; expect_error "connection dropped mid-blob" "the registry closed the connection" "$FCI" pull -q "127.0.0.1:$SPORT/x:test"
stub basic basic; expect_error "401 without a token endpoint" "requires authentication (401) and offers no token endpoint" "$FCI" pull -q "127.0.0.1:$SPORT/x:test"
stub bearer layers
if "$FCI" pull -q "127.0.0.1:$SPORT/x:test" >/dev/null 2>"$W/bearer.err" && grep -q "^GET /token" "$W/stub-bearer.log"; then
    ok "bearer token from the WWW-Authenticate realm"
else fail "bearer: $(cat "$W/bearer.err")"; fi

# A pull killed mid-blob (SIGKILL: no cleanup of its own) leaves its temporary; gc removes it once its lock is
# free, and the next pull downloads the blob whole.
stub stall basic
export FC_IMAGE_ROOT=$W/store-killed
"$FCI" pull -q "127.0.0.1:$SPORT/x:test" >/dev/null 2>&1 & victim=$!
for _ in $(seq 200); do [ -n "$(ls "$FC_IMAGE_ROOT/blobs/sha256" 2>/dev/null | grep '^\.tmp-')" ] && break; sleep 0.05; done
sleep 0.3
kill -9 "$victim"; wait "$victim" 2>/dev/null || true
if [ -n "$(ls -a "$FC_IMAGE_ROOT/blobs/sha256" | grep '^\.tmp-')" ] && "$FCI" gc >"$W/gc3.out" && grep -q " 1 temporaries" "$W/gc3.out" \
    && clean_store "killed pull"; then ok "pull killed mid-blob: its temporary is gc's ($(cat "$W/gc3.out"))"
else fail "killed pull: $(ls -a "$FC_IMAGE_ROOT/blobs/sha256"; cat "$W/gc3.out" 2>/dev/null)"; fi
stub ok basic
"$FCI" pull -q "127.0.0.1:$SPORT/x:test" >/dev/null && ok "pull after the killed one" || fail "pull after the killed one"
export FC_IMAGE_ROOT=$W/store

# Two pulls of one image at once into an empty store: each blob is downloaded once.
stub slow layers
export FC_IMAGE_ROOT=$W/store2
"$FCI" pull -q "127.0.0.1:$SPORT/x:test" >"$W/c1.out" 2>&1 & c1=$!
"$FCI" pull -q "127.0.0.1:$SPORT/x:test" >"$W/c2.out" 2>&1 & c2=$!
if wait $c1 && wait $c2; then
    dup=$(grep '/blobs/' "$W/stub-slow.log" | sort | uniq -d)
    n=$(grep -c '/blobs/' "$W/stub-slow.log")
    [ -z "$dup" ] && ok "two concurrent pulls: $n blob downloads, none twice" || fail "concurrent pulls downloaded twice: $dup"
else fail "concurrent pulls: $(cat "$W/c1.out" "$W/c2.out")"; fi
export FC_IMAGE_ROOT=$W/store

# --- rm and gc ----------------------------------------------------------------------------------------------------
chain=$(ls "$FC_IMAGE_ROOT/rootfs" | wc -l)
"$FCI" rm "$REG/fc/basic:test" >"$W/rm.out"
if ! "$FCI" list | grep -q "fc/basic:test" && [ "$(ls "$FC_IMAGE_ROOT/rootfs" | wc -l)" -lt "$chain" ]; then ok "rm: $(cat "$W/rm.out")"
else fail "rm left the image"; fi
expect_error "rm of an unknown image" "is not in the store" "$FCI" rm "$REG/fc/basic:test"
"$FCI" gc >"$W/gc.out" && ok "gc: $(cat "$W/gc.out")" || fail "gc"
# The fault store holds complete blobs of failed pulls (the garbage image's, verified, never recorded): gc takes them.
# What stays must be exactly the blobs the recorded images (the bearer pull's) name.
live() { FC_IMAGE_ROOT=$W/store-faults "$FCI" list --json | python3 -c '
import json, sys
print(" ".join(sorted({d[7:] for r in json.load(sys.stdin) for d in [r["manifest"], r["config"]] + r["layers"]})))'; }
if FC_IMAGE_ROOT=$W/store-faults "$FCI" gc >"$W/gc2.out" && grep -q "removed [1-9]" "$W/gc2.out" \
    && [ "$(ls "$W/store-faults/blobs/sha256" | sort | xargs)" = "$(live)" ]; then ok "gc of unrecorded blobs: $(cat "$W/gc2.out")"
else fail "gc of the fault store: $(cat "$W/gc2.out"; ls "$W/store-faults/blobs/sha256")"; fi
"$FCI" pull -q "$REG/fc/layers:test" >/dev/null && ok "pull after gc still a hit-or-refetch" || fail "pull after gc"

if ((FAILURES)); then echo "test-images: $FAILURES failure(s)"; exit 1; fi
echo "test-images: all passed"
