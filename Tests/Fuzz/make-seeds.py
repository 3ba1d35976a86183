#!/usr/bin/env python3
"""Writes the seed corpora for the vminit-session, guest-mux and http-response fuzz targets (checked in; rerun
only to change them). Byte 0 of every seed is the target's control byte."""
import json, os, struct

here = os.path.dirname(os.path.abspath(__file__))

def frame(msg, payload=b""):
    h = json.dumps(msg, separators=(",", ":")).encode()
    return struct.pack(">II", len(h), len(payload)) + h + payload

def write(d, name, data):
    os.makedirs(os.path.join(here, d), exist_ok=True)
    with open(os.path.join(here, d, name), "wb") as f:
        f.write(data)

hello_host = frame({"type": "hello", "version": 1, "role": "host", "window": 65536,
                    "limits": {"max_header": 65536, "max_payload": 1048576}})
v = "corpus-vminit"
write(v, "hello_exec_stdin", bytes([0]) + hello_host + frame({"type": "exec", "session": 1, "argv": ["/bin/cat"], "stdin": True})
      + frame({"type": "stdin", "session": 1}, b"hello\n") + frame({"type": "stdin_close", "session": 1})
      + frame({"type": "window", "session": 1, "bytes": 4096}) + frame({"type": "signal", "session": 1, "signal": 15}))
write(v, "exec_tty_resize", bytes([0x40]) + frame({"type": "exec", "session": 7, "argv": ["/bin/sh"], "tty": {"rows": 24, "cols": 80}})
      + frame({"type": "resize", "session": 7, "rows": 50, "cols": 132}) + frame({"type": "stdin", "session": 7}, b"ls\r"))
write(v, "exec_full_options", bytes([0x80]) + frame({"type": "exec", "session": 2, "argv": ["/bin/true", "a"], "env": ["A=1"],
      "cwd": "/", "user": "nobody", "uid": 65534, "gid": 65534, "groups": [1, 2], "umask": 18,
      "rlimits": [{"resource": "nofile", "soft": 10, "hard": 20}], "capabilities": ["CAP_NET_ADMIN"],
      "no_new_privs": True, "timeout_ms": 10}) + frame({"type": "exit_ack", "session": 2}))
write(v, "exec_fail_dup", bytes([0xc0]) + frame({"type": "exec", "session": 3, "argv": ["/fail"]})
      + frame({"type": "exec", "session": 4, "argv": ["/bin/x"]}) + frame({"type": "exec", "session": 4, "argv": ["/bin/x"]}))
write(v, "misc", bytes([0x41]) + frame({"type": "ping", "id": 1}) + frame({"type": "sessions"})
      + frame({"type": "attach", "session": 9}) + frame({"type": "set_time", "unix_ns": 1}) + frame({"type": "stdout", "session": 1}, b"x")
      + frame({"type": "shutdown", "mode": "poweroff", "grace_ms": 0}) + frame({"type": "exec", "session": 5, "argv": ["/x"]}))
write(v, "bad_frames", bytes([0x81]) + struct.pack(">II", 0xffffffff, 0xffffffff) + b"junk" + frame({"type": "nope"}) + b"\x00\x00\x00\x02\x00\x00\x00\x00{}")

g = "corpus-guestmux"
hello_guest = frame({"type": "hello", "version": 1, "role": "guest", "window": 1048576,
                     "limits": {"max_header": 65536, "max_payload": 1048576}, "capabilities": ["pty"]})
write(g, "normal", bytes([0]) + hello_guest + frame({"type": "started", "session": 1, "pid": 10})
      + frame({"type": "stdout", "session": 1}, b"out") + frame({"type": "stderr", "session": 1}, b"err")
      + frame({"type": "window", "session": 1, "bytes": 100}) + frame({"type": "exit", "session": 1, "code": 0, "core_dumped": False, "oom_killed": False, "output_truncated": False, "status": 0})
      + frame({"type": "start_failed", "session": 2, "errno": 2, "stage": "exec", "message": "nope"})
      + frame({"type": "exit", "session": 3, "signal": 9, "core_dumped": False, "oom_killed": True, "output_truncated": False, "status": 137}))
write(g, "window_violation", bytes([1]) + hello_guest + frame({"type": "stdout", "session": 1}, b"A" * 100)
      + frame({"type": "stdout", "session": 2}, b"B" * 60) + frame({"type": "stdout", "session": 2}, b"B" * 60))
write(g, "hostile", bytes([6]) + hello_guest + hello_guest + frame({"type": "exit", "session": 99, "code": 1, "core_dumped": False, "oom_killed": False, "output_truncated": False, "status": 1})
      + frame({"type": "exit", "session": 1, "code": 1, "core_dumped": False, "oom_killed": False, "output_truncated": False, "status": 1}) + frame({"type": "exit", "session": 1, "code": 1, "core_dumped": False, "oom_killed": False, "output_truncated": False, "status": 1})
      + frame({"type": "window", "session": 2, "bytes": 4294967295}) + frame({"type": "window", "session": 2, "bytes": 4294967295})
      + frame({"type": "ping", "id": 5}) + frame({"type": "pong", "id": 1}) + frame({"type": "exec", "session": 1, "argv": ["x"]})
      + frame({"type": "error", "code": "internal", "message": "m", "session": 2}) + frame({"type": "sessions", "sessions": []}))
write(g, "bad_version", bytes([0]) + frame({"type": "hello", "version": 2, "role": "guest", "window": 1})
      + frame({"type": "stdout", "session": 1}, b"late"))
write(g, "oversized", bytes([2]) + hello_guest + struct.pack(">II", 0x7fffffff, 0) + b"tail")

h = "corpus-http"
write(h, "ok_204", b"\x00HTTP/1.1 204 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n")
write(h, "body", b"\x03HTTP/1.1 400 \r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{\"fault_message\":\"bad body\"}")
write(h, "continue_then_200", b"\x05HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 204 \r\n\r\n")
write(h, "eof_body", b"\x07HTTP/1.0 500 Internal\r\nX: y\r\n\r\nuntil eof")
write(h, "bad", b"\x01HTTP/1.1 abc\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n")
print("seeds written")
