# chapter: 5
"""Chapter 5: real limits in real cgroups, on whichever version the host has.

Run with DKR_EXPECT_CGROUP=v1 or v2 to check that dkr drove that version:
CI runs these tests on a host with cgroup v1 controllers and in a VM with
cgroup v2 only, so both drivers are proven on a real kernel.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import container_pid, wait_for_line
from dkr import cgroups
from dkr.cgroups import convert
from dkr.cgroups.driver import Cgroup
from dkr.cgroups.host import detect
from dkr.config import CPU, Memory, Pids, Resources

MIB = 1 << 20
EXPECTED = os.environ.get("DKR_EXPECT_CGROUP")
# The trace line of a cgroup directory dkr makes for a container.
MKDIR = re.compile(r'mkdir\("(/[^"]+/dkr/[0-9a-f]+)"')


def cgroup_path(pid: int) -> str:
    """The cgroup path ("/dkr/<id>") dkr put process `pid` in, from /proc/PID/cgroup."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        path = line.split(":", 2)[2]
        if path.startswith("/dkr/"):
            return path
    raise AssertionError(f"process {pid} is in no dkr cgroup: {Path(f'/proc/{pid}/cgroup').read_text()}")


def cgroup_file(path: str, name: str) -> str:
    """A cgroup's file, read straight from the host's cgroup file system."""
    host = detect()
    mount = host.unified if host.version == "v2" else host.hierarchies[name.partition(".")[0]]
    return Path(f"{mount}{path}/{name}").read_text().strip()


def without_network(args: tuple[str, ...]) -> list[str]:
    """`dkr run --net none …`: these tests are about cgroups, and the cgroup v2
    VM that CI runs them in has no bridge or veth in its kernel."""
    args = list(args)
    at = args.index("run") + 1
    args[at:at] = ["--net", "none"]
    return args


@pytest.fixture
def dkr(dkr):
    return lambda *args, **kwargs: dkr(*without_network(args), **kwargs)


@pytest.fixture
def start_dkr(start_dkr):
    return lambda *args, **kwargs: start_dkr(*without_network(args), **kwargs)


@pytest.fixture
def running(start_dkr):
    """Start a container that says "ready" and waits: (its dkr, its first process, its cgroup).
    The test ends it with `end`."""

    def start(*options: str, script: str = "echo ready; exec sleep 600") -> tuple[subprocess.Popen, int, Cgroup]:
        process = start_dkr("run", *options, "sh", "-c", script)
        wait_for_line(process, "ready", timeout=60)
        pid = container_pid(process)
        return process, pid, cgroups.open_cgroup(cgroup_path(pid))

    return start


def end(process: subprocess.Popen, pid: int) -> None:
    """Kill the container's first process; dkr then removes the cgroup."""
    os.kill(pid, signal.SIGKILL)
    assert process.wait(timeout=60) == 128 + signal.SIGKILL


def test_the_expected_driver_runs(dkr):
    version = detect().version
    if EXPECTED:
        assert version == EXPECTED, f"DKR_EXPECT_CGROUP={EXPECTED}, but dkr chose cgroup {version}"
    result = dkr("--trace", "run", "--memory", "64m", "true")
    assert result.returncode == 0, result.stderr
    name = "memory.max" if version == "v2" else "memory.limit_in_bytes"
    assert f'/{name}", "67108864") = 0' in result.stderr


def test_the_process_is_in_its_cgroup_before_anything_else(dkr):
    result = dkr("--trace", "run", "--pids-limit", "50", "true")
    assert result.returncode == 0, result.stderr
    made = {match[1] for match in MKDIR.finditer(result.stderr)}  # …/dkr/<id>, per hierarchy
    ours = {"/dkr/" + directory.rpartition("/dkr/")[2] for directory in made}
    assert len(ours) == 1, made
    directories = cgroups.open_cgroup(ours.pop()).directories
    # Its first step, before any other kernel call: join the cgroup (each hierarchy's, on v1).
    container = [line for line in result.stderr.splitlines() if line.startswith("container[")]
    joins = [f'write_file("{directory}/cgroup.procs", "0") = 0' for directory in directories]
    assert [line.split("] ", 1)[1] for line in container[:len(joins)]] == joins, container
    assert "cgroup.procs" not in container[len(joins)]


def test_a_pids_limit_stops_forks(dkr):
    script = "for i in $(seq 20); do sleep 5 & done; echo all started"
    limited = dkr("run", "--pids-limit", "10", "sh", "-c", script)
    assert limited.returncode != 0
    assert "all started" not in limited.stdout
    assert "fork" in limited.stderr.lower(), limited.stderr  # busybox: "can't fork: Resource temporarily unavailable"
    roomy = dkr("run", "--pids-limit", "30", "sh", "-c", script)
    assert roomy.stdout == "all started\n", roomy.stderr


def test_a_memory_hog_is_oom_killed_and_reported(dkr):
    result = dkr("run", "--memory", "32m", "tail", "/dev/zero", timeout=120)  # tail keeps one endless line
    assert result.returncode == 137
    assert result.stderr == "dkr: the container was OOM-killed (memory limit 32m)\n"


