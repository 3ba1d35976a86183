#!/usr/bin/env bash
# `make test-podman`: Debian's podman 4.3 (with conmon 2.1.6) driving build/fc-supervisor as its OCI runtime,
# one real VM (QEMU) per container, no registry (`--rootfs DIR`, a busybox tree from scripts/oci-bundle.sh).
# Every case ends with a scan for what the container left (Tests/Podman/leftovers.py: processes naming its id,
# the runtime's state directory, ptys), so a pass also means nothing leaked.
#
#   FC_SUPERVISOR=PATH   the runtime (default build/fc-supervisor, from `make fc-supervisor-static`)
#   FC_CONFIG=PATH       the runtime configuration (default build/config.json, from `make runtime-config`)
#   PODMAN_CASES="a b"   a subset of the cases: hello exit3 sigkill detached stop refused tty
#   PODMAN_REQUIRE=1     fail (instead of skipping) when podman or tmux is missing
#
# Podman's own state lives in a private --root/--runroot under /var/tmp, so the machine's podman store is not
# touched; the runtime's state is under its default root (/run/fc-supervisor): podman's cleanup process calls
# `delete --force` with no runtime flags, so a --root given through --runtime-flag would not reach it.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
FC=${FC_SUPERVISOR:-$ROOT/build/fc-supervisor}
CONFIG=${FC_CONFIG:-$ROOT/build/config.json}
RUNTIME_ROOT=/run/fc-supervisor
LEFTOVERS="python3 $ROOT/Tests/Podman/leftovers.py"
CASES=${PODMAN_CASES:-hello exit3 sigkill detached stop refused tty}

log() { printf '\033[1m[test-podman]\033[0m %s\n' "$*" >&2; }
skip() {
    if [ "${PODMAN_REQUIRE:-0}" = 1 ]; then echo "test-podman: $*" >&2; exit 1; fi
    log "SKIPPED: $*"; exit 0
}
command -v podman >/dev/null || skip "podman is not installed (apt-get install podman)"
[ -x "$FC" ] || { echo "test-podman: $FC missing (make fc-supervisor-static)" >&2; exit 1; }
[ -f "$CONFIG" ] || { echo "test-podman: $CONFIG missing (make runtime-config)" >&2; exit 1; }

# podman's store and the case files: private to this run, so two runs on one machine never share them (the EXIT
# trap below removes it).
WORK=$(mktemp -d /var/tmp/fc-podman.XXXX)
# Made once and kept: an unchanged tree reuses its cached ext4 image (build/images) on the next run. podman adds
# an empty /run/.containerenv to a --rootfs tree on first use.
BUNDLE=$ROOT/build/podman-bundle
[ -d "$BUNDLE/rootfs/bin" ] || bash scripts/oci-bundle.sh "$BUNDLE" >/dev/null
ROOTFS=$BUNDLE/rootfs
# podman keeps its containers, database and events here; vfs needs no kernel overlay support; no systemd runs
# here to manage cgroups or keep a journal.
PODMAN=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs --cgroup-manager cgroupfs
        --events-backend file --runtime "$FC" --runtime-flag "config=$CONFIG")
# The sandbox's hard limits are below podman's default rlimits (nofile 1048576, nproc 4194304).
LIMITS=(--ulimit nofile=20000:20000 --ulimit nproc=4096:4096)
p() { timeout 180 "${PODMAN[@]}" "$@"; }

FAILED=()
PASSED=()
CASE=""
fail() { log "FAIL [$CASE]: $*"; FAILED+=("$CASE: $*"); }
# expect WHAT GOT WANT
expect() { if [ "$2" = "$3" ]; then log "ok   [$CASE] $1"; else fail "$1: got '$2', want '$3'"; fi; }

# The leftover scan for container id $1 (after its case; podman's cleanup process may still be running).
check_left() {
    local cid=$1 out
    [ -n "$cid" ] || { fail "no container id to scan for"; return; }
    if out=$($LEFTOVERS "$RUNTIME_ROOT" "$cid" "$WORK/ptys-before" "$$" 2>&1); then
        log "ok   [$CASE] nothing left of ${cid:0:12}"
    else
        fail "left behind: $(echo "$out" | tr '\n' ';')"
    fi
}

begin() {
    CASE=$1
    ls /dev/pts > "$WORK/ptys-before"
    rm -f "$WORK/cid"
    START=$(date +%s.%N)
    log "case $CASE"
}
finish() {
    local took
    took=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$START" "$(date +%s.%N)")
    log "case $CASE took ${took}s"
    TIMES+=("$CASE ${took}s")
}
TIMES=()
cid() { cat "$WORK/cid" 2>/dev/null; }

