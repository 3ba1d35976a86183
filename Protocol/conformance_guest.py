"""conformance.py guest: vm-init on the guest connection (PROTOCOL.md §2–§9)."""
from conformance_lib import (CEILING, Conn, check, errors, of, run_session, status_ok)


GUEST_CAPS = {"pty", "rlimits", "capabilities", "attach", "set_time", "shutdown", "oom", "network", "container",
              "snapshot"}


def g_opening(path):
    c = Conn(path, "host", send_hello=False)
    h = c.peer_hello
    check("§4.1 guest hello: version 1, role guest", h.get("version") == 1 and h.get("role") == "guest", h)
    check("§4.1 guest hello lists every capability", GUEST_CAPS <= set(h.get("capabilities", [])), h)
    lim = h.get("limits", {})
    check("§3 guest limits within the ceiling", 0 < lim.get("max_header", 0) <= CEILING
          and 0 < lim.get("max_payload", 0) <= CEILING, lim)
    check("§4.1 guest window is a uint32", isinstance(h.get("window"), int) and 0 <= h["window"] < 1 << 32, h)
    # §7 rule 2: before the peer's hello, everything is refused with invalid_state (with the frame's session).
    c.send({"type": "ping", "id": 1})
    e, _ = c.expect(of("error"), "error")
    check("§7.2 ping before hello: invalid_state", (e["code"], e.get("session")) == ("invalid_state", None), e)
    c.send({"type": "exec", "session": 900, "argv": ["true"]})
    e, _ = c.expect(of("error"), "error")
    check("§7.2 exec before hello: invalid_state with session", (e["code"], e.get("session")) == ("invalid_state", 900), e)
    c.send(c.hello())
    seen = c.sync()
    check("§7.2 a later hello opens the connection; the refused exec was not served", not seen, seen)
    c.send(c.hello(version=2, role="guest"))
    seen = c.sync()
    check("§7.5 second hello: invalid_state, connection stays", errors(seen) == [("invalid_state", None)], seen)
    c.send({"type": "sessions"})
    lst, _ = c.expect(of("sessions"), "sessions")
    check("§7.2 the exec before hello never ran", all(s["session"] != 900 for s in lst["sessions"]), lst)
    c.close()
    # §7.1: a client may send hello and more frames back to back.
    c = Conn(path, "host", read_hello=False)
    c.send({"type": "ping", "id": 5})
    h, _ = c.recv()
    p, _ = c.recv()
    check("§7.1 hello + ping back to back: hello, then pong", h["type"] == "hello" and p == {"type": "pong", "id": 5}, (h, p))
    c.close()
    # §7 rules 3 and 4: version before role, both close the connection.
    for over, code, name in [({"version": 2}, "unsupported_version", "version 2"),
                             ({"version": 2, "role": "guest"}, "unsupported_version", "version 2 + wrong role"),
                             ({"role": "guest"}, "invalid_state", "role guest"),
                             ({"role": "client"}, "invalid_state", "role client"),
                             ({"role": "supervisor"}, "invalid_state", "role supervisor"),
                             ({"role": "nobody"}, "invalid_state", "unknown role")]:
        c = Conn(path, "host", send_hello=False)
        c.send(c.hello(**over))
        e, _ = c.expect(of("error"), "error")
        check(f"§7.3/4 hello with {name}: {code}, then closed", e["code"] == code and c.expect_eof(), e)
        c.close()


