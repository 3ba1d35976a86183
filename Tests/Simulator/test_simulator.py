"""Tests of the Firecracker simulator itself (run: `python3 -m pytest -q Tests/Simulator`)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "firecracker-sim")
FAKE_GUEST = os.path.join(HERE, "fake-guest")
FIRST_HOST_PORT = 1073741824


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


class Response:
    def __init__(self, status_line, headers, body):
        self.status_line = status_line
        self.status = int(status_line.split(" ")[1])
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class ApiConn:
    """A minimal keep-alive HTTP/1.1 client over the API Unix socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, method, path, body=None, extra_headers=""):
        data = b""
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = "%s %s HTTP/1.1\r\nHost: localhost\r\n%s" % (method, path, extra_headers)
        if body is not None:
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
        self.sock.sendall(head.encode() + b"\r\n" + data)
        return self.read_response()

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed in body")
            self.buf += chunk
        body, self.buf = self.buf[:n], self.buf[n:]
        return Response(lines[0], headers, body)


class Sim:
    def __init__(self, tmp, extra_args=(), env=None, guest=True):
        self.tmp = tmp
        self.api = os.path.join(tmp, "api.sock")
        self.vsock = os.path.join(tmp, "v.sock")
        self.kernel = os.path.join(tmp, "vmlinux")
        self.rootfs = os.path.join(tmp, "rootfs.ext4")
        self.reqlog = os.path.join(tmp, "requests.jsonl")
        self.guest_dir = os.path.join(tmp, "g")
        self.out = open(os.path.join(tmp, "stdout"), "wb")
        self.err = open(os.path.join(tmp, "stderr"), "wb")
        for p in (self.kernel, self.rootfs):
            with open(p, "wb") as f:
                f.write(b"\0" * 4096)
        e = dict(os.environ)
        e.update({"FCSIM_REQUEST_LOG": self.reqlog, "FCSIM_GUEST_DIR": self.guest_dir})
        for k in ("FCSIM_GUEST_INIT", "FCSIM_GUEST_DELAY_MS", "FCSIM_GUEST_NEVER"):
            e.pop(k, None)
        if guest:
            e["FCSIM_GUEST_INIT"] = FAKE_GUEST
        e.update(env or {})
        self.proc = subprocess.Popen([SIM, "--api-sock", self.api, "--id", "sim-test", *extra_args],
                                     stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err, env=e)
        wait_for(lambda: os.path.exists(self.api) or self.proc.poll() is not None, what="API socket")
        assert self.proc.poll() is None, self.stderr()
        # The socket file exists between bind() and listen(): retry on ECONNREFUSED, as clients must.
        self.conn = wait_for(self._try_connect, what="API connection")

    def _try_connect(self):
        try:
            return ApiConn(self.api)
        except ConnectionRefusedError:
            return None

    def stdout(self):
        with open(os.path.join(self.tmp, "stdout"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(os.path.join(self.tmp, "stderr"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def put(self, path, body):
        return self.conn.request("PUT", path, body)

    def configure(self, boot_args="console=ttyS0 reboot=k panic=1"):
        assert self.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 2048}).status == 204
        assert self.put("/boot-source", {"kernel_image_path": self.kernel, "boot_args": boot_args}).status == 204
        assert self.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": self.rootfs,
                                           "is_root_device": True, "is_read_only": False}).status == 204
        assert self.put("/vsock", {"guest_cid": 3, "uds_path": self.vsock}).status == 204

    def start(self, **kw):
        self.configure(**kw)
        r = self.put("/actions", {"action_type": "InstanceStart"})
        assert r.status == 204, r.body
        return r

    def wait_guest(self):
        wait_for(lambda: os.path.exists(os.path.join(self.guest_dir, "guest.sock")), what="guest listener")

    def vsock_connect(self, line=b"CONNECT 1024\n"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.vsock)
        s.sendall(line)
        return s

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.conn.close()
        self.out.close()
        self.err.close()


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="fcs", dir="/var/tmp")  # short: sun_path is 108 bytes
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def sim(tmp):
    s = Sim(tmp)
    yield s
    s.stop()


def run_sim(args, timeout=10):
    return subprocess.run([SIM, *args], capture_output=True, text=True, timeout=timeout)


def read_line(s):
    data = b""
    while not data.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        data += b
    return data


