#!/usr/bin/env python3
"""Boots for BENCHMARKS.md section 8 (run by Benchmarks/guest.sh): QEMU start → first byte from the guest on the
virtio-serial channel, for a minimal static C init and for vm-init, each in its own unpadded initramfs, in
alternating order (C first in odd rounds, vm-init first in even ones), same kernel and QEMU command line as
fc-supervisor's QEMU driver (microvm under TCG, no console, virtio-rng). After its first byte the C init also
moves BYTES out of and into the guest over the raw port (its "out N" / "in N" commands, 1 MiB reads/writes).
With --cinit-padded, each round also boots the same C init in an initramfs padded to vm-init's size (first byte
only): what the initramfs's size alone costs the boot. With --cinit-duties, each round also boots the C init built
with -DDUTIES (first byte only), which does vm-init's boot work in C before it speaks: what that work alone costs.
With --embedded-duties, each round also boots that same program written in Embedded Swift
(Benchmarks/guest_init_embedded.swift; greeting "einit ..."): what the language costs without Swift's runtime and
a full static binary's size. With --vminit-full, each round also boots vm-init's full Swift build (its hello).
After the greeting or hello the host pings (vm-init: with its own hello): the answer is the first request served,
which for vm-init comes after its workload duties.

    guest_boot.py --kernel K --cinit CPIO [--cinit-padded CPIO] [--cinit-duties CPIO] [--embedded-duties CPIO] \
        [--vminit-full CPIO] --vminit CPIO --runs N --bytes B --memory-mib M --work DIR [--only cinit] > results.json

--only cinit boots the C init alone (guest.sh does, once between its exec rounds, so that the raw channel and the
exec path are measured interleaved in time).

Prints one JSON object: {"runs": [{"init": "cinit"|"cinit-padded"|"cinit-duties"|"embedded-duties"|"vm-init-full"|"vm-init",
"first_byte_ms": .., "served_ms": .. (QEMU start → the answer to a ping sent on the greeting or the hello;
not for embedded-duties), "timings_us": {..}, "duties_failed": .. (the two with duties), "out_mib_s": .., "in_mib_s": ..},
...], "qemu": [argv with placeholders]}. A boot that never speaks within 60 s is recorded with "error" and the
benchmark goes on.
"""
import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time

CHANNEL = "vmchan"


def tsc_khz():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("cpu MHz"):
                return int(float(line.split(":")[1]) * 1000)
    except OSError:
        pass
    return 0


def qemu_argv(kernel, initrd, sock, memory_mib):
    """Sources/VMM/QEMUDriver.swift's QEMUCommandLine for a TCG VM with 1 vCPU, an initrd and no console."""
    append = ["quiet", "panic=-1", "reboot=t", "8250.nr_uarts=0"]
    khz = tsc_khz()
    if khz:
        append.append(f"tsc_early_khz={khz}")
    append += ["rdinit=/sbin/init", f"vminit.listen=serial:name={CHANNEL}"]
    return ["qemu-system-x86_64", "-accel", "tcg", "-M", "microvm,x-option-roms=off,isa-serial=on,acpi=off",
            "-m", str(memory_mib), "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd,
            "-chardev", f"socket,id=ch1,path={sock}", "-device", "virtio-serial-device",
            "-device", f"virtserialport,chardev=ch1,name={CHANNEL}", "-device", "virtio-rng-device",
            "-append", " ".join(append)]