# An interrupted run must not leave containers (and their VMs) behind: podman stops and removes every container
# of this private store, which ends their supervisors through the runtime's own kill/delete.
cleanup() {
    "${PODMAN[@]}" rm --force --all --time 0 >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

case_hello() {
    begin hello
    local out
    out=$(p run --rm --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" /bin/echo hello 2>"$WORK/err")
    expect "run --rm echo hello prints hello (stderr: $(head -c 300 "$WORK/err"))" "$out" hello
    check_left "$(cid)"
    finish
}

case_exit3() {
    begin exit3
    p run --rm --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" sh -c 'exit 3'
    expect "run --rm sh -c 'exit 3' exits 3" "$?" 3
    check_left "$(cid)"
    # runc's create-time lookup of args[0]: podman maps "executable file not found" to 127.
    rm -f "$WORK/cid"
    p run --rm --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" nosuchcommand 2>"$WORK/err"
    expect "run of a missing command exits 127" "$?" 127
    grep -q 'nosuchcommand.*executable file not found in \$PATH' "$WORK/err" || fail "missing command: $(cat "$WORK/err")"
    check_left "$(cid)"
    finish
}

case_sigkill() {
    begin sigkill
    # A child that kills itself: the shell reports 128+9 (busybox sh, as any POSIX shell).
    p run --rm --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" sh -c 'sh -c "kill -9 \$\$"; exit $?'
    expect "a child killing itself with SIGKILL gives 137" "$?" 137
    check_left "$(cid)"
    # The workload itself SIGKILLed from outside: `podman kill -s KILL` while `podman run` waits in the foreground.
    rm -f "$WORK/cid"
    p run --rm --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" sleep 1000 &
    local run=$! i
    for i in $(seq 1 600); do
        [ -s "$WORK/cid" ] && [ "$(p inspect --format '{{.State.Status}}' "$(cid)" 2>/dev/null)" = running ] && break
        sleep 0.1
    done
    p kill --signal KILL "$(cid)" >/dev/null
    wait "$run"
    expect "podman run of a workload killed by podman kill -s KILL exits 137" "$?" 137
    check_left "$(cid)"
    # podman's signal proxy: SIGTERM to a foreground `podman run` reaches the workload (`kill ID 15`).
    rm -f "$WORK/cid"
    "${PODMAN[@]}" run --rm --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" sleep 1000 &
    run=$!
    for i in $(seq 1 600); do
        [ -s "$WORK/cid" ] && [ "$(p inspect --format '{{.State.Status}}' "$(cid)" 2>/dev/null)" = running ] && break
        sleep 0.1
    done
    kill -TERM "$run"
    wait "$run"
    expect "SIGTERM to a foreground podman run ends the workload: 143" "$?" 143
    check_left "$(cid)"
    finish
}

case_detached() {
    begin detached
    local id out rc
    id=$(p run -d --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" sleep 1000)
    expect "run -d prints the container id" "$id" "$(cid)"
    out=$(p ps --no-trunc --format '{{.ID}} {{.Status}}' | grep "^$id " | cut -c1-67)
    expect "ps shows it running" "$out" "$id Up"
    expect "exec: output" "$(p exec "$id" echo hi)" hi
    p exec "$id" sh -c 'exit 5'
    expect "exec: exit code" "$?" 5
    expect "exec -i: stdin" "$(printf 'line1\nline2\n' | p exec -i "$id" cat)" "$(printf 'line1\nline2')"
    expect "exec -e" "$(p exec -e FOO=bar "$id" sh -c 'echo $FOO')" bar
    expect "exec -w" "$(p exec -w /tmp "$id" pwd)" /tmp
    expect "exec -u" "$(p exec -u 1000:1000 "$id" id -u)" 1000
    p exec "$id" nosuchcommand 2>"$WORK/err"
    rc=$?
    expect "exec of a missing command exits 127 ($(head -c 200 "$WORK/err"))" "$rc" 127
    # exec -t: conmon hands fc-supervisor a console socket; the guest's pty does the only \n → \r\n.
    expect "exec -t: a terminal" "$(p exec -t "$id" tty | od -An -c | tr -s ' ')" " / d e v / p t s / 0 \\r \\n"
    p pause "$id" >/dev/null
    expect "pause" "$(p inspect --format '{{.State.Status}}' "$id")" paused
    p unpause "$id" >/dev/null
    expect "unpause, then exec" "$(p exec "$id" echo again)" again
    # restart: stop, `delete --force`, then a new create + start with the same id (a new VM).
    p restart --time 1 "$id" >/dev/null
    expect "restart, then exec" "$(p exec "$id" echo restarted)" restarted
    local t0 t1
    t0=$(date +%s%N)
    p stop --time 10 "$id" >/dev/null
    t1=$(date +%s%N)
    expect "stop: sleep ends on SIGTERM, before --time" "$(( (t1 - t0) / 1000000000 < 10 ))" 1
    expect "stop: exit code 143" "$(p inspect --format '{{.State.ExitCode}}' "$id")" 143
    out=$(p ps --no-trunc --format '{{.ID}}' | grep -c "^$id" || true)
    expect "ps no longer shows it" "$out" 0
    p rm "$id" >/dev/null
    out=$(p ps -a --no-trunc --format '{{.ID}}' | grep -c "^$id" || true)
    expect "rm removes it (ps -a)" "$out" 0
    check_left "$id"
    finish
}

case_stop() {
    begin stop
    local id t0 t1
    # A workload that ignores SIGTERM: `stop --time 2` must SIGKILL it after 2 s.
    id=$(p run -d --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" sh -c 'trap "" TERM; touch /tmp/trapped; while :; do sleep 1; done')
    # `run -d` returns once the shell started, maybe before its trap is set: wait for it.
    local i
    for i in $(seq 1 50); do p exec "$id" test -f /tmp/trapped && break; sleep 0.2; done
    t0=$(date +%s%N)
    p stop --time 2 "$id" >/dev/null
    t1=$(date +%s%N)
    local ms=$(( (t1 - t0) / 1000000 ))
    expect "stop --time 2 waits 2 s before SIGKILL (${ms} ms)" "$(( ms >= 2000 && ms < 15000 ))" 1
    expect "stop: exit code 137" "$(p inspect --format '{{.State.ExitCode}}' "$id")" 137
    p rm "$id" >/dev/null
    check_left "$id"
    finish
}

# What a VM cannot honour fails `podman run` with 126 and the runtime's one line, and leaves nothing behind.
case_refused() {
    begin refused
    mkdir -p "$WORK/hostdir"
    local flags want rc
    while IFS='|' read -r flags want; do
        rm -f "$WORK/cid"
        # shellcheck disable=SC2086 # flags are words
        p run --rm --cidfile "$WORK/cid" "${LIMITS[@]}" $flags --rootfs "$ROOTFS" true 2>"$WORK/err"
        rc=$?
        expect "run $flags exits 126" "$rc" 126
        if grep -qF "$want" "$WORK/err"; then log "ok   [$CASE] run $flags: $want"; else fail "run $flags: $(cat "$WORK/err")"; fi
        check_left "$(cid)"
    done <<EOF2
-v $WORK/hostdir:/data|bind mount /data: host directory $WORK/hostdir cannot be shared with the VM
--pid host|the host's PID namespace cannot be shared with a VM
--ipc host|bind mount /dev/shm: the IPC namespace is the host's or another container's
EOF2
    local id
    rm -f "$WORK/cid"
    id=$(p run -d --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" sleep 1000)
    p update --cpus 1 "$id" 2>"$WORK/err"
    rc=$?
    expect "update --cpus fails" "$rc" 125
    grep -qF "its vCPUs and memory are fixed when it is created" "$WORK/err" || fail "update: $(cat "$WORK/err")"
    # The runtime's `checkpoint` writes a VM snapshot (README "Snapshots") and stops the container; podman's own
    # `container restore` then looks for CRIU's inventory.img, which a VM snapshot does not have, and refuses.
    p container checkpoint "$id" 2>"$WORK/err"
    rc=$?
    expect "container checkpoint succeeds" "$rc" 0
    expect "checkpointed container is exited" "$(p inspect --format '{{.State.Status}}' "$id")" exited
    p container restore "$id" 2>"$WORK/err"
    rc=$?
    expect "container restore is refused by podman" "$rc" 125
    grep -qF "inventory.img" "$WORK/err" || fail "restore: $(cat "$WORK/err")"
    p rm --force --time 0 "$id" >/dev/null
    check_left "$id"
    finish
}

case_tty() {
    begin tty
    command -v tmux >/dev/null || { log "tty: tmux missing, skipped"; [ "${PODMAN_REQUIRE:-0}" = 1 ] && fail "tmux missing"; return; }
    bash "$ROOT/Tests/Podman/tty-case.sh" "$WORK" "${PODMAN[*]}" "${LIMITS[*]}" "$ROOTFS" || fail "run -it under tmux (see above)"
    check_left "$(cid)"
    finish
}

for c in $CASES; do
    "case_$c"
done

log "timings: ${TIMES[*]}"
if [ ${#FAILED[@]} -gt 0 ]; then
    log "${#FAILED[@]} failure(s):"
    printf '  %s\n' "${FAILED[@]}" >&2
    exit 1
fi
log "all cases passed"