def recv_exact(s, n):
    data = bytearray()
    while len(data) < n:
        chunk = s.recv(min(1 << 20, n - len(data)))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def guest_processes(guest_dir):
    """Live (non-zombie) processes whose command line mentions guest_dir (the guest's --listen path)."""
    found = []
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % ent, "rb") as f:
                cmd = f.read().decode("utf-8", "replace")
            with open("/proc/%s/stat" % ent) as f:
                state = f.read().rsplit(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if guest_dir in cmd and state != "Z":
            found.append((int(ent), cmd))
    return found


def is_eof_or_reset(s):
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


# ---- command line -------------------------------------------------------------------------------


def test_existing_api_socket_path_exits_1_and_is_not_unlinked(tmp):
    path = os.path.join(tmp, "api.sock")
    with open(path, "w") as f:
        f.write("stale")
    r = run_sim(["--api-sock", path])
    assert r.returncode == 1
    assert "Failed to open the API socket at: %s" % path in r.stderr
    with open(path) as f:
        assert f.read() == "stale"


def test_missing_parent_directory_exits_1(tmp):
    assert run_sim(["--api-sock", os.path.join(tmp, "nope", "api.sock")]).returncode == 1


def test_duplicate_and_unknown_arguments_exit_153(tmp):
    api = os.path.join(tmp, "a.sock")
    assert run_sim(["--api-sock", api, "--id", "a", "--id", "b"]).returncode == 153
    assert run_sim(["--api-sock", api, "--frobnicate"]).returncode == 153
    assert run_sim(["--api-sock", api, "--no-api"]).returncode == 153  # requires --config-file
    assert not os.path.exists(api)


def test_invalid_instance_id_exits_1(tmp):
    api = os.path.join(tmp, "a.sock")
    for bad in ("has_underscore", "x" * 65, ""):
        r = run_sim(["--api-sock", api, "--id", bad])
        assert r.returncode == 1, bad
        assert "Invalid instance ID" in r.stderr
    assert not os.path.exists(api)


def test_version_flag():
    r = run_sim(["--version"])
    assert r.returncode == 0 and "1.16.1" in r.stdout


# ---- HTTP transport -----------------------------------------------------------------------------


def test_204_has_no_reason_phrase_no_body_and_no_content_length(sim):
    sim.conn.send_raw(b'PUT /machine-config HTTP/1.1\r\nContent-Length: 38\r\n\r\n'
                      b'{"vcpu_count": 1, "mem_size_mib": 128}')
    raw = b""
    while b"\r\n\r\n" not in raw:
        raw += sim.conn.sock.recv(4096)
    assert raw.startswith(b"HTTP/1.1 204 \r\n")
    assert b"content-length" not in raw.lower()
    assert raw.endswith(b"\r\n\r\n")
    # keep-alive: the same connection still works and GET has a body with Content-Length
    r = sim.conn.request("GET", "/machine-config")
    assert r.status_line == "HTTP/1.1 200 "
    assert r.headers["content-type"] == "application/json"
    assert r.json()["vcpu_count"] == 1


def test_chunked_put_is_an_empty_put(sim):
    sim.conn.send_raw(b"PUT /machine-config HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    r = sim.conn.read_response()
    assert r.status == 400
    assert r.json()["fault_message"] == "Empty PUT request."


def test_get_with_body_and_empty_put_and_unknown_path(sim):
    r = sim.conn.request("GET", "/machine-config", {"vcpu_count": 1})
    assert r.status == 400 and "GET request cannot have a body" in r.json()["fault_message"]
    r = sim.conn.request("PATCH", "/machine-config", b"")
    assert r.status == 400 and r.json()["fault_message"] == "Empty PATCH request."
    r = sim.conn.request("PUT", "/vm", {"state": "Paused"})
    assert r.status == 400
    assert r.json()["fault_message"].startswith("Invalid request method and/or path: PUT vm")


def test_payload_over_limit_is_a_parse_error_and_closes(sim):
    # Only the head is sent: the server answers as soon as it sees the declared length.
    sim.conn.send_raw(b"PUT /mmds HTTP/1.1\r\nContent-Length: 60000\r\n\r\n{")
    r = sim.conn.read_response()
    assert r.status == 400
    assert b"All previous unanswered requests will be dropped." in r.body
    with pytest.raises(EOFError):
        sim.conn.read_response()


def test_eleventh_connection_gets_503(sim):
    conns = [sim.conn] + [ApiConn(sim.api) for _ in range(9)]
    for c in conns:
        assert c.request("GET", "/").status == 200
    extra = ApiConn(sim.api)
    r = extra.read_response()
    assert r.status == 503 and b"Too many open connections" in r.body
    conns[1].close()
    wait_for(lambda: _get_ok(sim.api), what="slot freed")
    for c in conns[2:]:
        c.close()


def _get_ok(path):
    c = ApiConn(path)
    try:
        return c.request("GET", "/").status == 200
    except (EOFError, OSError):
        return False
    finally:
        c.close()


# ---- spec and semantic validation ---------------------------------------------------------------


def test_missing_required_field(sim):
    r = sim.put("/machine-config", {"vcpu_count": 2})
    assert r.status == 400
    assert "missing field `mem_size_mib`" in r.json()["fault_message"]


def test_unknown_field_rejected_and_null_optional_accepted(sim):
    r = sim.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 512, "bogus": 1})
    assert r.status == 400
    msg = r.json()["fault_message"]
    assert msg.startswith("An error occurred when deserializing the json body of a request: unknown field `bogus`")
    assert sim.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 512, "smt": None}).status == 204
    # nested objects are validated too
    r = sim.put("/drives/d1", {"drive_id": "d1", "path_on_host": sim.rootfs, "is_root_device": False,
                               "is_read_only": True, "rate_limiter": {"bandwidth": {"size": 1}}})
    assert r.status == 400 and "missing field `refill_time`" in r.json()["fault_message"]