BAD_FRAMES = [  # (what, header bytes, payload, code, session): §2 strict JSON, §3 table
    ("leading zero", b'{"id":01,"type":"ping"}', b"", "malformed_header", None),
    ("duplicate key", b'{"id":1,"id":2,"type":"ping"}', b"", "malformed_header", None),
    ("duplicate key after unescaping", b'{"\\u0069d":1,"id":2,"type":"ping"}', b"", "malformed_header", None),
    ("nested duplicate key", b'{"id":1,"type":"ping","x":{"a":1,"a":2}}', b"", "malformed_header", None),
    ("byte-order mark", b'\xef\xbb\xbf{"id":1,"type":"ping"}', b"", "malformed_header", None),
    ("trailing comma", b'{"id":1,"type":"ping",}', b"", "malformed_header", None),
    ("single quotes", b"{'id':1,'type':'ping'}", b"", "malformed_header", None),
    ("bytes after the object", b'{"id":1,"type":"ping"} x', b"", "malformed_header", None),
    ("NaN", b'{"id":NaN,"type":"ping"}', b"", "malformed_header", None),
    ("+1", b'{"id":+1,"type":"ping"}', b"", "malformed_header", None),
    ("lone surrogate", b'{"id":1,"type":"ping","s":"\\ud800"}', b"", "malformed_header", None),
    ("overlong UTF-8", b'{"id":1,"type":"ping","s":"\xc0\xaf"}', b"", "malformed_header", None),
    ("raw control character", b'{"id":1,"type":"ping","s":"a\x01"}', b"", "malformed_header", None),
    ("nesting > 64", b'{"id":1,"type":"ping","x":' + b"[" * 70 + b"]" * 70 + b"}", b"", "malformed_header", None),
    ("H = 0", b"", b"", "malformed_header", None),
    ("not an object", b"[1]", b"", "malformed_header", None),
    ("type missing", b'{"id":1}', b"", "malformed_header", None),
    ("type not a string", b'{"type":5}', b"", "malformed_header", None),
    ("fraction", b'{"id":1.5,"type":"ping"}', b"", "invalid_message", None),
    ("integral fraction", b'{"id":2.0,"type":"ping"}', b"", "invalid_message", None),
    ("exponent", b'{"id":1e2,"type":"ping"}', b"", "invalid_message", None),
    ("negative uint64", b'{"id":-1,"type":"ping"}', b"", "invalid_message", None),
    ("uint64 overflow", b'{"id":18446744073709551616,"type":"ping"}', b"", "invalid_message", None),
    ("required field missing", b'{"type":"ping"}', b"", "invalid_message", None),
    ("wrong JSON type", b'{"id":"1","type":"ping"}', b"", "invalid_message", None),
    ("session 3.0 is not a session", b'{"session":3.0,"signal":15,"type":"signal"}', b"", "invalid_message", None),
    ("payload on ping", b'{"id":1,"type":"ping"}', b"x", "invalid_message", None),
    ("unknown type with session", b'{"session":3,"type":"frobnicate"}', b"", "unknown_message", 3),
    ("unknown type", b'{"type":"frobnicate"}', b"", "unknown_message", None),
    ("stdout is G->H", b'{"session":1,"type":"stdout"}', b"", "invalid_message", 1),
    ("started is G->H", b'{"pid":3,"session":2,"type":"started"}', b"", "invalid_message", 2),
    ("network_applied is G->H", b'{"type":"network_applied"}', b"", "invalid_message", None),
    ("container_ready is G->H", b'{"type":"container_ready"}', b"", "invalid_message", None),
    ("container without root", b'{"hostname":"c1","type":"container"}', b"", "invalid_message", None),
    ("exec: oom_score_adj 1001", b'{"argv":["true"],"oom_score_adj":1001,"session":4,"type":"exec"}', b"",
     "invalid_message", 4),
    ("shutdown mode", b'{"mode":"halt","type":"shutdown"}', b"", "invalid_message", None),
    ("set_time with a string", b'{"type":"set_time","unix_ns":"1"}', b"", "invalid_message", None),
    ("network: bad address", b'{"interfaces":[{"addresses":["10.0.0.300/24"],"name":"cf0"}],"type":"network"}',
     b"", "invalid_message", None),
    ("network: MTU 20", b'{"interfaces":[{"mtu":20,"name":"cf0"}],"type":"network"}', b"", "invalid_message", None),
    ("set_time the kernel refuses", b'{"type":"set_time","unix_ns":-1}', b"", "internal", None),
    ("unknown session", b'{"session":999,"signal":15,"type":"signal"}', b"", "unknown_session", 999),
    ("signal 99 to an unknown session: the session first", b'{"session":999,"signal":99,"type":"signal"}', b"",
     "unknown_session", 999),
    ("stdin for an unknown session", b'{"session":999,"type":"stdin"}', b"ab", "unknown_session", 999),
    ("window for an unknown session", b'{"bytes":1,"session":999,"type":"window"}', b"", "unknown_session", 999),
    ("exit_ack for an unknown session", b'{"session":999,"type":"exit_ack"}', b"", "unknown_session", 999),
    ("attach an unknown session", b'{"session":999,"type":"attach"}', b"", "unknown_session", 999),
]

