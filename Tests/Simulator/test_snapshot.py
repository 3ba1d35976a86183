"""The simulator's snapshot endpoints (`PUT /snapshot/create`, `PUT /snapshot/load`) against the v1.16.1 spec
and NOTES.md's rules. Run: `python3 -m pytest -q Tests/Simulator`."""

import os

from test_simulator import Sim, tmp, sim, wait_for  # noqa: F401  (fixtures are used by name)


def snapshot_paths(tmp):
    return os.path.join(tmp, "vm.snap"), os.path.join(tmp, "vm.mem")


def take_snapshot(sim, tmp):
    snap, mem = snapshot_paths(tmp)
    sim.start()
    assert sim.conn.request("PATCH", "/vm", {"state": "Paused"}).status == 204
    r = sim.put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": snap, "mem_file_path": mem})
    assert r.status == 204, r.body
    return snap, mem


def test_create_needs_a_booted_paused_vm_and_writes_full_size_memory(sim, tmp):
    snap, mem = snapshot_paths(tmp)
    body = {"snapshot_type": "Full", "snapshot_path": snap, "mem_file_path": mem}
    r = sim.put("/snapshot/create", body)
    assert r.status == 400 and "before starting" in r.json()["fault_message"]
    sim.start()
    r = sim.put("/snapshot/create", body)
    assert r.status == 400 and "paused" in r.json()["fault_message"]
    assert sim.conn.request("PATCH", "/vm", {"state": "Paused"}).status == 204
    assert sim.put("/snapshot/create", body).status == 204
    assert os.path.getsize(mem) == 2048 << 20
    assert os.path.getsize(snap) > 0


def test_create_body_is_validated_against_the_spec(sim, tmp):
    snap, mem = snapshot_paths(tmp)
    sim.start()
    sim.conn.request("PATCH", "/vm", {"state": "Paused"})
    r = sim.put("/snapshot/create", {"snapshot_path": snap})
    assert r.status == 400 and "missing field `mem_file_path`" in r.json()["fault_message"]
    r = sim.put("/snapshot/create", {"snapshot_type": "Half", "snapshot_path": snap, "mem_file_path": mem})
    assert r.status == 400 and "Half" in r.json()["fault_message"]
    r = sim.put("/snapshot/create", {"snapshot_path": snap, "mem_file_path": mem, "compress": True})
    assert r.status == 400 and "unknown field `compress`" in r.json()["fault_message"]
    r = sim.put("/snapshot/create", {"snapshot_type": "Diff", "snapshot_path": snap, "mem_file_path": mem})
    assert r.status == 400 and "track_dirty_pages" in r.json()["fault_message"]


def test_load_restores_config_with_overrides_and_resumes(sim, tmp):
    snap, mem = take_snapshot(sim, tmp)
    sim.stop()
    os.unlink(sim.api)
    override = os.path.join(tmp, "v2.sock")
    s = Sim(tmp)
    try:
        body = {"snapshot_path": snap, "mem_backend": {"backend_type": "File", "backend_path": mem},
                "resume_vm": True, "vsock_override": {"uds_path": override}}
        r = s.put("/snapshot/load", body)
        assert r.status == 204, r.body
        assert s.conn.request("GET", "/").json()["state"] == "Running"
        config = s.conn.request("GET", "/vm/config").json()
        assert config["vsock"]["uds_path"] == override
        assert config["machine-config"]["mem_size_mib"] == 2048
        assert os.path.exists(override)
        s.wait_guest()
    finally:
        s.stop()


def test_load_without_resume_is_paused_until_patch(sim, tmp):
    snap, mem = take_snapshot(sim, tmp)
    sim.stop()
    os.unlink(sim.api)
    os.unlink(sim.vsock)
    s = Sim(tmp)
    try:
        r = s.put("/snapshot/load", {"snapshot_path": snap, "mem_file_path": mem})
        assert r.status == 204, r.body
        assert r.headers.get("deprecation") == "true"  # mem_file_path is deprecated but accepted
        assert s.conn.request("GET", "/").json()["state"] == "Paused"
        assert s.conn.request("PATCH", "/vm", {"state": "Resumed"}).status == 204
        assert s.conn.request("GET", "/").json()["state"] == "Running"
        s.wait_guest()
    finally:
        s.stop()


def test_load_refuses_after_boot_path_resources_and_needs_one_memory_source(sim, tmp):
    snap, mem = snapshot_paths(tmp)
    r = sim.put("/snapshot/load", {"snapshot_path": snap})
    assert r.status == 400 and "exactly one of mem_backend" in r.json()["fault_message"]
    r = sim.put("/snapshot/load", {"snapshot_path": snap, "mem_file_path": mem,
                                   "mem_backend": {"backend_type": "File", "backend_path": mem}})
    assert r.status == 400 and "exactly one" in r.json()["fault_message"]
    r = sim.put("/snapshot/load", {"snapshot_path": snap, "mem_backend": {"backend_type": "Disk", "backend_path": mem}})
    assert r.status == 400 and "Disk" in r.json()["fault_message"]
    r = sim.put("/snapshot/load", {"snapshot_path": snap, "mem_file_path": mem, "network_overrides": [{"iface_id": "eth0"}]})
    assert r.status == 400 and "missing field `host_dev_name`" in r.json()["fault_message"]
    assert sim.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}).status == 204
    r = sim.put("/snapshot/load", {"snapshot_path": snap, "mem_file_path": mem})
    assert r.status == 400 and "boot-specific resources" in r.json()["fault_message"]
    assert sim.proc.poll() is None  # refused before loading: not fatal


def test_failed_load_answers_400_then_exits_1(sim, tmp):
    snap, mem = take_snapshot(sim, tmp)
    sim.stop()
    os.unlink(sim.api)
    os.unlink(sim.vsock)
    with open(mem, "r+b") as f:
        f.truncate(1 << 20)
    s = Sim(tmp)
    try:
        r = s.put("/snapshot/load", {"snapshot_path": snap, "mem_backend": {"backend_type": "File", "backend_path": mem}})
        assert r.status == 400 and "memory file is 1048576 bytes" in r.json()["fault_message"]
        assert s.proc.wait(10) == 1
    finally:
        s.stop()


def test_load_with_the_saved_vsock_path_present_is_fatal(sim, tmp):
    snap, mem = take_snapshot(sim, tmp)
    sim.stop()
    os.unlink(sim.api)  # the vsock path stays: Firecracker never unlinks it
    s = Sim(tmp)
    try:
        r = s.put("/snapshot/load", {"snapshot_path": snap, "mem_backend": {"backend_type": "File", "backend_path": mem}})
        assert r.status == 400 and "Address in use" in r.json()["fault_message"]
        assert s.proc.wait(10) == 1
    finally:
        s.stop()


def test_network_override_for_unknown_interface_is_fatal(sim, tmp):
    snap, mem = take_snapshot(sim, tmp)
    sim.stop()
    os.unlink(sim.api)
    os.unlink(sim.vsock)
    s = Sim(tmp)
    try:
        r = s.put("/snapshot/load", {"snapshot_path": snap, "mem_file_path": mem,
                                     "network_overrides": [{"iface_id": "eth9", "host_dev_name": "tap9"}]})
        assert r.status == 400 and "eth9" in r.json()["fault_message"]
        assert s.proc.wait(10) == 1
    finally:
        s.stop()


def test_fcsim_version_is_reported(tmp):
    s = Sim(tmp, env={"FCSIM_VERSION": "1.16.0"})
    try:
        assert s.conn.request("GET", "/version").json()["firecracker_version"] == "1.16.0"
    finally:
        s.stop()