def test_types_enums_and_ranges(sim):
    assert sim.put("/machine-config", {"vcpu_count": "2", "mem_size_mib": 512}).status == 400
    assert sim.put("/machine-config", {"vcpu_count": 33, "mem_size_mib": 512}).status == 400
    assert sim.put("/machine-config", {"vcpu_count": 0, "mem_size_mib": 512}).status == 400
    assert sim.put("/machine-config", {"vcpu_count": 3, "mem_size_mib": 512, "smt": True}).status == 400
    r = sim.put("/actions", {"action_type": "Reboot"})
    assert r.status == 400 and "unknown variant `Reboot`" in r.json()["fault_message"]
    assert sim.put("/logger", {"level": "debug", "log_path": os.path.join(sim.tmp, "fc.log")}).status == 204
    assert sim.put("/logger", {"level": "Loud"}).status == 400


def test_boot_source_rules(sim):
    r = sim.put("/boot-source", {"kernel_image_path": os.path.join(sim.tmp, "missing")})
    assert r.status == 400 and "kernel" in r.json()["fault_message"]
    r = sim.put("/boot-source", {"kernel_image_path": sim.kernel, "initrd_path": os.path.join(sim.tmp, "x")})
    assert r.status == 400
    assert sim.put("/boot-source", {"kernel_image_path": sim.kernel, "boot_args": "a" * 2049}).status == 400
    assert sim.put("/boot-source", {"kernel_image_path": sim.kernel, "boot_args": "a" * 2048}).status == 204


def test_drive_rules(sim):
    ok = {"drive_id": "rootfs", "path_on_host": sim.rootfs, "is_root_device": True, "is_read_only": False}
    r = sim.put("/drives/root-fs", dict(ok, drive_id="root-fs"))
    assert r.json()["fault_message"] == ("API Resource IDs can only contain alphanumeric characters and "
                                         "underscores.")
    r = sim.put("/drives/other", ok)
    assert r.json()["fault_message"] == "The id from the path does not match the id from the body!"
    assert sim.put("/drives/rootfs", dict(ok, path_on_host=os.path.join(sim.tmp, "missing"))).status == 400
    assert sim.put("/drives/rootfs", ok).status == 204
    assert sim.put("/drives/rootfs", ok).status == 204  # updating the same drive is fine
    r = sim.put("/drives/second", dict(ok, drive_id="second"))
    assert r.status == 400 and "root block device already exists" in r.json()["fault_message"]
    assert sim.put("/drives/second", dict(ok, drive_id="second", is_root_device=False)).status == 204
    assert sim.put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "tap0",
                                                "guest_mac": "06:00:AC:10:00:02"}).status == 204
    assert sim.put("/network-interfaces/eth1", {"iface_id": "eth1", "host_dev_name": "t" * 16}).status == 400


def test_vsock_stale_path_is_rejected_and_not_unlinked(sim):
    with open(sim.vsock, "w") as f:
        f.write("stale")
    r = sim.put("/vsock", {"guest_cid": 3, "uds_path": sim.vsock})
    assert r.status == 400
    assert "Address in use" in r.json()["fault_message"]
    assert os.path.isfile(sim.vsock)
    os.unlink(sim.vsock)
    assert sim.put("/vsock", {"guest_cid": 3, "uds_path": sim.vsock}).status == 204
    assert os.path.exists(sim.vsock)  # bound at PUT time


