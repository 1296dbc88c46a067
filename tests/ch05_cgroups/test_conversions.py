# chapter: 5
"""Chapter 5, without root: Docker's options, the spec's units, and what each
cgroup version's files take; and how dkr tells the versions apart."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dkr.cgroups import convert, format_bytes, v1, v2
from dkr.cgroups.host import CgroupMount, Host, cgroup_mounts, choose
from dkr.cgroups.v1 import CgroupV1
from dkr.cgroups.v2 import CgroupV2
from dkr.config import CPU, Memory, Pids, Resources
from dkr.errors import DkrError
from dkr.parser import build_parser
from dkr.run import cpus_to_quota, parse_bytes, resources_from_args

MIB = 1 << 20


# The spec's numbers -> cgroup values ---------------------------------------

@pytest.mark.parametrize("shares, weight", [
    (2, 1), (1, 1), (262144, 10000), (300000, 10000),  # the ends of both ranges, and beyond
    (1024, 100),  # the default onto the default
    (512, 59), (2048, 174), (128, 21),
])
def test_shares_to_weight(shares, weight):
    assert convert.shares_to_weight(shares) == weight


def test_weight_grows_with_shares_and_reads_back():
    weights = [convert.shares_to_weight(shares) for shares in range(2, 262145, 97)]
    assert weights == sorted(weights)
    for shares in (2, 3, 100, 512, 1024, 5000, 262144):
        weight = convert.shares_to_weight(shares)
        assert convert.shares_to_weight(convert.weight_to_shares(weight)) == weight
    assert convert.weight_to_shares(100) == 1024


@pytest.mark.parametrize("memory, swap_max", [
    (Memory(limit=64 * MIB, swap=128 * MIB), str(64 * MIB)),  # memory+swap minus memory
    (Memory(limit=64 * MIB, swap=64 * MIB), "0"),  # no swap at all
    (Memory(limit=64 * MIB, swap=-1), "max"),
    (Memory(limit=64 * MIB), None),  # not set: left as the host has it
])
def test_swap_for_v2(memory, swap_max):
    assert convert.swap_v2(memory) == swap_max


@pytest.mark.parametrize("memory, words", [
    (Memory(swap=128 * MIB), "needs a memory limit"),
    (Memory(limit=64 * MIB, swap=32 * MIB), "below the memory limit"),
])
def test_impossible_swap_limits(memory, words):
    with pytest.raises(DkrError, match=words):
        convert.check_memory(memory)


def test_cpu_max_pids_max_and_limits():
    assert convert.cpu_max(50_000, 100_000) == "50000 100000"
    assert convert.cpu_max(None, 100_000) == "max 100000"
    assert convert.cpu_max(-1, None) == "max"
    assert convert.cpu_max(None, None) is None
    assert convert.pids_max(20) == "20"
    assert convert.pids_max(-1) == "max"
    assert convert.pids_max(0) is None and convert.pids_max(None) is None
    assert convert.limit(-1) == "max" and convert.limit(-1, "-1") == "-1"
    assert convert.parse_limit("max\n") == -1
    assert convert.parse_limit("9223372036854771712") == -1  # v1's "no limit"
    assert convert.parse_limit("67108864") == 67108864


FULL = Resources(memory=Memory(limit=64 * MIB, reservation=32 * MIB, swap=128 * MIB),
                 cpu=CPU(shares=512, quota=50_000, period=100_000, cpus="0", mems="0"),
                 pids=Pids(20))


def test_v2_files():
    assert v2.resource_files(FULL) == {
        "cpuset.cpus": "0", "cpuset.mems": "0", "cpu.weight": "59", "cpu.max": "50000 100000",
        "memory.max": str(64 * MIB), "memory.low": str(32 * MIB), "memory.swap.max": str(64 * MIB),
        "pids.max": "20",
    }
    assert v2.memory_files(Memory(limit=-1)) == {"memory.max": "max"}
    assert v2.pids_files(Pids(-1)) == {"pids.max": "max"}
    assert v2.resource_files(Resources()) == {}


def test_v1_files():
    files = v1.resource_files(FULL)
    assert files == {
        "cpuset.cpus": "0", "cpuset.mems": "0", "cpu.shares": "512",
        "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "50000",
        "memory.limit_in_bytes": str(64 * MIB), "memory.soft_limit_in_bytes": str(32 * MIB),
        "memory.memsw.limit_in_bytes": str(128 * MIB), "pids.max": "20",
    }
    names = list(files)
    assert names.index("memory.limit_in_bytes") < names.index("memory.memsw.limit_in_bytes")
    assert v1.memory_files(Memory(limit=64 * MIB, swap=-1))["memory.memsw.limit_in_bytes"] == "-1"


# The drivers on a made-up cgroup tree --------------------------------------

V2_FILES = ("cgroup.procs", "cpu.max", "cpu.weight", "cpuset.cpus", "cpuset.mems", "memory.max",
            "memory.low", "memory.swap.max", "pids.max")


def fake_cgroup(directory: Path, names: tuple[str, ...]) -> None:
    directory.mkdir(parents=True)
    for name in names:
        (directory / name).write_text("")


def test_v2_driver_writes_and_reads_back(tmp_path: Path):
    fake_cgroup(tmp_path / "dkr" / "c1", V2_FILES)
    cgroup = CgroupV2(str(tmp_path), "/dkr/c1")
    cgroup.apply(FULL)
    assert (tmp_path / "dkr/c1/memory.swap.max").read_text() == str(64 * MIB)
    back = cgroup.read_resources()
    assert back.cpu.shares == convert.weight_to_shares(59)  # v2 keeps a weight, not shares
    back.cpu.shares = FULL.cpu.shares
    assert back == FULL


def test_v1_driver_writes_each_controller_in_its_own_hierarchy(tmp_path: Path):
    files = v1.resource_files(FULL)
    hierarchies = {name: str(tmp_path / name) for name in ("memory", "cpu", "cpuset", "pids")}
    for controller in hierarchies:
        fake_cgroup(tmp_path / controller / "dkr" / "c1",
                    tuple(name for name in files if name.startswith(controller + ".")))
    cgroup = CgroupV1(hierarchies, "/dkr/c1")
    cgroup.apply(FULL)
    assert (tmp_path / "memory/dkr/c1/memory.memsw.limit_in_bytes").read_text() == str(128 * MIB)
    assert (tmp_path / "cpu/dkr/c1/cpu.cfs_quota_us").read_text() == "50000"
    assert cgroup.read_resources() == FULL


def test_a_limit_the_host_cannot_apply_is_one_clear_error(tmp_path: Path):
    fake_cgroup(tmp_path / "memory" / "dkr" / "c1", ("memory.limit_in_bytes",))  # no memsw: no swap accounting
    cgroup = CgroupV1({"memory": str(tmp_path / "memory")}, "/dkr/c1")
    with pytest.raises(DkrError, match="does not account swap.*leave out --memory-swap"):
        cgroup.apply(Resources(memory=Memory(limit=64 * MIB, swap=128 * MIB)))
    with pytest.raises(DkrError, match="no pids cgroup: leave out the pids limit"):
        cgroup.apply(Resources(pids=Pids(10)))


# Which driver: what the host mounts ----------------------------------------

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
"""
UNIFIED = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"


