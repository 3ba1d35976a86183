"""conformance.py control: fc-supervisor's control.sock (PROTOCOL.md §11)."""
import os
import socket
import struct
import time

from conformance_guest import BAD_FRAMES, g_framing
from conformance_lib import Conn, canonical, check, errors, of, run_session, status_ok


CONTROL_BAD_FRAMES = [f for f in BAD_FRAMES if not f[0].startswith(("network:", "set_time", "shutdown", "unknown session",
                                                                    "window for", "exit_ack for", "attach"))] + [
    ("attach is not served", b'{"session":5,"type":"attach"}', b"", "invalid_message", 5),
    ("sessions is not served", b'{"type":"sessions"}', b"", "invalid_message", None),
    ("network is not served", b'{"type":"network"}', b"", "invalid_message", None),
    ("container is not served", b'{"root":{"source":"/dev/vda","type":"ext4","writable":true},"type":"container"}', b"",
     "invalid_message", None),
    ("exit is supervisor-to-client", b'{"code":0,"core_dumped":false,"oom_killed":false,"output_truncated":false,'
     b'"session":4,"type":"exit"}', b"", "invalid_message", 4),
    ("exec session 0", b'{"argv":["true"],"session":0,"type":"exec"}', b"", "invalid_message", 0),
    ("signal 0 to the workload", b'{"session":0,"signal":0,"type":"signal"}', b"", "invalid_message", 0),
    ("signal to an unknown session", b'{"session":999,"signal":15,"type":"signal"}', b"", "unknown_session", 999),
    ("resize of an unknown session", b'{"cols":1,"rows":1,"session":999,"type":"resize"}', b"", "unknown_session", 999),
]


def c_wait_ready(path):
    """§11: until vm-init has said hello, exec is refused with start_failed validate errno 107 (ENOTCONN)."""
    c = Conn(path, "client")
    deadline, sid, refused = time.monotonic() + 60, 100, 0
    while True:
        sid += 1
        end, _, _, _ = run_session(c, sid, ["true"])
        if end["type"] == "exit" or time.monotonic() > deadline:
            break
        check_ok = end["type"] == "start_failed" and (end.get("stage"), end.get("errno")) == ("validate", 107)
        if not check_ok:
            break
        refused += 1
        time.sleep(0.1)
    check("§11 exec once the guest is ready" + (" (after ENOTCONN refusals)" if refused else ""),
          end["type"] == "exit" and status_ok(end, code=0), end)
    c.close()


def c_opening(path):
    c = Conn(path, "client", send_hello=False)
    h = c.peer_hello
    check("§11 supervisor hello: version 1, role supervisor, pty", h.get("version") == 1
          and h.get("role") == "supervisor" and "pty" in h.get("capabilities", []), h)
    c.send({"type": "ping", "id": 1})
    e, _ = c.expect(of("error"), "error")
    check("§11/§7.2 ping before hello: invalid_state", (e["code"], e.get("session")) == ("invalid_state", None), e)
    c.send(c.hello())
    check("§11 hello opens the connection", not c.sync())
    c.send(c.hello())
    check("§11/§7.5 second hello: invalid_state", errors(c.sync()) == [("invalid_state", None)])
    c.close()
    for role in ("host", "guest", "supervisor"):
        c = Conn(path, "client", send_hello=False)
        c.send(c.hello(role=role))
        e, _ = c.expect(of("error"), "error")
        check(f"§11/§7.4 hello with role {role}: invalid_state, then closed", e["code"] == "invalid_state" and c.expect_eof(), e)
        c.close()
    c = Conn(path, "client", send_hello=False)
    c.send(c.hello(version=2))
    e, _ = c.expect(of("error"), "error")
    check("§11/§7.3 hello with version 2: unsupported_version, then closed",
          e["code"] == "unsupported_version" and c.expect_eof(), e)
    c.close()


def c_sessions(path):
    a = Conn(path, "client", window=4096, limits={"max_header": 65536, "max_payload": 1000})
    b = Conn(path, "client")
    end, out, err, frames = run_session(a, 1, ["sh", "-c", "head -c 10000 /dev/zero; printf err >&2; exit 3"])
    big = [len(p) for h, p in frames if len(p) > 1000]
    check("§11 exec: started first, with a pid", frames[0][0]["type"] == "started"
          and isinstance(frames[0][0].get("pid"), int), frames[0][0])
    check("§11/§3 output within the client's window and max_payload", out == b"\0" * 10000 and err == b"err" and status_ok(end, code=3)
          and not big, (len(out), err, end))
    a.send({"type": "exit_ack", "session": 1})
    a.send({"type": "window", "session": 1, "bytes": 4096})
    check("§11 exit_ack, and window for an ended session, are ignored", not errors(a.sync()))
    a.send({"type": "exec", "session": 2, "argv": ["cat"], "stdin": True})
    a.expect(of("started", 2), "started")
    a.send({"type": "exec", "session": 2, "argv": ["true"]})
    check("§11 exec with a live id: session_exists", errors(a.sync()) == [("session_exists", 2)])
    end, out, _, _ = run_session(b, 2, ["printf", "other"])
    check("§11 another client's ids do not collide", out == b"other" and status_ok(end, code=0), (out, end))
    a.send({"type": "stdin", "session": 2}, b"ping\n")
    h, p = a.expect(of("stdout", 2), "stdout")
    check("§11 stdin relayed", p == b"ping\n", p)
    a.send({"type": "stdin_close", "session": 2})
    end, _ = a.expect(of("exit", 2), "exit")
    check("§11 stdin_close relayed", status_ok(end, code=0), end)
    a.send({"type": "exec", "session": 3, "argv": ["sleep", "30"]})
    a.expect(of("started", 3), "started")
    a.send({"type": "signal", "session": 3, "signal": 65})
    check("§11/§4.10 signal 65: invalid_message", errors(a.sync()) == [("invalid_message", 3)])
    a.send({"type": "stdin", "session": 3}, b"x")
    check("§11/§4.5 stdin without \"stdin\": true: invalid_state", errors(a.sync()) == [("invalid_state", 3)])
    a.send({"type": "signal", "session": 3, "signal": 15})
    end, _ = a.expect(of("exit", 3), "exit")
    check("§11 signal relayed", status_ok(end, signal=15), end)
    end, _, _, _ = run_session(a, 4, ["/nonexistent/prog"])
    check("§11 start_failed relayed with the client's id", end["type"] == "start_failed" and end.get("stage") == "exec", end)
    a.close(); b.close()