GOOD_FRAMES = [  # (what, header bytes, the pong id): receivers accept any valid JSON (§2, §9)
    ("whitespace and escapes", b' { "type" : "p\\u0069ng" , "id" : 78 } ', 78),
    ("fraction in an unknown field", b'{"id":77,"type":"ping","zz":1.5}', 77),
    ("null optional field", b'{"extra":null,"id":76,"type":"ping"}', 76),
    ("-0", b'{"id":-0,"type":"ping"}', 0),
    ("2^53+1 exactly", b'{"id":9007199254740993,"type":"ping"}', 9007199254740993),
]


def g_framing(path, role="host", frames=BAD_FRAMES):
    c = Conn(path, role)
    for what, raw, payload, code, session in frames:
        c.send_raw(raw, payload)
        seen = c.sync()
        check(f"§2/§3 {what}: {code}" + (f" session {session}" if session is not None else ""),
              errors(seen) == [(code, session)], [h for h, _ in seen])
    for what, raw, pong in GOOD_FRAMES:
        c.send_raw(raw)
        seen = []
        h, _ = c.expect(lambda h, p: h["type"] == "pong" or h["type"] == "error", "pong", seen=seen)
        check(f"§2 accepted: {what}", h == {"type": "pong", "id": pong}, h)
    # §3: oversized frames are skipped by length, never stored, and the connection stays.
    c.send_raw(b"x" * 65537)
    seen = c.sync()
    check("§3 header > max_header: frame_too_large", errors(seen) == [("frame_too_large", None)], seen)
    c.send_raw(b'{"session":1,"type":"stdin"}', b"y" * ((1 << 20) + 1))
    seen = c.sync()
    check("§3 payload > max_payload: frame_too_large", errors(seen) == [("frame_too_large", None)], seen)
    c.close()


