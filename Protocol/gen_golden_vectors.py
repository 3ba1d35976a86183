#!/usr/bin/env python3
"""Generates Protocol/golden-vectors.json from the frame format in PROTOCOL.md.

This is an independent (Python) implementation of the encoder: the Swift tests check that the Swift codec
produces exactly these bytes and decodes them to the expected messages, so the two implementations agree.

Canonical header encoding (what every conforming encoder in this repo produces, and what the vectors use):
JSON with keys sorted by code point, no insignificant whitespace, non-ASCII characters as raw UTF-8, "/" not
escaped, absent optional fields omitted. Receivers must accept any valid JSON (key order, whitespace, escapes).

Usage: python3 Protocol/gen_golden_vectors.py   (rewrites Protocol/golden-vectors.json)
"""
import json
import os
import struct

MAX_HEADER = 64 * 1024
MAX_PAYLOAD = 1024 * 1024


def canonical(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def frame(header_bytes: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">II", len(header_bytes), len(payload)) + header_bytes + payload


vectors = []


def valid(name, header, payload=b"", note=None):
    """A well-formed frame in canonical encoding: decodes to `header`, and encoding `header` gives `hex`."""
    v = {"name": name, "valid": True, "roundtrip": True, "hex": frame(canonical(header), payload).hex(),
         "header": header, "payload_hex": payload.hex()}
    if note:
        v["note"] = note
    vectors.append(v)


def decode_only(name, raw_header: bytes, decoded: dict, payload=b"", note=None):
    """A well-formed frame in non-canonical form: decodes to the message `decoded`; re-encoding that message
    gives `canonical_hex`."""
    vectors.append({"name": name, "valid": True, "roundtrip": False, "hex": frame(raw_header, payload).hex(),
                    "header": json.loads(raw_header), "decoded": decoded,
                    "canonical_hex": frame(canonical(decoded), payload).hex(),
                    "payload_hex": payload.hex(), "note": note})


def invalid(name, raw: bytes, kind, code, session=None, header=None, payload=b"", note=None):
    """Bytes the receiver must refuse with an `error` frame of `code` (and `session` when given), keeping the
    connection. kind: "invalid" (complete frame, bad header) or "oversized" (lengths over the default limits;
    for huge lengths only the 8-byte prefix is given)."""
    err = {"kind": kind, "code": code}
    if session is not None:
        err["session"] = session
    vectors.append({"name": name, "valid": False, "hex": raw.hex(), "header": header,
                    "payload_hex": payload.hex(), "error": err, "note": note})


limits = {"max_header": MAX_HEADER, "max_payload": MAX_PAYLOAD}

# --- hello ---------------------------------------------------------------------------------------------------------
valid("hello_host_minimal",
      {"type": "hello", "version": 1, "role": "host", "capabilities": [], "limits": limits, "window": 1048576})
valid("hello_guest_full",
      {"type": "hello", "version": 1, "role": "guest", "agent": "vm-init/0.1",
       "capabilities": ["capabilities", "pty", "rlimits"], "limits": limits, "window": 262144,
       "wall_clock_ns": 1732560000123456789,
       "boot_timings": {"listening": 5100, "main": 1200, "mounted": 3400}})
# --- exec ----------------------------------------------------------------------------------------------------------
valid("exec_minimal", {"type": "exec", "session": 1, "argv": ["/bin/true"]})
valid("exec_full",
      {"type": "exec", "session": 42, "argv": ["sh", "-c", "echo hi; exit 3"],
       "env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"], "cwd": "/srv/app", "user": "app", "uid": 1000, "gid": 1000,
       "groups": [10, 27], "umask": 18,
       "rlimits": [{"resource": "nofile", "soft": 1024, "hard": 4096}, {"resource": "core", "soft": 0, "hard": 0}],
       "capabilities": ["CAP_NET_BIND_SERVICE"], "no_new_privs": True, "tty": {"rows": 24, "cols": 80},
       "stdin": True, "timeout_ms": 30000})
valid("exec_unicode_argv", {"type": "exec", "session": 4294967295, "argv": ["echo", "h\u00e9llo \u2713", "a\"b\\c"]},
      note="non-ASCII as raw UTF-8; quote and backslash escaped; the largest session id")
