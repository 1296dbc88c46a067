# chapter: 10
"""Chapter 10: a running container's processes (`ps`, as docker top calls
it) and new limits for it (`update`, as podman update and containerd call it)."""

from __future__ import annotations

import json

from bundles import caller, write_bundle  # noqa: F401  (caller: a fixture)

MIB = 1024 * 1024
LIMIT_FILES = ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max")


def start_sleeper(caller, rootfs, tmp_path, container_id: str) -> int:
    def limited(config: dict) -> None:
        config["linux"]["resources"]["memory"] = {"limit": 64 * MIB}

    bundle = write_bundle(tmp_path / "b", rootfs, ["sleep", "60"], limited)
    pid = caller.create(bundle, container_id)
    caller("start", container_id)
    return pid


def memory_limit(caller, container_id: str) -> int:
    script = " || ".join(f"cat {path} 2>/dev/null" for path in LIMIT_FILES)
    return int(caller("exec", container_id, "sh", "-c", script).stdout)


def test_ps_lists_the_containers_processes(caller, rootfs, tmp_path):
    pid = start_sleeper(caller, rootfs, tmp_path, "p1")
    extra = tmp_path / "extra.pid"
    caller("exec", "--detach", "--pid-file", str(extra), "p1", "sleep", "30")
    pids = json.loads(caller("ps", "--format", "json", "p1").stdout)
    assert sorted(pids) == sorted([pid, int(extra.read_text())])
    table = caller("ps", "p1").stdout.splitlines()
    assert "PID" in table[0].split() and len(table) == 3
    assert caller("list", "--quiet").stdout.split() == ["p1"]
    # Without an id, Docker's reading: dkr run's containers, of which there are none.
    assert caller("ps", "--quiet").stdout == ""
    caller("kill", "--all", "p1", "KILL")
    assert caller.wait(int(extra.read_text())) == caller.wait(pid) == -9


def test_update_changes_the_limits_of_a_running_container(caller, rootfs, tmp_path):
    start_sleeper(caller, rootfs, tmp_path, "u1")
    assert memory_limit(caller, "u1") == 64 * MIB
    resources = tmp_path / "resources.json"
    resources.write_text(json.dumps({"memory": {"limit": 96 * MIB}}))
    caller("update", "--resources", str(resources), "u1")  # Podman's way
    assert memory_limit(caller, "u1") == 96 * MIB
    resources.write_text(json.dumps({"memory": {"limit": 80 * MIB}}))
    with open(resources) as stdin:
        caller("update", "--resources", "-", "u1", stdin=stdin)  # containerd's way
    assert memory_limit(caller, "u1") == 80 * MIB
    caller("update", "--memory", str(48 * MIB), "u1")
    assert memory_limit(caller, "u1") == 48 * MIB


def test_update_needs_a_limit_and_a_well_formed_one(caller, rootfs, tmp_path):
    start_sleeper(caller, rootfs, tmp_path, "u2")
    nothing = caller("update", "u2", check=False)
    assert nothing.returncode == 125 and "--resources" in nothing.stderr
    resources = tmp_path / "bad.json"
    resources.write_text(json.dumps({"memory": {"limit": "lots"}}))
    bad = caller("update", "--resources", str(resources), "u2", check=False)
    assert bad.returncode == 125 and "resources: memory.limit: give a whole number" in bad.stderr