def send_exec_with_fd(c, header, *fds):
    """§11.2–11.3: the exec frame in one sendmsg whose SCM_RIGHTS control message carries `fds`, in order."""
    h = canonical(header)
    socket.send_fds(c.sock, [struct.pack(">II", len(h), 0) + h], list(fds))


def c_stdin_descriptor(path):
    c = Conn(path, "client")
    if not check("§11.2 the supervisor announces stdin_descriptor",
                 "stdin_descriptor" in c.peer_hello.get("capabilities", []), c.peer_hello):
        return
    r, w = os.pipe()
    send_exec_with_fd(c, {"type": "exec", "session": 1, "argv": ["cat"], "stdin": True, "stdin_descriptor": True}, r)
    os.close(r)
    c.expect(of("started", 1), "started")
    c.send({"type": "stdin", "session": 1}, b"frame")
    check("§11.2 stdin frames for a session whose stdin is the pipe: invalid_state",
          errors(c.sync()) == [("invalid_state", 1)])
    data = bytes(range(256)) * 200  # within one pipe buffer: written before anyone reads
    os.write(w, data)
    os.close(w)
    out = b""
    while True:
        h, p = c.expect(lambda h, p: h.get("session") == 1, "session 1")
        out += p
        if p:
            c.send({"type": "window", "session": 1, "bytes": len(p)})
        if h["type"] == "exit":
            break
    check("§11.2 the pipe's bytes reach the process, then its end of file", out == data and status_ok(h, code=0),
          (len(out), h))
    c.send({"type": "exec", "session": 2, "argv": ["cat"], "stdin": True, "stdin_descriptor": True})
    check("§11.2 stdin_descriptor without a descriptor: invalid_message", errors(c.sync()) == [("invalid_message", 2)])
    null = os.open("/dev/null", os.O_RDONLY)
    send_exec_with_fd(c, {"type": "exec", "session": 3, "argv": ["cat"], "stdin_descriptor": True}, null)
    os.close(null)
    check("§11.2 a descriptor that is not a pipe: invalid_message", errors(c.sync()) == [("invalid_message", 3)])
    end, out, _, _ = run_session(c, 4, ["echo", "still"])
    check("§11.2 the connection serves on after the refusals", out == b"still\n" and status_ok(end, code=0), (out, end))
    c.close()


def c_output_descriptors(path):
    c = Conn(path, "client")
    if not check("§11.3 the supervisor announces output_descriptors",
                 "output_descriptors" in c.peer_hello.get("capabilities", []), c.peer_hello):
        return
    r, w = os.pipe()
    send_exec_with_fd(c, {"type": "exec", "session": 1, "argv": ["sh", "-c", "echo out; echo err >&2; exit 5"],
                          "stdout_descriptor": True, "stderr_descriptor": True}, w, w)
    os.close(w)
    seen = []
    while True:
        h, _ = c.expect(lambda h, p: h.get("session") == 1, "session 1")
        seen.append(h["type"])
        if h["type"] == "exit":
            break
    check("§11.3 no output frames for passed pipes: started, then exit", seen == ["started", "exit"]
          and status_ok(h, code=5), (seen, h))
    os.set_blocking(r, False)
    data, eof = b"", False
    try:
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                eof = True
                break
            data += chunk
    except BlockingIOError:
        pass
    os.close(r)
    check("§11.3 at exit the pipe holds all output and then end of file", eof and sorted(data.split()) == [b"err", b"out"],
          (data, eof))
    r, w = os.pipe()
    send_exec_with_fd(c, {"type": "exec", "session": 2, "argv": ["true"], "stdout_descriptor": True}, r)
    os.close(r)
    check("§11.3 a pipe's read end for stdout: invalid_message", errors(c.sync()) == [("invalid_message", 2)])
    os.close(w)
    end, out, _, _ = run_session(c, 3, ["echo", "still"])
    check("§11.3 the connection serves on after the refusal", out == b"still\n" and status_ok(end, code=0), (out, end))
    c.close()


def c_workload_and_shutdown(path):
    c = Conn(path, "client")
    c.send({"type": "signal", "session": 0, "signal": 10})  # the Swift test checks the workload got SIGUSR1
    check("§11 signal session 0 accepted", not errors(c.sync()))
    c.send({"type": "shutdown"})
    check("§11 shutdown: the connection closes when the supervisor exits", c.expect_eof(60))


def c_framing(path):
    g_framing(path, "client", CONTROL_BAD_FRAMES)
