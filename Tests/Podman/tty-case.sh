#!/usr/bin/env bash
# test-podman.sh's `tty` case: `podman run -it` in a detached tmux session (a real terminal on podman's side):
# the shell's prompt appears, `stty size` follows a resize of the tmux window, Ctrl-C interrupts a foreground
# `sleep` in the guest (the shell survives and reports 130), and `exit 7` ends podman with 7.
#
#   tty-case.sh WORK "PODMAN ARGV" "LIMIT FLAGS" ROOTFS      (the container id is written to WORK/cid)
set -uo pipefail
WORK=$1; read -r -a PODMAN <<< "$2"; read -r -a LIMITS <<< "$3"; ROOTFS=$4
S=fcpodman-$$
STATUS=$WORK/tty-status
rm -f "$STATUS" "$WORK/cid"
ok=1
say() { printf '\033[1m[test-podman]\033[0m %s\n' "$*" >&2; }
bad() { say "FAIL [tty]: $*"; ok=0; }
screen() { tmux capture-pane -p -t "$S" 2>/dev/null; }
# wait_for REGEX SECONDS: until the pane shows a line matching REGEX.
wait_for() {
    local i
    for i in $(seq 1 $(( $2 * 10 ))); do
        screen | grep -Eq "$1" && return 0
        sleep 0.1
    done
    return 1
}

# `printf %q` keeps the podman argv (paths with spaces) intact through tmux's shell.
cmd=$(printf '%q ' timeout --foreground 300 "${PODMAN[@]}" run -it --rm --cidfile "$WORK/cid" "${LIMITS[@]}" --rootfs "$ROOTFS" sh)
tmux new-session -d -s "$S" -x 120 -y 40 "$cmd; echo \$? > $STATUS; sleep 60"
trap 'tmux kill-session -t "$S" 2>/dev/null' EXIT

if wait_for '^/ # ?$' 60; then say "ok   [tty] prompt"; else bad "no prompt; screen: $(screen | tr -s '\n' '|')"; fi
tmux send-keys -t "$S" 'stty size' Enter
if wait_for '^40 120$' 10; then say "ok   [tty] stty size 40 120"; else bad "stty size: $(screen | tail -5 | tr '\n' '|')"; fi
tmux resize-window -t "$S" -x 100 -y 30
sleep 0.5
tmux send-keys -t "$S" 'clear; stty size' Enter
if wait_for '^30 100$' 10; then say "ok   [tty] stty size 30 100 after a resize"; else bad "after resize: $(screen | tail -5 | tr '\n' '|')"; fi
# An interactive shell drops the rest of a line whose job died of SIGINT: the status is asked for on its own line.
tmux send-keys -t "$S" 'clear; sleep 1000' Enter
sleep 1
tmux send-keys -t "$S" C-c
sleep 0.5
tmux send-keys -t "$S" 'echo "slept=$?"' Enter
if wait_for '^slept=130$' 10; then say "ok   [tty] Ctrl-C interrupts sleep (130)"; else bad "Ctrl-C: $(screen | tail -5 | tr '\n' '|')"; fi
tmux send-keys -t "$S" 'exit 7' Enter
for _ in $(seq 1 300); do [ -s "$STATUS" ] && break; sleep 0.1; done
got=$(cat "$STATUS" 2>/dev/null)
if [ "$got" = 7 ]; then say "ok   [tty] exit 7 ends podman with 7"; else bad "podman exit status '$got', want 7"; fi
[ $ok = 1 ]