# --- session lifecycle ---------------------------------------------------------------------------------------------
valid("started", {"type": "started", "session": 1, "pid": 137})
valid("start_failed_enoent",
      {"type": "start_failed", "session": 2, "errno": 2, "stage": "exec",
       "message": "execve /nonexistent: No such file or directory"})
valid("stdin_with_payload", {"type": "stdin", "session": 1}, b"hello\n")
valid("stdin_empty_payload", {"type": "stdin", "session": 1}, b"", note="zero-length stdio frames are legal")
valid("stdin_close", {"type": "stdin_close", "session": 1})
valid("stdout_binary_payload", {"type": "stdout", "session": 1}, bytes([0x00, 0xFF, 0x0A, 0x7B, 0x22]),
      note="payload bytes are opaque, never JSON")
valid("stderr_with_payload", {"type": "stderr", "session": 3}, b"warning: x\n")
valid("window", {"type": "window", "session": 1, "bytes": 524288})
valid("signal_sigterm", {"type": "signal", "session": 1, "signal": 15})
valid("resize", {"type": "resize", "session": 1, "rows": 50, "cols": 132})
valid("exit_code_zero",
      {"type": "exit", "session": 1, "code": 0, "core_dumped": False, "oom_killed": False,
       "output_truncated": False, "status": 0})
valid("exit_code_seven_truncated",
      {"type": "exit", "session": 5, "code": 7, "core_dumped": False, "oom_killed": False,
       "output_truncated": True, "status": 7})
valid("exit_killed_sigkill_oom",
      {"type": "exit", "session": 1, "signal": 9, "core_dumped": False, "oom_killed": True,
       "output_truncated": False, "status": 137})
valid("exit_sigsegv_core",
      {"type": "exit", "session": 9, "signal": 11, "core_dumped": True, "oom_killed": False,
       "output_truncated": False, "status": 139})
valid("exit_ack", {"type": "exit_ack", "session": 1})
valid("attach", {"type": "attach", "session": 7})
valid("sessions_request", {"type": "sessions"})
valid("sessions_reply",
      {"type": "sessions", "sessions": [
          {"session": 1, "pid": 137, "state": "running", "argv0": "sleep", "attached": False},
          {"session": 2, "pid": 140, "state": "exited", "argv0": "sh", "attached": False,
           "exit": {"signal": 15, "core_dumped": False, "oom_killed": False, "output_truncated": False}}]})
valid("ping", {"type": "ping", "id": 1})
valid("pong_large_id", {"type": "pong", "id": 9007199254740993},
      note="2^53+1: 64-bit integers must be parsed exactly (not via a double)")
valid("set_time", {"type": "set_time", "unix_ns": 1732560000000000000})
valid("shutdown_default", {"type": "shutdown"})
valid("shutdown_full", {"type": "shutdown", "mode": "poweroff", "grace_ms": 5000})
valid("error_connection", {"type": "error", "code": "unknown_message", "message": "unknown message type \"detach\""})
valid("network_full",
      {"type": "network", "hostname": "vm-1",
       "interfaces": [{"mac": "02:fc:00:00:00:01", "mtu": 1500, "addresses": ["fd00:1::5/64", "10.0.0.2/24"]}],
       "routes": [{"destination": "default", "gateway": "fd00:1::1"},
                  {"destination": "10.1.0.0/16", "gateway": "10.0.0.1", "interface": "eth0", "metric": 100}],
       "dns": {"servers": ["fd00:1::1"], "search": ["internal"]},
       "hosts": [{"address": "fd00:1::1", "names": ["gateway"]}]})
valid("network_empty", {"type": "network"})
valid("network_applied", {"type": "network_applied", "interfaces": ["eth0"]})
valid("error_session", {"type": "error", "code": "unknown_session", "message": "no session 9", "session": 9})
valid("exec_oom_score_adj", {"type": "exec", "session": 3, "argv": ["sh"], "oom_score_adj": -999},
      note="oom_score_adj is -1000..1000")