def test_instance_start_rules_and_post_boot(sim):
    r = sim.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 400 and "kernel" in r.json()["fault_message"]
    r = sim.put("/actions", {"action_type": "SendCtrlAltDel"})
    assert r.json()["fault_message"] == "The requested operation is not supported before starting the microVM."
    sim.start()
    assert sim.conn.request("GET", "/").json() == {"id": "sim-test", "state": "Running", "vmm_version": "1.16.1",
                                                   "app_name": "Firecracker"}
    r = sim.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 400
    assert r.json()["fault_message"] == "The requested operation is not supported after starting the microVM."
    r = sim.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})
    assert r.status == 400
    assert r.json()["fault_message"] == "The requested operation is not supported after starting the microVM."
    assert sim.conn.request("PATCH", "/vm", {"state": "Paused"}).status == 204
    assert sim.conn.request("GET", "/").json()["state"] == "Paused"
    assert sim.conn.request("PATCH", "/vm", {"state": "Resumed"}).status == 204


def test_instance_start_without_guest_init_is_a_clear_400(tmp):
    s = Sim(tmp, guest=False)
    try:
        s.configure()
        r = s.put("/actions", {"action_type": "InstanceStart"})
        assert r.status == 400 and "FCSIM_GUEST_INIT" in r.json()["fault_message"]
    finally:
        s.stop()


def test_request_log_records_every_request(sim):
    sim.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 512})
    sim.put("/machine-config", {"vcpu_count": 2})
    with open(sim.reqlog) as f:
        entries = [json.loads(line) for line in f]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("PUT", "/machine-config", 204), ("PUT", "/machine-config", 400)]
    assert entries[0]["body"] == {"vcpu_count": 2, "mem_size_mib": 512}
    assert "missing field" in entries[1]["fault_message"]


def test_flush_metrics_writes_increments_since_the_previous_flush(sim):
    path = os.path.join(sim.tmp, "fc.metrics")
    r = sim.conn.request("PUT", "/actions", {"action_type": "FlushMetrics"})
    assert r.status == 400 and "not initialized" in r.json()["fault_message"]
    sim.put("/metrics", {"metrics_path": path})
    sim.put("/machine-config", {"vcpu_count": 2})  # a 400: an error
    sim.put("/actions", {"action_type": "FlushMetrics"})
    sim.put("/actions", {"action_type": "FlushMetrics"})
    with open(path) as f:
        lines = [json.loads(line) for line in f]
    # 4 requests (one failed) before the first flush line, then only the second FlushMetrics itself.
    assert [(x["api_server"]["requests"], x["api_server"]["errors"]) for x in lines] == [(4, 2), (1, 0)]


# ---- vsock and guest ----------------------------------------------------------------------------


def test_connect_without_guest_listener_gets_eof(tmp):
    s = Sim(tmp, env={"FCSIM_GUEST_NEVER": "1"})
    try:
        s.start()
        c = s.vsock_connect()
        assert is_eof_or_reset(c)
    finally:
        s.stop()


def test_connect_ok_echo_and_bytes_after_connect_are_forwarded(sim):
    sim.start()
    sim.wait_guest()
    c = sim.vsock_connect(b"CONNECT 1024\nearly bytes")
    assert read_line(c) == b"OK %d\n" % FIRST_HOST_PORT
    assert recv_exact(c, len(b"early bytes")) == b"early bytes"
    c.sendall(b"ping")
    assert recv_exact(c, 4) == b"ping"
    c2 = sim.vsock_connect(b"connect   1024\r\n")  # case-insensitive, whitespace separated
    assert read_line(c2) == b"OK %d\n" % (FIRST_HOST_PORT + 1)
    # bulk data integrity, both directions at once
    blob = os.urandom(8 << 20)
    import threading
    t = threading.Thread(target=c2.sendall, args=(blob,))
    t.start()
    assert recv_exact(c2, len(blob)) == blob
    t.join()
    c.close()
    c2.close()


def test_connect_to_other_port_or_malformed_gets_eof(sim):
    sim.start()
    sim.wait_guest()
    for line in (b"CONNECT 1025\n", b"CONNECT x\n", b"HELLO 1024\n", b"CONN\n", b"CONNECT 1024 junk 1\n"):
        assert is_eof_or_reset(sim.vsock_connect(line)), line


def test_guest_port_from_boot_args_and_serial_to_stdout(sim):
    sim.start(boot_args="console=ttyS0 vminit.port=52")
    sim.wait_guest()
    c = sim.vsock_connect(b"CONNECT 52\n")
    assert read_line(c).startswith(b"OK ")
    assert is_eof_or_reset(sim.vsock_connect(b"CONNECT 1024\n"))
    out = wait_for(lambda: "fake-guest: pid 1 listening" in sim.stdout() and sim.stdout(), what="serial")
    assert "vminit.port=52" in out and "pci=off" in out and "root=/dev/vda rw" in out