def g_exec(path):
    c = Conn(path, "host")
    end, out, err, frames = run_session(c, 1, ["sh", "-c", "printf hello; printf err >&2; exit 3"])
    started = [h for h, _ in frames if h["type"] == "started"]
    check("§4.3 started with a pid, before any output", frames[0][0]["type"] == "started"
          and isinstance(started[0].get("pid"), int), frames[:2])
    check("§4.7/4.8 stdout and stderr payloads", (out, err) == (b"hello", b"err"), (out, err))
    check("§4.12 exit code 3 after all output", end["type"] == "exit" and status_ok(end, code=3), end)
    c.send({"type": "exit_ack", "session": 1})
    check("§4.13 exit_ack accepted", not errors(c.sync()))
    c.send({"type": "exit_ack", "session": 1})
    check("§6 acknowledged session is gone: unknown_session", errors(c.sync()) == [("unknown_session", 1)])
    end, out, _, _ = run_session(c, 1, ["sh", "-c", 'printf "%s|%s|%s" "$HOME" "$PWD" "$PATH"'])
    check("§4.2 id reusable after exit_ack; default HOME, cwd and PATH",
          out == b"/|/|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" and status_ok(end, code=0), out)
    c.send({"type": "exit_ack", "session": 1})
    # Live session: session_exists, signal range, exit_ack before exit, signal delivery.
    c.send({"type": "exec", "session": 2, "argv": ["sleep", "30"]})
    c.expect(of("started", 2), "started")
    c.send({"type": "exec", "session": 2, "argv": ["true"]})
    check("§4.2 exec with a live id: session_exists", errors(c.sync()) == [("session_exists", 2)])
    c.send({"type": "signal", "session": 2, "signal": 65})
    check("§4.10 signal 65: invalid_message", errors(c.sync()) == [("invalid_message", 2)])
    c.send({"type": "exit_ack", "session": 2})
    check("§4.13 exit_ack before exit: invalid_state", errors(c.sync()) == [("invalid_state", 2)])
    c.send({"type": "resize", "session": 2, "rows": 10, "cols": 10})
    check("§4.11 resize without a tty is ignored", not errors(c.sync()))
    c.send({"type": "signal", "session": 2, "signal": 15})
    end, _ = c.expect(of("exit", 2), "exit")
    check("§4.10 signal 15 ends the process: exit signal 15, status 143", status_ok(end, signal=15), end)
    c.send({"type": "signal", "session": 2, "signal": 15})
    check("§4.10 signal after exit is ignored", not errors(c.sync()))
    c.send({"type": "exit_ack", "session": 2})
    end, _, _, _ = run_session(c, 3, ["sleep", "30"], timeout_ms=200)
    check("§4.2 timeout_ms: SIGKILL", end["type"] == "exit" and status_ok(end, signal=9), end)
    c.send({"type": "exit_ack", "session": 3})
    for sid, argv, extra, stage, errno in [(4, ["/nonexistent/prog"], {}, "exec", 2), (5, [], {}, "validate", 22),
                                           (6, [""], {}, "validate", 22),
                                           (7, ["true"], {"tty": {"rows": 0, "cols": 80}}, "validate", 22),
                                           (8, ["true"], {"user": "no-such-user-conformance"}, "user", 0)]:
        end, _, _, _ = run_session(c, sid, argv, **extra)
        check(f"§4.4 start_failed stage {stage} errno {errno} ({argv}, {extra})", end["type"] == "start_failed"
              and (end.get("stage"), end.get("errno")) == (stage, errno) and isinstance(end.get("message"), str), end)
        c.send({"type": "exit_ack", "session": sid})
        check(f"§4.4 after start_failed the id is free (session {sid})", errors(c.sync()) == [("unknown_session", sid)])
    c.close()