valid("container_full",
      {"type": "container",
       "root": {"source": "/dev/vda", "type": "ext4", "options": ["ro"], "writable": True},
       "mounts": [{"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
                  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755"]},
                  {"destination": "/sys/fs/cgroup", "type": "cgroup"}],
       "files": [{"path": "/etc/resolv.conf", "mode": 420, "data": "bmFtZXNlcnZlciAxMC4wLjAuMQo="}],
       "hostname": "c1",
       "check": {"argv0": "sh", "path": "/usr/sbin:/usr/bin:/sbin:/bin", "cwd": "/"},
       "resources": {"memory_max": 67108864, "pids_max": 2048}})
valid("container_minimal", {"type": "container", "root": {"source": "/dev/vda", "type": "erofs", "writable": False}})
valid("container_ready", {"type": "container_ready", "root": "/"})
valid("container_ready_empty", {"type": "container_ready"})
# --- snapshots (§4.25–§4.30) -----------------------------------------------------------------------------------------
ENTROPY_16 = "AAECAwQFBgcICQoLDA0ODw=="  # base64 of bytes 0..15
valid("freeze_default", {"type": "freeze"})
valid("freeze_timeout", {"type": "freeze", "timeout_ms": 5000})
valid("frozen_cgroup",
      {"type": "frozen", "method": "cgroup",
       "sessions": [{"session": 1, "pid": 12, "attached": True}, {"session": 3, "attached": False}],
       "fsfreeze": ["/mnt/data"], "sync": True,
       "timings_us": {"freeze": 850, "sync": 1200, "fsfreeze": 300, "flush": 150, "total": 2500}})
valid("frozen_sigstop_nothing_running",
      {"type": "frozen", "method": "sigstop", "sessions": [], "fsfreeze": [], "sync": True,
       "timings_us": {"freeze": 0, "sync": 900, "fsfreeze": 0, "flush": 0, "total": 950}})
valid("thaw", {"type": "thaw"})
valid("thawed", {"type": "thawed"})
valid("resume_full",
      {"type": "resume", "unix_ns": 1764500000000000000, "generation": 2, "entropy": ENTROPY_16, "keep": [1],
       "hostname": "clone-b",
       "network": {"interfaces": [{"mac": "02:fc:00:00:00:02", "addresses": ["10.0.0.3/24"]}],
                   "routes": [{"destination": "default", "gateway": "10.0.0.1"}]}})
valid("resume_minimal", {"type": "resume", "unix_ns": -1, "generation": 18446744073709551615, "entropy": ENTROPY_16},
      note="keep absent: no session survives")
valid("resumed",
      {"type": "resumed", "generation": 2, "clock_step_ns": -5003000000, "rng_reseeded": True, "lost": [3, 4],
       "timings_us": {"clock": 20, "rng": 35, "identity": 10, "network": 0, "thaw": 400, "total": 480}})
valid("resumed_clock_not_set",
      {"type": "resumed", "generation": 3, "rng_reseeded": False, "lost": [],
       "timings_us": {"clock": 5, "rng": 8, "identity": 0, "network": 0, "thaw": 120, "total": 140}},
      note="clock_step_ns absent: the clock could not be set")
valid("exit_lost_snapshot",
      {"type": "exit", "session": 3, "signal": 9, "status": 137, "core_dumped": False, "oom_killed": False,
       "output_truncated": False, "lost": "snapshot"})
valid("stats", {"type": "stats", "id": 7})
valid("stats_report", {"type": "stats_report", "id": 7, "unix_ns": 1764500000123456789, "uptime_ns": 84600000000,
                       "memory": {"total_bytes": 243269632, "available_bytes": 201326592, "free_bytes": 180355072},
                       "cpu": {"user_ns": 2470000000, "system_ns": 910000000, "idle_ns": 81230000000, "count": 1},
                       "load_milli": [120, 50, 10], "tasks": 83, "oom_kills": 0,
                       "sessions": [{"session": 1, "pid": 42, "cpu_ns": 40512000, "cpu_user_ns": 20412000,
                                     "cpu_system_ns": 20100000, "memory_bytes": 1245184, "memory_peak_bytes": 2097152,
                                     "pids": 1, "oom_events": 0, "oom_kills": 0}]})
valid("stats_report_without_cgroups", {"type": "stats_report", "id": 8, "unix_ns": -1,
                                       "sessions": [{"session": 3, "pid": 9}]},
      note="a guest without cgroups: sessions carry only session and pid; unreadable groups are absent")

# --- valid but not canonical: decode only --------------------------------------------------------------------------
decode_only("unknown_optional_fields_ignored",
            b'{"type":"started","session":1,"pid":2,"future_field":{"x":[1,2]},"z":null}',
            {"type": "started", "session": 1, "pid": 2},
            note="unknown fields are ignored; re-encoding drops them")
decode_only("whitespace_unsorted_escaped",
            b'{ "session" : 3 ,\n "type" : "stdout" }', {"type": "stdout", "session": 3}, b"ok",
            note="any valid JSON is accepted: whitespace, key order")
decode_only("exit_without_status_field",
            b'{"type":"exit","session":2,"signal":2,"core_dumped":false,"oom_killed":false,"output_truncated":false}',
            {"type": "exit", "session": 2, "signal": 2, "core_dumped": False, "oom_killed": False,
             "output_truncated": False, "status": 130},
            note="status is derived (code, or 128+signal); receivers ignore it and recompute")
decode_only("unicode_escapes_in_strings",
            b'{"type":"exec","session":1,"argv":["\\u0068\\u00e9\\/"]}',
            {"type": "exec", "session": 1, "argv": ["h\u00e9/"]},
            note="JSON string escapes are decoded")

# --- control.sock (§11): the same frames, other roles -------------------------------------------------------------
valid("hello_client_control_socket",
      {"type": "hello", "version": 1, "role": "client", "agent": "worker/1.0", "capabilities": [], "limits": limits,
       "window": 1048576},
      note="a client's first frame on <state-dir>/<id>/control.sock")
valid("hello_supervisor_control_socket",
      {"type": "hello", "version": 1, "role": "supervisor", "agent": "fc-supervisor/0.1",
       "capabilities": ["pty", "stdin_descriptor", "output_descriptors"], "limits": limits, "window": 1048576,
       "wall_clock_ns": 1732560000123456789},
      note="the supervisor's first frame on control.sock; stdin_descriptor: exec may pass stdin as a pipe (§11.2); "
           "output_descriptors: and stdout and stderr (§11.3)")
valid("signal_workload_session_0", {"type": "signal", "session": 0, "signal": 15},
      note="control.sock only: session 0 is the workload (fc-supervisor kill)")
valid("signal_all_control_socket", {"type": "signal", "session": 0, "signal": 9, "all": True},
      note="control.sock only: the workload and every live exec session (runc kill --all)")
valid("lifecycle_start", {"type": "lifecycle", "action": "start"},
      note="control.sock only: start the workload that runc's create left waiting")
valid("lifecycle_pause", {"type": "lifecycle", "action": "pause"}, note="control.sock only")
valid("lifecycle_done_start", {"type": "lifecycle_done", "action": "start", "pid": 42},
      note="control.sock only: pid is the workload's pid in the guest")
valid("lifecycle_done_resume", {"type": "lifecycle_done", "action": "resume"}, note="control.sock only")
valid("lifecycle_checkpoint", {"type": "lifecycle", "action": "checkpoint", "image_path": "/var/lib/ckpt/job-1.partial",
                                "leave_running": True},
      note="control.sock only: runc's checkpoint --leave-running; the directory exists and is empty")
valid("lifecycle_done_checkpoint", {"type": "lifecycle_done", "action": "checkpoint"}, note="control.sock only")
valid("error_lifecycle_invalid_state",
      {"type": "error", "code": "invalid_state", "message": "cannot start an already running container"},
      note="control.sock: a lifecycle request in the wrong state gets runc's text")
valid("exec_control_socket", {"type": "exec", "session": 1, "argv": ["ls", "-l"], "stdin": True,
                              "tty": {"rows": 24, "cols": 80}},
      note="control.sock: the session id is the client's own; 0 is reserved")
valid("exec_stdin_descriptor_control_socket",
      {"type": "exec", "session": 1, "argv": ["sh", "-c", "cat > /dev/null"], "stdin": True, "stdin_descriptor": True},
      note="control.sock only (§11.2): stdin is the pipe passed with SCM_RIGHTS on this frame's bytes; no stdin frames")
valid("exec_output_descriptors_control_socket",
      {"type": "exec", "session": 1, "argv": ["dd", "if=/dev/zero", "bs=1M", "count=256"],
       "stdout_descriptor": True, "stderr_descriptor": True},
      note="control.sock only (§11.3): stdout and stderr are the two pipes passed with SCM_RIGHTS on this frame's "
           "bytes, in that order; no stdout or stderr frames")

# --- invalid -------------------------------------------------------------------------------------------------------
invalid("oversized_header_4gib", struct.pack(">II", 0xFFFFFFFF, 0), "oversized", "frame_too_large",
        note="prefix only; the receiver reports after these 8 bytes and skips the declared 4 GiB as it arrives")
invalid("oversized_payload_uint32_max", struct.pack(">II", 15, 0xFFFFFFFF), "oversized", "frame_too_large",
        note="prefix only")
invalid("oversized_both_uint32_max", struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF), "oversized", "frame_too_large",
        note="prefix only")