def recv_exact(conn, n, deadline):
    data = bytearray()
    while len(data) < n:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError(f"channel closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def recv_line(conn, deadline, first=b""):
    data = bytearray(first)
    while not data.endswith(b"\n"):
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = conn.recv(1)
        if not chunk:
            raise EOFError("channel closed mid-line")
        data += chunk
    return data.decode().strip()


def frame(header):
    """One frame without payload (PROTOCOL.md §3): header length, payload length, the header's JSON."""
    data = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    return struct.pack(">II", len(data), 0) + data


def recv_frame(conn, deadline, first=b""):
    """The next frame's header (its payload is read and dropped); `first`: bytes of it already read."""
    hlen, plen = struct.unpack(">II", first + recv_exact(conn, 8 - len(first), deadline))
    header = json.loads(recv_exact(conn, hlen, deadline))
    if plen:
        recv_exact(conn, plen, deadline)
    return header


def sink(conn, n, deadline):
    got, view = 0, bytearray(1 << 20)
    while got < n:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        k = conn.recv_into(view, min(len(view), n - got))
        if k == 0:
            raise EOFError(f"channel closed after {got} of {n} bytes")
        got += k


def boot(which, args, index):
    sock = os.path.join(args.work, f"ch-{index}.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock)
    srv.listen(1)
    initrd = {"cinit": args.cinit, "cinit-padded": args.cinit_padded, "cinit-duties": args.cinit_duties,
              "embedded-duties": args.embedded_duties, "vm-init-full": args.vminit_full}.get(which, args.vminit)
    log = open(os.path.join(args.work, f"qemu-{index}.log"), "wb")
    t0 = time.monotonic()
    qemu = subprocess.Popen(qemu_argv(args.kernel, initrd, sock, args.memory_mib), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    record = {"init": which}
    deadline = t0 + 60
    try:
        srv.settimeout(60)
        conn, _ = srv.accept()
        first = recv_exact(conn, 1, deadline)
        record["first_byte_ms"] = (time.monotonic() - t0) * 1000
        if not which.startswith("vm-init"):
            duties = which in ("cinit-duties", "embedded-duties")
            words = recv_line(conn, deadline, first).split()
            if len(words) != (5 if duties else 3) or words[0] != ("einit" if which == "embedded-duties" else "cinit"):
                raise ValueError(f"unexpected greeting {words!r}")
            record["timings_us"] = {"main": int(words[1]), "connected": int(words[2])}
            if duties:
                record["timings_us"]["duties"] = int(words[3])
                record["duties_failed"] = int(words[4])
            if which != "embedded-duties":
                # The first request served, as for vm-init below: one round trip after the greeting.
                conn.sendall(b"ping\n")
                if recv_line(conn, deadline) != "pong":
                    raise ValueError("no pong")
                record["served_ms"] = (time.monotonic() - t0) * 1000
            if args.bytes > 0 and which == "cinit":
                deadline = time.monotonic() + 120
                t = time.monotonic()
                conn.sendall(f"out {args.bytes}\n".encode())
                sink(conn, args.bytes, deadline)
                record["out_mib_s"] = args.bytes / (1 << 20) / (time.monotonic() - t)
                block = bytes(1 << 20)
                t = time.monotonic()
                conn.sendall(f"in {args.bytes}\n".encode())
                left = args.bytes
                while left > 0:
                    conn.settimeout(max(0.01, deadline - time.monotonic()))
                    conn.sendall(block[:min(left, len(block))])
                    left -= min(left, len(block))
                if recv_line(conn, deadline) != "ok":
                    raise ValueError("no ok after the in-transfer")
                record["in_mib_s"] = args.bytes / (1 << 20) / (time.monotonic() - t)
            conn.sendall(b"bye\n")
            try:
                qemu.wait(10)
            except subprocess.TimeoutExpired:
                pass
        else:
            header = recv_frame(conn, deadline, first)
            if header.get("type") != "hello":
                raise ValueError(f"first frame is {header.get('type')!r}, not hello")
            record["timings_us"] = header.get("boot_timings", {})
            record["agent"] = header.get("agent")
            # The host's side: its hello and a ping at once, as fc-supervisor sends its first request on the
            # guest's hello. The pong is the first request served: vm-init's workload duties run after its hello
            # and before it reads a frame, so this is when an exec could start.
            hello = {"capabilities": [], "limits": {"max_header": 65536, "max_payload": 1048576}, "role": "host",
                     "type": "hello", "version": 1, "window": 1048576}
            conn.sendall(frame(hello) + frame({"id": 1, "type": "ping"}))
            while (reply := recv_frame(conn, deadline)).get("type") != "pong" or reply.get("id") != 1:
                pass
            record["served_ms"] = (time.monotonic() - t0) * 1000
        conn.close()
    except (OSError, EOFError, ValueError, socket.timeout) as e:
        record["error"] = f"{type(e).__name__}: {e}"
    finally:
        if qemu.poll() is None:
            qemu.send_signal(signal.SIGKILL)
        qemu.wait()
        log.close()
        srv.close()
        os.unlink(sock)
    return record


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--cinit", required=True)
    p.add_argument("--cinit-padded")
    p.add_argument("--cinit-duties")
    p.add_argument("--embedded-duties")
    p.add_argument("--vminit-full")
    p.add_argument("--vminit", required=True)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--bytes", type=int, default=256 << 20)
    p.add_argument("--memory-mib", type=int, default=512)
    p.add_argument("--work", required=True)
    p.add_argument("--only", choices=["cinit"])
    args = p.parse_args()
    runs = []
    for r in range(args.runs):
        inits = (["cinit"] + (["cinit-padded"] if args.cinit_padded else [])
                 + (["cinit-duties"] if args.cinit_duties else [])
                 + (["embedded-duties"] if args.embedded_duties else [])
                 + (["vm-init-full"] if args.vminit_full else []) + ["vm-init"])
        if args.only:
            inits = [args.only]
        order = inits if r % 2 == 0 else inits[::-1]
        for which in order:
            rec = boot(which, args, len(runs))
            rec["round"] = r
            runs.append(rec)
            print(f"[bench-guest] round {r + 1}/{args.runs} {which}: "
                  + (f"{rec['first_byte_ms']:.0f} ms" if "first_byte_ms" in rec else rec.get("error", "?"))
                  + (f", served {rec['served_ms']:.0f} ms" if "served_ms" in rec else "")
                  + (f", raw out {rec['out_mib_s']:.0f} in {rec['in_mib_s']:.0f} MiB/s" if "in_mib_s" in rec else ""),
                  file=sys.stderr)
    argv = qemu_argv("KERNEL", "INITRD", "SOCKET", args.memory_mib)
    json.dump({"runs": runs, "qemu": argv}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