def test_within_its_memory_limit_nothing_is_reported(dkr):
    result = dkr("run", "--memory", "32m", "sh", "-c", "head -c 8m /dev/zero | wc -c")
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, str(8 * MIB), "")


def test_a_busy_loop_is_held_to_its_cpu_quota(running):
    process, pid, cgroup = running("--cpus", "0.2", script="echo ready; while :; do :; done")
    try:
        time.sleep(0.5)  # into the steady state
        before, start = cgroup.cpu_stats(), time.monotonic()
        time.sleep(1.0)
        after, elapsed = cgroup.cpu_stats(), time.monotonic() - start
        raw = cgroup_file(cgroup.path, "cpu.stat")
    finally:
        end(process, pid)
    assert after.nr_throttled > before.nr_throttled
    assert after.throttled_usec > before.throttled_usec
    used = (after.usage_usec - before.usage_usec) / 1e6 / elapsed
    assert 0.05 < used < 0.4, f"{used:.2f} CPUs used under --cpus 0.2"
    throttled = "throttled_usec" if cgroup.version == "v2" else "throttled_time"  # the kernel's own counters
    assert re.search(r"^nr_throttled [1-9]", raw, re.M) and re.search(rf"^{throttled} [1-9]", raw, re.M), raw


def test_limits_read_back_as_asked(running):
    process, pid, cgroup = running("--memory", "64m", "--memory-swap", "128m", "--memory-reservation", "32m",
                                   "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0",
                                   "--cpuset-mems", "0", "--pids-limit", "20")
    try:
        back = cgroup.read_resources()
        files = {name: cgroup_file(cgroup.path, name) for name in FILES[cgroup.version]}
    finally:
        end(process, pid)
    asked = Resources(memory=Memory(limit=64 * MIB, reservation=32 * MIB, swap=128 * MIB),
                      cpu=CPU(shares=512, quota=50_000, period=100_000, cpus="0", mems="0"),
                      pids=Pids(20))
    if cgroup.version == "v2":  # cpu.weight holds fewer values than shares: compare by weight
        assert convert.shares_to_weight(back.cpu.shares) == convert.shares_to_weight(512)
        back.cpu.shares = 512
    assert back == asked
    assert files == FILES[cgroup.version]


# The same limits, as each version's files hold them.
FILES = {
    "v2": {"memory.max": str(64 * MIB), "memory.low": str(32 * MIB),
           "memory.swap.max": str(64 * MIB),  # swap alone: 128m of memory+swap less 64m
           "cpu.max": "50000 100000", "cpu.weight": "59", "cpuset.cpus": "0", "cpuset.mems": "0",
           "pids.max": "20"},
    "v1": {"memory.limit_in_bytes": str(64 * MIB), "memory.soft_limit_in_bytes": str(32 * MIB),
           "memory.memsw.limit_in_bytes": str(128 * MIB), "cpu.cfs_quota_us": "50000",
           "cpu.cfs_period_us": "100000", "cpu.shares": "512", "cpuset.cpus": "0", "cpuset.mems": "0",
           "pids.max": "20"},
}


def test_the_cgroup_is_gone_after_the_container(dkr):
    result = dkr("--trace", "run", "--pids-limit", "5", "--memory", "16m", "true")
    made = MKDIR.findall(result.stderr)
    assert made, result.stderr
    assert not [directory for directory in made if os.path.exists(directory)]
    assert "rmdir(" in result.stderr


def test_processes_left_in_a_cgroup_are_killed_before_it_is_removed(root):
    cgroup = cgroups.open_cgroup(f"/dkr/test-{os.getpid()}")
    cgroup.create()
    try:
        sleeper = subprocess.Popen(["sleep", "600"], preexec_fn=cgroup.join)
        deadline = time.monotonic() + 10
        while sleeper.pid not in cgroup.pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cgroup.pids() == {sleeper.pid}
        cgroup.kill_all()
        assert sleeper.wait(timeout=10) == -signal.SIGKILL
    finally:
        cgroup.kill_all()
        cgroup.remove()
    assert not any(os.path.exists(directory) for directory in cgroup.directories)


@pytest.mark.parametrize("options, words", [
    (("--cpuset-cpus", "99"), "cannot set cpuset.cpus to 99"),
    (("--memory", "64m", "--memory-swap", "32m"), "below the memory limit"),
    (("--memory", "1m"), "--memory must be at least 6m"),
    (("--cpus", "0"), "--cpus must be between 0.01 and"),
])
def test_limits_that_cannot_be_applied_are_one_line_and_125(dkr, options, words):
    result = dkr("run", *options, "true")
    assert result.returncode == 125
    assert result.stderr.startswith("dkr: ") and result.stderr.count("\n") == 1, result.stderr
    assert words in result.stderr


def test_a_container_that_dkr_cannot_start_leaves_no_cgroup(dkr):
    result = dkr("--trace", "run", "--memory", "64m", "no-such-command")
    assert result.returncode == 127
    made = MKDIR.findall(result.stderr)
    assert made and not [directory for directory in made if os.path.exists(directory)]