invalid("oversized_header_by_one", struct.pack(">II", MAX_HEADER + 1, 0), "oversized", "frame_too_large",
        note="prefix only; over the default 64 KiB header limit by one byte")
invalid("oversized_payload_by_one", struct.pack(">II", 16, MAX_PAYLOAD + 1), "oversized", "frame_too_large",
        note="prefix only; over the default 1 MiB payload limit by one byte")
invalid("empty_header", frame(b""), "invalid", "malformed_header")
invalid("bad_json", frame(b'{"type":"ping",'), "invalid", "malformed_header")
invalid("json_not_object", frame(b'["ping",1]'), "invalid", "malformed_header")
invalid("type_not_string", frame(b'{"type":5,"session":1}'), "invalid", "malformed_header",
        header={"type": 5, "session": 1})
invalid("type_missing", frame(b'{"session":1}'), "invalid", "malformed_header", header={"session": 1})
invalid("header_not_utf8", frame(b'{"type":"\xff\xfe"}'), "invalid", "malformed_header")
invalid("unknown_type", frame(canonical({"type": "frobnicate"})), "invalid", "unknown_message",
        header={"type": "frobnicate"})
invalid("unknown_type_with_session", frame(canonical({"type": "detach", "session": 7})), "invalid",
        "unknown_message", session=7, header={"type": "detach", "session": 7})
