#!/usr/bin/env python3
"""Raw-byte baselines for Benchmarks/run.sh (no framing, no vm-init, no supervisor).

  rawrelay.py guest --listen=unix:PATH [...]   a stand-in guest init for the Firecracker simulator: for each
                                               connection, reads a command ('O'|'I', u64 BE count); 'O' sends
                                               count zero bytes, 'I' reads count bytes and replies b'D'.
  rawrelay.py boot SIM DIR KERNEL               starts SIM with FCSIM_GUEST_INIT=this script, configures boot
                                               source and vsock (DIR/v.sock), InstanceStart, writes DIR/ready;
                                               stays until SIGTERM (the simulator dies with it).
  rawrelay.py client UDS out|in BYTES           CONNECT 1024 over the hybrid vsock socket, then moves BYTES;
                                               prints MiB/s.
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import time

CHUNK = 1 << 20


def guest(argv):
    path = next(a.split("=", 1)[1] for a in argv if a.startswith("--listen="))
    assert path.startswith("unix:")
    path = path[5:]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(8)
    zeros = bytes(CHUNK)
    buf = bytearray(CHUNK)
    while True:
        conn, _ = srv.accept()
        try:
            head = b""
            while len(head) < 9:
                part = conn.recv(9 - len(head))
                if not part:
                    break
                head += part
            if len(head) < 9:
                continue
            cmd, count = head[:1], struct.unpack(">Q", head[1:])[0]
            if cmd == b"O":
                view = memoryview(zeros)
                while count > 0:
                    count -= conn.send(view[: min(CHUNK, count)])
            else:
                while count > 0:
                    n = conn.recv_into(buf, min(CHUNK, count))
                    if n == 0:
                        break
                    count -= n
                conn.sendall(b"D")
        except OSError:
            pass
        finally:
            conn.close()


def http(api, method, path, body):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(api)
    data = body.encode()
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    reply = s.recv(4096).decode(errors="replace")
    s.close()
    status = int(reply.split(" ", 2)[1])
    if status >= 300:
        sys.exit(f"rawrelay: {method} {path}: {reply}")


def boot(sim, directory, kernel):
    api = os.path.join(directory, "api.sock")
    env = dict(os.environ, FCSIM_GUEST_INIT=os.path.abspath(__file__), FCSIM_GUEST_DIR=os.path.join(directory, "g"))
    os.makedirs(env["FCSIM_GUEST_DIR"], exist_ok=True)
    proc = subprocess.Popen([sim, "--api-sock", api], env=env, stdin=subprocess.DEVNULL,
                            stdout=open(os.path.join(directory, "sim.log"), "wb"), stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while not os.path.exists(api):
        if time.time() > deadline:
            sys.exit("rawrelay: simulator API socket never appeared")
        time.sleep(0.01)
    http(api, "PUT", "/boot-source", '{"kernel_image_path": "%s"}' % kernel)
    http(api, "PUT", "/vsock", '{"guest_cid": 3, "uds_path": "%s"}' % os.path.join(directory, "v.sock"))
    http(api, "PUT", "/actions", '{"action_type": "InstanceStart"}')
    guest_sock = os.path.join(env["FCSIM_GUEST_DIR"], "guest.sock")
    while not os.path.exists(guest_sock):
        if time.time() > deadline:
            sys.exit("rawrelay: guest never listened")
        time.sleep(0.01)
    # The simulator dies with its parent (PR_SET_PDEATHSIG), so stay until it exits (SIGTERM ends both).
    open(os.path.join(directory, "ready"), "w").write(f"{proc.pid}\n")
    signal.signal(signal.SIGTERM, lambda *_: (proc.kill(), sys.exit(0)))
    proc.wait()


def client(uds, direction, count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(uds)
    s.sendall(b"CONNECT 1024\n")
    line = b""
    while not line.endswith(b"\n"):
        part = s.recv(1)
        if not part:
            sys.exit("rawrelay: CONNECT refused")
        line += part
    t0 = time.monotonic()
    s.sendall((b"O" if direction == "out" else b"I") + struct.pack(">Q", count))
    buf = bytearray(CHUNK)
    if direction == "out":
        left = count
        while left > 0:
            n = s.recv_into(buf, min(CHUNK, left))
            if n == 0:
                sys.exit("rawrelay: short stream")
            left -= n
    else:
        view = memoryview(bytes(CHUNK))
        left = count
        while left > 0:
            left -= s.send(view[: min(CHUNK, left)])
        if s.recv(1) != b"D":
            sys.exit("rawrelay: no ack")
    dt = time.monotonic() - t0
    print(f"{count / 1048576 / dt:.1f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "boot":
        boot(*sys.argv[2:5])
    elif len(sys.argv) > 1 and sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        guest(sys.argv[1:])