def g_stdin(path):
    w = 65536
    c = Conn(path, "host", window=w)
    gw = c.peer_hello["window"]
    chunk = min(32768, c.peer_max_payload)
    c.send({"type": "exec", "session": 10, "argv": ["cat"], "stdin": True})
    total = gw // 2 + 4 * chunk  # enough for the guest to return stdin credit (§5.3 batching)
    data = bytes(i % 251 for i in range(total))
    credit, sent, out, granted_back, consumed, violation = gw, 0, b"", 0, 0, None
    out_credit = w
    end = None
    while end is None:
        while sent < total and credit > 0:
            n = min(chunk, credit, total - sent)
            c.send({"type": "stdin", "session": 10}, data[sent:sent + n])
            sent += n; credit -= n
            if sent == total:
                c.send({"type": "stdin_close", "session": 10})
        h, p = c.expect(lambda h, p: h.get("session") == 10, "session 10")
        if h["type"] == "window":
            credit += h["bytes"]; granted_back += h["bytes"]
        elif h["type"] == "stdout":
            if len(p) > out_credit:
                violation = (len(p), out_credit)
            out_credit -= len(p); out += p; consumed += len(p)
            if consumed >= w // 2:  # §5.3: grant what was consumed
                c.send({"type": "window", "session": 10, "bytes": consumed}); out_credit += consumed; consumed = 0
        elif h["type"] in ("exit", "error", "start_failed"):
            end = h
    check("§5.3 guest returned stdin credit with window", granted_back > 0, granted_back)
    check("§5.2 guest never sent beyond our output credit", violation is None, violation)
    check("§4.5/4.6 stdin echoed in order, stdin_close is EOF", out == data and status_ok(end, code=0), (len(out), end))
    c.send({"type": "exit_ack", "session": 10})
    c.send({"type": "exec", "session": 11, "argv": ["sleep", "30"], "stdin": True})
    c.send({"type": "stdin_close", "session": 11})
    c.send({"type": "stdin", "session": 11}, b"late")
    check("§4.5 stdin after stdin_close: invalid_state", errors(c.sync()) == [("invalid_state", 11)])
    c.send({"type": "window", "session": 11, "bytes": 0xFFFFFFFF})
    check("§5.2 grant beyond 4 GiB: flow_control_violation", errors(c.sync()) == [("flow_control_violation", 11)])
    c.send({"type": "exec", "session": 12, "argv": ["sleep", "30"]})
    c.send({"type": "stdin", "session": 12}, b"x")
    check("§4.5 stdin without \"stdin\": true: invalid_state", errors(c.sync()) == [("invalid_state", 12)])
    c.send({"type": "exec", "session": 13, "argv": ["sleep", "30"], "stdin": True})
    left = gw
    while left:
        n = min(left, c.peer_max_payload)
        c.send({"type": "stdin", "session": 13}, b"z" * n)
        left -= n
    c.send({"type": "stdin", "session": 13}, b"!")
    seen = c.sync()
    check("§5.3 stdin beyond the credit: flow_control_violation", ("flow_control_violation", 13) in errors(seen)
          and all(e == ("flow_control_violation", 13) for e in errors(seen)), seen)
    for sid in (11, 12, 13):
        c.send({"type": "signal", "session": sid, "signal": 9})
        c.expect(of("exit", sid), "exit")
        c.send({"type": "exit_ack", "session": sid})
    c.close()


def g_tty(path):
    c = Conn(path, "host")
    c.send({"type": "exec", "session": 20, "argv": ["sh", "-c", 'echo "T=$TERM"; stty size; read x; stty size'],
            "tty": {"rows": 24, "cols": 80}, "stdin": True})
    out, seen = b"", []
    while b"24 80" not in out:
        h, p = c.expect(lambda h, p: h.get("session") == 20 and h["type"] in ("stdout", "stderr", "exit"), "out")
        if h["type"] != "stdout":
            break
        out += p
    check("§4.2 tty: size applied before exec, TERM=xterm-256color", b"24 80" in out and b"T=xterm-256color" in out, out)
    c.send({"type": "resize", "session": 20, "rows": 50, "cols": 132})
    c.send({"type": "stdin", "session": 20}, b"\n")
    end, out2, err, _ = None, b"", b"", None
    while True:
        h, p = c.expect(lambda h, p: h.get("session") == 20, "session 20", seen=seen)
        if h["type"] == "stdout": out2 += p
        if h["type"] == "stderr": err += p
        if h["type"] == "exit": end = h; break
    check("§4.11 resize applied", b"50 132" in out2 and status_ok(end, code=0), out2)
    check("§4.8 no stderr frames with a tty", err == b"", err)
    c.send({"type": "exit_ack", "session": 20})
    c.close()


def listed(c):
    c.send({"type": "sessions"})
    h, _ = c.expect(of("sessions"), "sessions")
    return {s["session"]: s for s in h["sessions"]}