invalid("missing_required_field", frame(canonical({"type": "started", "session": 3})), "invalid",
        "invalid_message", session=3, header={"type": "started", "session": 3}, note="pid is required")
invalid("field_out_of_range", frame(canonical({"type": "window", "session": 2, "bytes": -1})), "invalid",
        "invalid_message", session=2, header={"type": "window", "session": 2, "bytes": -1})
invalid("field_wrong_type", frame(canonical({"type": "exec", "session": 4, "argv": "ls"})), "invalid",
        "invalid_message", session=4, header={"type": "exec", "session": 4, "argv": "ls"})
invalid("session_not_uint32", frame(canonical({"type": "exit_ack", "session": 4294967296})), "invalid",
        "invalid_message", header={"type": "exit_ack", "session": 4294967296},
        note="the session cannot be attributed, so the error carries none")
invalid("exec_oom_score_adj_out_of_range",
        frame(canonical({"type": "exec", "session": 6, "argv": ["sh"], "oom_score_adj": 1001})), "invalid",
        "invalid_message", session=6, header={"type": "exec", "session": 6, "argv": ["sh"], "oom_score_adj": 1001},
        note="outside -1000..1000")
invalid("container_without_root", frame(canonical({"type": "container", "hostname": "c1"})), "invalid",
        "invalid_message", header={"type": "container", "hostname": "c1"})
invalid("container_root_without_writable",
        frame(canonical({"type": "container", "root": {"source": "/dev/vda", "type": "ext4"}})), "invalid",
        "invalid_message", header={"type": "container", "root": {"source": "/dev/vda", "type": "ext4"}})
invalid("container_file_mode_out_of_range",
        frame(canonical({"type": "container", "root": {"source": "/dev/vda", "type": "ext4", "writable": True},
                         "files": [{"path": "/a", "mode": 4096, "data": ""}]})), "invalid", "invalid_message",
        header={"type": "container", "root": {"source": "/dev/vda", "type": "ext4", "writable": True},
                "files": [{"path": "/a", "mode": 4096, "data": ""}]},
        note="mode is 0..0o7777")
