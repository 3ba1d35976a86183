#!/usr/bin/env bash
# Makes an OCI bundle at DIR: rootfs/ (busybox-static with its applet symlinks, /etc/passwd and /etc/group with root
# and uid 1000 "user", /home/user owned by 1000, optional static helpers) and config.json from `runc spec`, edited
# for the requested process (args, terminal false, env, cwd) and an optional memory limit. Used by
# Tests/GoRunc (one bundle per case), `make test-oci` and Benchmarks/oci.sh.
#
#   scripts/oci-bundle.sh DIR [--memory BYTES] [--helper PATH]... [--env K=V]... [--cwd DIR] [--annotation K=V]...
#                             [--readonly true|false] [--unique] [--] ARG...
#   (no ARG: `sleep 1000000`; --unique writes rootfs/etc/oci-bundle-id with a fresh value, so that a rootfs image
#   cache keyed on content sees a tree it has never converted)
#
# A memory limit also sets memory.swap to the same value so that the limit cannot be escaped into swap (runc then
# writes memory.memsw.limit_in_bytes, cgroup v1). An existing DIR is replaced.
set -euo pipefail
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] || usage
DIR=$1; shift
MEMORY=""; CWD="/"; READONLY=true; UNIQUE=0
HELPERS=(); ENVS=(); ANNOTATIONS=()
while [ $# -gt 0 ]; do
    case $1 in
        --memory) MEMORY=$2; shift 2 ;;
        --helper) HELPERS+=("$2"); shift 2 ;;
        --env) ENVS+=("$2"); shift 2 ;;
        --cwd) CWD=$2; shift 2 ;;
        --annotation) ANNOTATIONS+=("$2"); shift 2 ;;
        --readonly) READONLY=$2; shift 2 ;;
        --unique) UNIQUE=1; shift ;;
        --) shift; break ;;
        -h|--help) usage ;;
        -*) echo "oci-bundle.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || set -- sleep 1000000
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
BUSYBOX=${BUSYBOX:-/bin/busybox}
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || {
    echo "oci-bundle.sh: $BUSYBOX is not a static busybox (apt-get install busybox-static)" >&2; exit 1; }

rm -rf "$DIR"
R=$DIR/rootfs
mkdir -p "$R"/{bin,sbin,etc,proc,sys,dev,tmp,root,home/user,usr/bin,usr/sbin,var/tmp}
chmod 1777 "$R/tmp" "$R/var/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
# Every applet busybox knows, as a symlink in bin/ (one directory is enough: PATH from `runc spec` covers it);
# made by one process, not ~270 `ln`s (bundles are made per test case).
"$R/bin/busybox" --list | python3 -c '
import os, sys
d = sys.argv[1]
for a in sys.stdin.read().split():
    if a != "busybox":
        os.symlink("busybox", os.path.join(d, a))
' "$R/bin"
for h in "${HELPERS[@]}"; do
    install -m 0755 "$h" "$R/bin/$(basename "$h")"
done
cat > "$R/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
PW
cat > "$R/etc/group" <<'GR'
root:x:0:
user:x:1000:
GR
chown 1000:1000 "$R/home/user"
[ "$UNIQUE" = 0 ] || echo "$(date +%s.%N) $$ $RANDOM" > "$R/etc/oci-bundle-id"

(cd "$DIR" && "$RUNC" spec)
python3 - "$DIR/config.json" "$MEMORY" "$CWD" "$READONLY" "${#ENVS[@]}" "${ENVS[@]}" \
        "${#ANNOTATIONS[@]}" "${ANNOTATIONS[@]}" "$@" <<'PY'
import json, sys
path, memory, cwd, readonly = sys.argv[1:5]
rest = sys.argv[5:]
n = int(rest[0]); envs = rest[1:1 + n]; rest = rest[1 + n:]
n = int(rest[0]); annotations = rest[1:1 + n]; args = rest[1 + n:]
with open(path) as f:
    c = json.load(f)
p = c["process"]
p["terminal"] = False
p["args"] = args
p["cwd"] = cwd
p["env"] = p.get("env", []) + envs
c["root"]["readonly"] = readonly == "true"
if annotations:
    c["annotations"] = dict(a.split("=", 1) for a in annotations)
if memory:
    c.setdefault("linux", {}).setdefault("resources", {})["memory"] = {"limit": int(memory), "swap": int(memory)}
with open(path, "w") as f:
    json.dump(c, f, indent="\t")
    f.write("\n")
PY