def test_late_guest_listener(tmp):
    s = Sim(tmp, env={"FCSIM_GUEST_DELAY_MS": "700"})
    try:
        s.start()
        assert is_eof_or_reset(s.vsock_connect())
        s.wait_guest()
        c = s.vsock_connect()
        assert read_line(c).startswith(b"OK ")
    finally:
        s.stop()


def test_guest_exit_makes_simulator_exit_0(sim):
    sim.start(boot_args="console=ttyS0 fakeguest.exit_after_ms=300")
    sim.wait_guest()
    c = sim.vsock_connect()
    assert read_line(c).startswith(b"OK ")
    assert sim.proc.wait(10) == 0
    assert is_eof_or_reset(c)
    assert os.path.exists(sim.api)  # Firecracker never unlinks its sockets
    assert os.path.exists(sim.vsock)


def test_send_ctrl_alt_del_reaches_guest_pid1(sim):
    sim.start()
    sim.wait_guest()
    assert sim.put("/actions", {"action_type": "SendCtrlAltDel"}).status == 204
    assert sim.proc.wait(10) == 0


def test_sigterm_kills_simulator_and_guest(sim):
    sim.start()
    sim.wait_guest()
    c = sim.vsock_connect()
    assert read_line(c).startswith(b"OK ")
    assert guest_processes(sim.guest_dir)
    sim.proc.send_signal(signal.SIGTERM)
    assert sim.proc.wait(10) == -signal.SIGTERM
    assert is_eof_or_reset(c)  # the guest (and its echo connection) died with it
    wait_for(lambda: not guest_processes(sim.guest_dir), what="guest to die")




def test_sigkill_of_simulator_takes_the_guest_down(sim):
    sim.start()
    sim.wait_guest()
    assert guest_processes(sim.guest_dir)
    sim.proc.kill()
    sim.proc.wait(10)
    wait_for(lambda: not guest_processes(sim.guest_dir), what="guest to die")


def test_parent_death_kills_simulator_and_guest(tmp):
    """PR_SET_PDEATHSIG: the simulator (and with it the guest) dies when its parent dies."""
    guest_dir = os.path.join(tmp, "g")
    s = Sim(tmp)  # only used for its files and API helpers; replaced by a simulator under a shell below
    s.stop()
    os.unlink(s.api)
    env = dict(os.environ, FCSIM_GUEST_INIT=FAKE_GUEST, FCSIM_GUEST_DIR=guest_dir)
    parent = subprocess.Popen(["sh", "-c", '"$0" --api-sock "$1" >/dev/null 2>&1 & echo $!; wait', SIM, s.api],
                              stdout=subprocess.PIPE, env=env)
    sim_pid = int(parent.stdout.readline())

    def gone():
        try:
            with open("/proc/%d/stat" % sim_pid) as f:
                return f.read().rsplit(") ", 1)[1].startswith("Z")
        except OSError:
            return True

    wait_for(lambda: os.path.exists(s.api), what="API socket")
    s.conn = wait_for(s._try_connect, what="API connection")
    s.start()
    s.wait_guest()
    assert guest_processes(guest_dir) and not gone()
    parent.kill()
    parent.wait(10)
    wait_for(gone, what="simulator to die with its parent")
    wait_for(lambda: not guest_processes(guest_dir), what="guest to die")
    s.conn.close()


def test_serial_out_path_receives_guest_output(sim):
    serial = os.path.join(sim.tmp, "serial.out")
    assert sim.put("/serial", {"serial_out_path": serial}).status == 204
    sim.start()
    sim.wait_guest()
    wait_for(lambda: os.path.exists(serial) and b"fake-guest: pid 1" in open(serial, "rb").read(),
             what="serial output in file")
    assert "fake-guest: pid 1" not in sim.stdout()


def test_default_guest_dir_is_removed_at_exit_and_stale_ones_swept(tmp):
    stale = tempfile.mkdtemp(prefix="fcsim-999999999-", dir="/var/tmp")  # above pid_max: never alive
    s = Sim(tmp, env={"FCSIM_GUEST_DIR": ""})
    try:
        s.start(boot_args="fakeguest.exit_after_ms=300")
        mine = [n for n in os.listdir("/var/tmp") if n.startswith("fcsim-%d-" % s.proc.pid)]
        assert len(mine) == 1
        assert not os.path.exists(stale)
        assert s.proc.wait(10) == 0
        assert not os.path.exists(os.path.join("/var/tmp", mine[0]))
    finally:
        shutil.rmtree(stale, ignore_errors=True)
        s.stop()
