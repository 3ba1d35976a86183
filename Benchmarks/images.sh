#!/usr/bin/env bash
# Section "11. Images" of BENCHMARKS.md: pull + unpack of one image from Debian's docker-registry on 127.0.0.1,
# by fc-image (cold store, then the same pull again: a cache hit) and by `skopeo copy` + `umoci unpack` (the
# same image, the same registry, the same run, interleaved; medians of N).
#
#   make bench BENCH_ONLY=images      this section only
#   BENCH_IMAGES_RUNS=N               N (default 5, at least 3)
#   BENCH_IMAGES_TREE=DIR             the image's content (default /usr/lib/python3.11: ~1,500 files, 54 MiB of real data)
#   FC_IMAGE=PATH                     measure this fc-image instead of building build/fc-image
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
N=${BENCH_IMAGES_RUNS:-5}
[ "$N" -ge 3 ] || N=3
TREE=${BENCH_IMAGES_TREE:-/usr/lib/python3.11}
log() { printf '\033[1m[bench-images]\033[0m %s\n' "$*" >&2; }
for tool in docker-registry skopeo umoci; do command -v "$tool" >/dev/null || { echo "bench-images: $tool missing (make deps)" >&2; exit 1; }; done

if [ -n "${FC_IMAGE:-}" ]; then
    FCI=$FC_IMAGE
    BUILD_LABEL="\`$(basename "$(dirname "$FCI")")\` build at $FCI"
else
    log "building fc-image (static release: make fc-image-static)"
    make -s fc-image-static >&2
    FCI=$ROOT/build/fc-image
    BUILD_LABEL="static release build, \`make fc-image-static\`"
fi

W=$(mktemp -d /var/tmp/fcbench-images-XXXXXX)
REG_PID=""
trap '[ -z "$REG_PID" ] || { kill "$REG_PID"; wait "$REG_PID" 2>/dev/null || true; }; rm -rf "$W"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/registry"
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s}\n' \
    "$W/registry" "$PORT" >"$W/registry.yml"
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break; sleep 0.1; done
REF=127.0.0.1:$PORT/bench/tree:1

log "image from $TREE (umoci), pushed with skopeo"
umoci init --layout "$W/src"
umoci new --image "$W/src:1"
umoci unpack --image "$W/src:1" "$W/srcb" >/dev/null
mkdir -p "$W/srcb/rootfs/tree"
cp -a "$TREE/." "$W/srcb/rootfs/tree/"
cp /bin/busybox "$W/srcb/rootfs/busybox"
umoci repack --image "$W/src:1" "$W/srcb"
skopeo copy -q --dest-tls-verify=false "oci:$W/src:1" "docker://$REF"
COMPRESSED=$(find "$W/registry" -path '*/blobs/sha256/*/data' -size +100k -printf '%s\n' | sort -n | tail -1)
UNPACKED=$(du -sb "$W/srcb/rootfs" | cut -f1)
FILES=$(find "$W/srcb/rootfs" | wc -l)

now() { date +%s%N; }
: >"$W/times"
for i in $(seq "$N"); do
    rm -rf "$W/store" "$W/sk" "$W/skb"
    t0=$(now); FC_IMAGE_ROOT=$W/store "$FCI" pull -q "$REF" >/dev/null; t1=$(now)
    FC_IMAGE_ROOT=$W/store "$FCI" pull -q "$REF" >/dev/null; t2=$(now)
    skopeo copy -q --src-tls-verify=false "docker://$REF" "oci:$W/sk:1"; umoci unpack --image "$W/sk:1" "$W/skb" >/dev/null; t3=$(now)
    echo "$(( (t1 - t0) / 1000 )) $(( (t2 - t1) / 1000 )) $(( (t3 - t2) / 1000 ))" >>"$W/times"
    log "run $i: fc-image $(( (t1 - t0) / 1000000 )) ms, hit $(( (t2 - t1) / 1000000 )) ms, skopeo+umoci $(( (t3 - t2) / 1000000 )) ms"
done
python3 Benchmarks/images_report.py BENCHMARKS.md "$W/times" "$N" "$COMPRESSED" "$UNPACKED" "$FILES" "$TREE" "$BUILD_LABEL" "make bench BENCH_ONLY=images"