def test_mountinfo_parsing():
    mounts = cgroup_mounts(HYBRID + r"50 23 0:40 / /mnt/with\040space rw - cgroup2 cgroup2 rw" + "\n")
    assert [m.point for m in mounts] == ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory",
                                         "/sys/fs/cgroup/pids", "/sys/fs/cgroup/systemd",
                                         "/sys/fs/cgroup/unified", "/mnt/with space"]
    assert "cpuacct" in mounts[0].options


def test_unified_hosts_get_v2():
    host = choose(cgroup_mounts(UNIFIED), {"/sys/fs/cgroup": ["cpu", "memory", "pids"]})
    assert host == Host("v2", unified="/sys/fs/cgroup")


def test_hybrid_and_legacy_hosts_get_v1():
    host = choose(cgroup_mounts(HYBRID), {"/sys/fs/cgroup/unified": []})
    assert host.version == "v1"
    assert host.hierarchies["cpu"] == host.hierarchies["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert host.hierarchies["memory"] == "/sys/fs/cgroup/memory"
    legacy = [m for m in cgroup_mounts(HYBRID) if m.fstype == "cgroup"]
    assert choose(legacy, {}).version == "v1"
    assert len(CgroupV1(host.hierarchies, "/dkr/x").directories) == 3  # cpu and cpuacct share one


def test_no_cgroups_at_all_is_a_clear_error():
    with pytest.raises(DkrError, match="mount -t cgroup2"):
        choose([CgroupMount("/sys/fs/cgroup/systemd", "cgroup", ("name=systemd",))], {})


# Docker's options -> the spec ----------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("64m", 64 * MIB), ("64M", 64 * MIB), ("64mb", 64 * MIB), ("1g", 1 << 30), ("1.5g", 3 << 29),
    ("512k", 512 << 10), ("100", 100), ("100b", 100),
])
def test_parse_bytes(text, value):
    assert parse_bytes(text) == value


@pytest.mark.parametrize("text", ["", "m", "64x", "-5m", "1e3"])
def test_parse_bytes_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_bytes(text)


def test_cpus_is_a_quota_of_100ms_periods():
    assert cpus_to_quota(0.5) == 50_000
    assert cpus_to_quota(0.2) == 20_000
    assert cpus_to_quota(1) == 100_000
    with pytest.raises(DkrError, match="between 0.01 and"):
        cpus_to_quota(0.001)


def options(*argv: str) -> argparse.Namespace:
    return build_parser()[0].parse_args(["run", *argv, "true"])


def test_docker_options_become_the_specs_resources(monkeypatch):
    monkeypatch.setattr("dkr.cgroups.accounts_swap", lambda: True)
    resources = resources_from_args(options(
        "--memory", "64m", "--memory-swap", "128m", "--memory-reservation", "32m", "--cpus", "0.5",
        "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--pids-limit", "20"))
    assert resources == FULL
    assert resources_from_args(options("--memory", "64m")).memory.swap == 128 * MIB  # Docker: swap as much as memory
    assert resources_from_args(options("--memory", "64m", "--memory-swap", "-1")).memory.swap == -1
    assert resources_from_args(options("--pids-limit", "0")).pids.limit == -1  # Docker: 0 or -1, unlimited
    assert resources_from_args(options()) == Resources()


def test_without_swap_accounting_the_default_swap_is_dropped_with_a_warning(monkeypatch, capfd):
    monkeypatch.setattr("dkr.cgroups.accounts_swap", lambda: False)
    assert resources_from_args(options("--memory", "64m")).memory.swap is None
    assert "warning: this host's kernel does not account swap" in capfd.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (("--memory", "1m"), "at least 6m"),
    (("--memory-swap", "1g"), "needs --memory"),
    (("--memory", "64m", "--memory-reservation", "128m"), "must not be above --memory"),
])
def test_docker_option_checks(argv, words):
    with pytest.raises(DkrError, match=words):
        resources_from_args(options(*argv))


def test_format_bytes():
    assert format_bytes(64 * MIB) == "64m"
    assert format_bytes(1 << 30) == "1g"
    assert format_bytes(3 << 10) == "3k"
    assert format_bytes(1536) == "1536b"