invalid("container_memory_max_zero",
        frame(canonical({"type": "container", "root": {"source": "/dev/vda", "type": "ext4", "writable": True},
                         "resources": {"memory_max": 0}})), "invalid", "invalid_message",
        header={"type": "container", "root": {"source": "/dev/vda", "type": "ext4", "writable": True},
                "resources": {"memory_max": 0}},
        note="a limit is at least 1; no limit is an absent field")
invalid("payload_on_control_frame", frame(canonical({"type": "ping", "id": 1}), b"x"), "invalid",
        "invalid_message", header={"type": "ping", "id": 1}, payload=b"x")
invalid("payload_on_session_control_frame", frame(canonical({"type": "exit_ack", "session": 5}), b"xyz"),
        "invalid", "invalid_message", session=5, header={"type": "exit_ack", "session": 5}, payload=b"xyz")

invalid("number_leading_zero", frame(b'{"id":00012,"type":"ping"}'), "invalid", "malformed_header",
        note="not JSON (RFC 8259 has no leading zeros)")
invalid("duplicate_key", frame(b'{"id":1,"id":2,"type":"ping"}'), "invalid", "malformed_header",
        note="a key repeated in one object, at any depth")
invalid("duplicate_key_escaped", frame(b'{"\\u0069d":1,"id":2,"type":"ping"}'), "invalid", "malformed_header",
        note="keys are compared after unescaping")
invalid("number_with_fraction", frame(b'{"id":1.5,"type":"ping"}'), "invalid", "invalid_message",
        header={"id": 1.5, "type": "ping"})
invalid("number_integral_fraction", frame(b'{"id":123456789012345678.9,"type":"ping"}'), "invalid",
        "invalid_message", note="never truncated to an integer")
invalid("number_with_exponent", frame(b'{"id":1e2,"type":"ping"}'), "invalid", "invalid_message",
        note="2.0 and 1e2 are not integers on this wire")
invalid("fraction_in_session", frame(b'{"session":3.0,"type":"exit_ack"}'), "invalid", "invalid_message",
        note="a fractional session is not a valid uint32: the error carries none")
invalid("freeze_timeout_zero", frame(canonical({"type": "freeze", "timeout_ms": 0})), "invalid", "invalid_message",
        header={"type": "freeze", "timeout_ms": 0}, note="timeout_ms is 1..60000")
invalid("resume_entropy_too_short",
        frame(canonical({"type": "resume", "unix_ns": 1, "generation": 2, "entropy": "AAECAwQFBgcICQoL"})),
        "invalid", "invalid_message",
        header={"type": "resume", "unix_ns": 1, "generation": 2, "entropy": "AAECAwQFBgcICQoL"},
        note="12 bytes: entropy is 16..512 bytes")
invalid("resume_entropy_not_base64",
        frame(canonical({"type": "resume", "unix_ns": 1, "generation": 2, "entropy": "not base64 at all, really!!"})),
        "invalid", "invalid_message",
        header={"type": "resume", "unix_ns": 1, "generation": 2, "entropy": "not base64 at all, really!!"})
invalid("resume_without_generation", frame(canonical({"type": "resume", "unix_ns": 1, "entropy": ENTROPY_16})),
        "invalid", "invalid_message", header={"type": "resume", "unix_ns": 1, "entropy": ENTROPY_16})
decode_only("fraction_in_unknown_field_ignored", b'{"future":0.5,"id":7,"type":"ping"}', {"type": "ping", "id": 7},
            note="unknown fields may hold any JSON value (§9); only fields of the message must be integers")

for v in vectors:
    if v.get("note") is None:
        v.pop("note", None)

doc = {
    "description": "Golden frames for the fc-runtime vsock protocol (Protocol/PROTOCOL.md). hex: the frame's bytes "
                   "(for oversized vectors only the 8-byte prefix). valid vectors decode to header (+ payload_hex); "
                   "roundtrip vectors are also exactly what encoding header gives; decode-only vectors re-encode to "
                   "canonical_hex. invalid vectors are refused with error.code (and error.session) by a receiver "
                   "using the default limits, which then keeps reading. Generated by gen_golden_vectors.py.",
    "version": 1,
    "limits": limits,
    "vectors": vectors,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden-vectors.json")
with open(path, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"wrote {len(vectors)} vectors to {path}")