def g_reattach(path):
    a = Conn(path, "host")
    # 30 prints only after `a` is gone: 1.5 s leaves room for 31's run and the reconnect on a slow host (with 0.5 s,
    # a host slow enough would deliver "late" to `a`, which drops frames while it waits for 31's exit).
    a.send({"type": "exec", "session": 30, "argv": ["sh", "-c", "sleep 1.5; printf late; exit 7"]})
    a.expect(of("started", 30), "started")
    a.send({"type": "exec", "session": 31, "argv": ["sh", "-c", "exit 5"]})
    a.expect(of("exit", 31), "exit")
    a.close()  # §7.3: sessions keep running, detached; 31's exit is retained (no exit_ack)
    b = Conn(path, "host")
    s = listed(b)
    check("§4.15 sessions after reconnect: running, detached", s.get(30, {}).get("state") == "running"
          and s[30].get("attached") is False and s[30].get("argv0") == "sh" and isinstance(s[30].get("pid"), int), s)
    check("§4.15 retained exit listed as exited, without status", s.get(31, {}).get("state") == "exited"
          and s[31].get("exit", {}).get("code") == 5 and "status" not in s[31]["exit"], s)
    b.send({"type": "attach", "session": 30})
    end, out, _, _ = None, b"", None, None
    while end is None:
        h, p = b.expect(lambda h, p: h.get("session") == 30, "session 30")
        if h["type"] == "stdout": out += p
        if h["type"] == "exit": end = h
    check("§7.3 attach: output buffered while detached, then exit", out == b"late" and status_ok(end, code=7), (out, end))
    check("§4.15 attached is true for the asking connection", listed(b).get(30, {}).get("attached") is True)
    b.send({"type": "attach", "session": 31})
    end, _ = b.expect(of("exit", 31), "exit")
    check("§4.12 retained exit re-sent on attach", status_ok(end, code=5), end)
    b.send({"type": "exit_ack", "session": 30})
    b.send({"type": "exit_ack", "session": 31})
    s = listed(b)
    check("§6 acknowledged sessions leave the list", 30 not in s and 31 not in s, s)
    b.close()


def g_two_connections(path):
    a, b = Conn(path, "host"), Conn(path, "host")
    a.send({"type": "exec", "session": 40, "argv": ["sleep", "30"]})
    a.expect(of("started", 40), "started")
    b.send({"type": "exec", "session": 40, "argv": ["true"]})
    check("§7.2 ids are global: session_exists from another connection", errors(b.sync()) == [("session_exists", 40)])
    end, out, _, _ = run_session(b, 41, ["printf", "B"])
    check("§7.2 second connection runs its own session", out == b"B" and status_ok(end, code=0), (out, end))
    b.send({"type": "exit_ack", "session": 41})
    check("§7.2 the other connection hears nothing of it", not [h for h, _ in a.sync() if h.get("session") == 41])
    s = listed(b)
    check("§4.15 attached is false for another connection's session", s.get(40, {}).get("attached") is False, s)
    b.send({"type": "attach", "session": 40})
    b.sync()
    a.send({"type": "signal", "session": 40, "signal": 15})  # §7.2: frames about a session from any connection
    end, _ = b.expect(of("exit", 40), "exit")
    check("§7.2 attach moves the session; signal served from the old connection", status_ok(end, signal=15), end)
    check("§7.2 the old connection gets nothing more about it", not [h for h, _ in a.sync() if h.get("session") == 40])
    b.send({"type": "exit_ack", "session": 40})
    a.close(); b.close()


def g_shutdown(path):
    c = Conn(path, "host")
    c.send({"type": "exec", "session": 50, "argv": ["sleep", "30"]})
    c.expect(of("started", 50), "started")
    c.send({"type": "shutdown", "mode": "poweroff", "grace_ms": 300})
    c.send({"type": "exec", "session": 51, "argv": ["true"]})
    seen = []  # session 50's exit may come first: the refusal is not ordered against it
    end, _ = c.expect(of("start_failed", 51), "start_failed", seen=seen)
    check("§4.19 exec after shutdown: start_failed validate errno 0", (end.get("stage"), end.get("errno")) == ("validate", 0), end)
    early = [h for h, p in seen if of("exit", 50)(h, p)]
    end = early[0] if early else c.expect(of("exit", 50), "exit")[0]
    check("§4.19 shutdown: SIGTERM to every process, exit sent", status_ok(end, signal=15), end)
    c.send({"type": "exit_ack", "session": 50})
    check("§4.19 the connection closes as the VM stops", c.expect_eof(20))
