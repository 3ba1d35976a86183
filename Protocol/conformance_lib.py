"""Framework of conformance.py: strict frame decoding, checks, helpers (PROTOCOL.md §2, §3, §5)."""
import json, socket, struct, sys, time

DEFAULT_LIMITS = {"max_header": 65536, "max_payload": 1 << 20}
CEILING = 16 << 20
TIMEOUT = 15.0
results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f"  -- {detail}"), flush=True)
    return bool(cond)


class Closed(Exception):
    pass


def _strict_pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def _no_float(text):
    raise ValueError(f"number with fraction or exponent: {text}")


def _no_constant(text):
    raise ValueError(f"not JSON: {text}")


def strict_loads(raw):
    """§2 strict JSON: duplicate keys, fractions, exponents and NaN refused (Python's json accepts them)."""
    text = raw.decode("utf-8")
    if text.startswith("\ufeff"):
        raise ValueError("byte-order mark")
    return json.loads(text, object_pairs_hook=_strict_pairs, parse_float=_no_float, parse_constant=_no_constant)


def canonical(header):
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class Conn:
    """One connection: strict frame decoding, every received header checked for strict, canonical JSON."""

    def __init__(self, path, role, send_hello=True, read_hello=True, window=1 << 20, limits=DEFAULT_LIMITS):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.buf = b""
        self.role = role
        self.window = window
        self.limits = limits
        self.peer_hello = None
        self.ping_id = 1000
        if send_hello:
            self.send(self.hello())
        if read_hello:
            h, _ = self.recv()
            self.peer_hello = h if h["type"] == "hello" else None
            if self.peer_hello is None:
                raise AssertionError(f"first frame is not hello: {h}")

    def hello(self, **over):
        h = {"type": "hello", "version": 1, "role": self.role, "capabilities": [], "limits": self.limits,
             "window": self.window}
        h.update(over)
        return h

    @property
    def peer_max_payload(self):
        return (self.peer_hello or {}).get("limits", DEFAULT_LIMITS)["max_payload"]

    def send(self, header, payload=b""):
        self.send_raw(canonical(header), payload)

    def send_raw(self, header_bytes, payload=b"", hlen=None, plen=None):
        hlen = len(header_bytes) if hlen is None else hlen
        plen = len(payload) if plen is None else plen
        self.sock.sendall(struct.pack(">II", hlen, plen) + header_bytes + payload)

    def recv(self, timeout=TIMEOUT):
        """The next frame (header dict, payload). Raises Closed on EOF, AssertionError on a bad frame."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 8:
                hlen, plen = struct.unpack(">II", self.buf[:8])
                if hlen > self.limits["max_header"] or plen > self.limits["max_payload"]:
                    raise AssertionError(f"peer sent a frame beyond our limits: H={hlen} P={plen}")
                if len(self.buf) >= 8 + hlen + plen:
                    raw, payload = self.buf[8:8 + hlen], self.buf[8 + hlen:8 + hlen + plen]
                    self.buf = self.buf[8 + hlen + plen:]
                    try:
                        header = strict_loads(raw)
                    except ValueError as e:
                        raise AssertionError(f"peer sent a non-strict header {raw[:200]!r}: {e}")
                    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
                        raise AssertionError(f"peer header without a string type: {raw[:200]!r}")
                    if canonical(header) != raw:
                        raise AssertionError(f"peer header not canonical (§2): {raw[:200]!r}")
                    if plen and header["type"] not in ("stdin", "stdout", "stderr"):
                        raise AssertionError(f"payload on {header['type']}")
                    return header, payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no frame within {timeout} s")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                continue
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Closed()
            self.buf += chunk

    def expect(self, pred, what, timeout=TIMEOUT, seen=None):
        """Frames until one matches `pred`; the others go to `seen`. Answers pings (§7.4)."""
        deadline = time.monotonic() + timeout
        while True:
            h, p = self.recv(max(0.01, deadline - time.monotonic()))
            if pred(h, p):
                return h, p
            if h["type"] == "ping":
                self.send({"type": "pong", "id": h["id"]})
            if seen is not None:
                seen.append((h, p))

    def sync(self):
        """Sends a ping and returns every frame received before its pong: all sent before it was handled."""
        self.ping_id += 1
        pid = self.ping_id
        self.send({"type": "ping", "id": pid})
        seen = []
        self.expect(lambda h, p: h["type"] == "pong" and h.get("id") == pid, "pong", seen=seen)
        return seen

    def expect_eof(self, timeout=TIMEOUT):
        try:
            while True:
                self.recv(timeout)
        except Closed:
            return True
        except TimeoutError:
            return False

    def close(self):
        self.sock.close()


def errors(frames):
    return [(h["code"], h.get("session")) for h, _ in frames if h["type"] == "error"]


def of(t, session=None):
    return lambda h, p: h["type"] == t and (session is None or h.get("session") == session)


def run_session(c, session, argv, **fields):
    """exec, then everything up to `exit` (or `start_failed`); returns (first, stdout, stderr, frames)."""
    c.send(dict({"type": "exec", "session": session, "argv": argv}, **fields))
    out, err, frames = b"", b"", []
    while True:
        h, p = c.expect(lambda h, p: h.get("session") == session, f"session {session}")
        frames.append((h, p))
        if h["type"] == "stdout":
            out += p
        elif h["type"] == "stderr":
            err += p
        if p:  # §5.3: the output was consumed; give the credit back
            c.send({"type": "window", "session": session, "bytes": len(p)})
        if h["type"] in ("exit", "start_failed", "error"):
            return h, out, err, frames


def section(name, fn, *args):
    try:
        fn(*args)
    except Exception as e:  # a section that breaks is one failure; the next ones still run
        check(f"{name}: completed", False, f"{type(e).__name__}: {e}")


def status_ok(h, code=None, signal=None):
    flags = all(h.get(k) is False for k in ("core_dumped", "oom_killed", "output_truncated"))
    want = code if code is not None else 128 + signal
    return flags and h.get("code") == code and h.get("signal") == signal and h.get("status") == want
