#!/usr/bin/env python3
"""vm-init's memory for BENCHMARKS.md section 8 (run by Benchmarks/guest.sh against a running
`fc-supervisor run --vmm qemu` VM): reads /proc/1/status in the guest through the supervisor's control.sock
(PROTOCOL.md §11) once idle (after the supervisor's first connection; the reading `cat` is the one live session),
then with 100 and with 1,000 live `sleep` sessions held by this client, then kills them.

    guest_sessions.py CONTROL_SOCK [COUNT...]      (default counts: 100 1000)

Prints {"idle": {"VmRSS": kib, "RssAnon": .., "RssFile": .., "VmHWM": ..}, "sessions": {"100": {...}, ...}}.
"""
import json
import socket
import struct
import sys
import time

FIELDS = ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM", "VmData")


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(120)
        self.s.connect(path)
        self.buf = b""
        self.send({"type": "hello", "version": 1, "role": "client", "agent": "guest-bench/0.1", "capabilities": [],
                   "limits": {"max_header": 65536, "max_payload": 1048576}, "window": 1048576})
        while self.frame()[0].get("type") != "hello":
            pass

    def send(self, header, payload=b""):
        h = json.dumps(header, separators=(",", ":")).encode()
        self.s.sendall(struct.pack(">II", len(h), len(payload)) + h + payload)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise SystemExit("guest_sessions: control.sock closed")
            self.buf += chunk

    def frame(self):
        self._fill(8)
        hlen, plen = struct.unpack(">II", self.buf[:8])
        self._fill(8 + hlen + plen)
        header = json.loads(self.buf[8:8 + hlen])
        payload = self.buf[8 + hlen:8 + hlen + plen]
        self.buf = self.buf[8 + hlen + plen:]
        if header.get("type") in ("start_failed", "error"):
            raise SystemExit(f"guest_sessions: {header}")
        return header, payload


def status(conn, session):
    """/proc/1/status of the guest's PID 1 (vm-init), in KiB per field."""
    conn.send({"type": "exec", "session": session, "argv": ["cat", "/proc/1/status"]})
    out = b""
    while True:
        header, payload = conn.frame()
        if header.get("session") != session:
            continue
        if header["type"] == "stdout":
            out += payload
        elif header["type"] == "exit":
            break
    values = {}
    for line in out.decode().splitlines():
        key, _, rest = line.partition(":")
        if key in FIELDS:
            values[key] = int(rest.split()[0])
    return values


def main():
    counts = [int(c) for c in sys.argv[2:]] or [100, 1000]
    conn = Conn(sys.argv[1])
    result = {"idle": status(conn, 1), "sessions": {}}
    live, next_id = [], 10
    for count in counts:
        t = time.monotonic()
        want = count - len(live)
        for _ in range(want):
            conn.send({"type": "exec", "session": next_id, "argv": ["sleep", "100000"]})
            live.append(next_id)
            next_id += 1
        started = 0
        while started < want:
            if conn.frame()[0].get("type") == "started":
                started += 1
        time.sleep(0.5)
        result["sessions"][str(count)] = status(conn, next_id)
        result["sessions"][str(count)]["start_s"] = round(time.monotonic() - t, 2)
        next_id += 1
    for sid in live:
        conn.send({"type": "signal", "session": sid, "signal": 9})
    exited = 0
    while exited < len(live):
        if conn.frame()[0].get("type") == "exit":
            exited += 1
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
