#!/usr/bin/env python3
"""What a podman container left behind on this host, found by the container's id (never by a process name).

    leftovers.py ROOT ID [PTYS_BEFORE_FILE] [ANCESTOR_PID]

Prints one line per leftover and exits 1 when there is any:
- a process whose argv names ID (the per-VM supervisor `fc-supervisor … __supervise … ID`, an exec relay, the VMM
  `qemu-system-x86_64 … ID…`, conmon `-c ID`): each line gives the pid and argv;
- the runtime's state directory ROOT/ID;
- a pty created since PTYS_BEFORE_FILE was written (`ls /dev/pts` then) that is still open in a process naming ID
  or descending from ANCESTOR_PID (the test script): a pty held by nobody vanishes by itself, and one held by an
  unrelated session on this shared machine is not ours.
Waits up to LEFTOVER_WAIT seconds (default 15) for things that are on their way out (podman's cleanup process
runs after `podman run` returns).
"""
import os
import sys
import time


def processes():
    """pid -> (ppid, argv) for every readable process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] in ("Z", "X"):
            continue  # a zombie only waits for its parent to reap it
        table[int(name)] = (int(fields[1]), argv)
    return table


def names_id(argv, cid):
    return any(cid in word for word in argv)


def descends(pid, ancestor, table):
    seen = set()
    while pid in table and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = table[pid][0]
    return False


def holders(pty):
    """pids with an open fd on /dev/pts/<pty>."""
    target = f"/dev/pts/{pty}"
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{name}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{name}/fd/{fd}") == target:
                    found.append(int(name))
                    break
            except OSError:
                continue
    return found


def scan(root, cid, before, ancestor):
    problems = []
    table = processes()
    me = os.getpid()
    for pid, (_, argv) in sorted(table.items()):
        if pid != me and names_id(argv, cid) and not descends(pid, me, table):
            problems.append(f"process {pid}: {' '.join(argv)[:300]}")
    if os.path.lexists(os.path.join(root, cid)):
        problems.append(f"state directory {os.path.join(root, cid)}")
    if before is not None:
        for pty in sorted(set(os.listdir("/dev/pts")) - before - {"ptmx"}):
            ours = [p for p in holders(pty)
                    if p in table and (names_id(table[p][1], cid) or (ancestor and descends(p, ancestor, table)))]
            if ours:
                problems.append(f"pty /dev/pts/{pty} held by {ours}")
    return problems


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, cid = sys.argv[1], sys.argv[2]
    if len(cid) < 12:
        print(f"leftovers.py: id {cid!r} is too short to scan for", file=sys.stderr)
        return 2
    before = None
    if len(sys.argv) > 3 and sys.argv[3]:
        with open(sys.argv[3]) as f:
            before = set(f.read().split())
    ancestor = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else 0
    deadline = time.monotonic() + float(os.environ.get("LEFTOVER_WAIT", "15"))
    while True:
        problems = scan(root, cid, before, ancestor)
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
