# chapter: 5
"""cgroup v1: one hierarchy per controller, one directory in each.

Each controller (memory, cpu, pids…) is mounted as a tree of its own, at
/sys/fs/cgroup/<controller>, and a process belongs to one cgroup in each
tree. So a container's cgroup is a directory of the same name in every
hierarchy dkr uses, and joining it means joining each of them. (Some hosts
mount several controllers together, such as cpu,cpuacct: one directory
then serves both.)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dkr.cgroups import convert
from dkr.cgroups import devices  # chapter: 6
from dkr.cgroups.driver import (Cgroup, CpuStats, exists_already, make_directory,
                                read_keyed, read_pids, remove_directory, write_value)
from dkr.cgroups.v2 import cpuset_files, pids_files  # the same files in both versions
from dkr.errors import DkrError
from dkr.linux.fs import read_file, write_file

if TYPE_CHECKING:
    from dkr.config import CPU, Memory, Resources

# The controllers whose hierarchies a container joins. cpuacct counts the
# CPU time that cpu.stat (unlike v2's) leaves out.
CONTROLLERS = ("cpuset", "cpu", "cpuacct", "memory", "pids")
CONTROLLERS += ("devices",)  # chapter: 6
CONTROLLERS += ("freezer",)  # chapter: 10


def memory_files(memory: Memory) -> dict[str, str]:
    """memory.limit_in_bytes, memory.soft_limit_in_bytes (the reservation) and
    memory.memsw.limit_in_bytes (memory and swap together, as in the spec).
    The memory limit comes first: memsw may never be below it."""
    files = {}
    if memory.limit:
        files["memory.limit_in_bytes"] = convert.limit(memory.limit, "-1")
    if memory.reservation:
        files["memory.soft_limit_in_bytes"] = convert.limit(memory.reservation, "-1")
    if memory.swap:
        files["memory.memsw.limit_in_bytes"] = convert.limit(memory.swap, "-1")
    return files


def cpu_files(cpu: CPU) -> dict[str, str]:
    """The cpuset files (as in v2), cpu.shares, and the CFS quota and period in
    microseconds."""
    files = cpuset_files(cpu)
    if cpu.shares:
        files["cpu.shares"] = str(cpu.shares)
    if cpu.period:
        files["cpu.cfs_period_us"] = str(cpu.period)
    if cpu.quota:
        files["cpu.cfs_quota_us"] = convert.limit(cpu.quota, "-1")
    return files


def resource_files(resources: Resources) -> dict[str, str]:
    """Every file to write for `resources`, in order; a file's controller is
    its prefix."""
    return {**cpu_files(resources.cpu), **memory_files(resources.memory),
            **pids_files(resources.pids)}


class CgroupV1(Cgroup):
    """A container's cgroup in the v1 hierarchies `hierarchies` (controller ->
    mount point)."""

    version = "v1"

    def __init__(self, hierarchies: dict[str, str], path: str) -> None:
        super().__init__(path)
        self.hierarchies = {name: mount for name, mount in hierarchies.items()
                            if name in CONTROLLERS}

    def directory(self, controller: str) -> str | None:
        """The cgroup's directory in `controller`'s hierarchy, if the host mounts
        one."""
        mount = self.hierarchies.get(controller)
        return None if mount is None else mount + self.path

    @property
    def directories(self) -> list[str]:
        return list(dict.fromkeys(self.directory(name) for name in self.hierarchies))

    def create(self) -> None:
        made: list[str] = []
        try:
            for mount in dict.fromkeys(self.hierarchies.values()):
                made += self._create_in(mount)
        except BaseException:
            for directory in reversed(made):
                remove_directory(directory)
            raise

    def _create_in(self, mount: str) -> list[str]:
        """Make the path in one hierarchy: the directories made, deepest last."""
        made = []
        current = mount
        for part in self.path.strip("/").split("/"):
            parent, current = current, f"{current}/{part}"
            if make_directory(current):
                made.append(current)
            elif current == mount + self.path:
                raise exists_already(self.path)
            if os.path.exists(f"{current}/cpuset.cpus"):
                self._inherit_cpuset(parent, current)
        return made

    @staticmethod
    def _inherit_cpuset(parent: str, child: str) -> None:
        """A new v1 cpuset starts with no CPUs and no memory nodes, and no
        process can join it so: give it its parent's."""
        for name in ("cpuset.cpus", "cpuset.mems"):
            if not read_file(f"{child}/{name}").strip():
                write_file(f"{child}/{name}", read_file(f"{parent}/{name}").strip())

    # chapter: 10 {
    def freeze(self, frozen: bool) -> None:
        directory = self.directory("freezer")
        if directory is None:
            raise DkrError("this host mounts no freezer cgroup: dkr cannot pause")
        write_file(f"{directory}/freezer.state", "FROZEN" if frozen else "THAWED")
        self._wait_until(frozen)

    def is_frozen(self) -> bool:
        directory = self.directory("freezer")
        return (directory is not None
                and read_file(f"{directory}/freezer.state").strip() == "FROZEN")
    # }

    def apply(self, resources: Resources) -> None:
        for name, value in resource_files(resources).items():
            controller = name.partition(".")[0]
            directory = self.directory(controller)
            if directory is None:
                raise DkrError(f"this host mounts no {controller} cgroup: leave out "
                               f"the {controller} limit")
            write_value(directory, name, value)
        # chapter: 6 {
        if resources.devices:
            devices_directory = self.directory("devices")
            if devices_directory is None:
                raise DkrError("this host mounts no devices cgroup: dkr cannot keep "
                               "the container from the host's devices")
            devices.write_v1(devices_directory, resources.devices)
        # }

    def join(self) -> None:
        for directory in self.directories:
            write_file(f"{directory}/cgroup.procs", "0")  # "0": the writer itself

    def _read(self, name: str) -> str | None:
        directory = self.directory(name.partition(".")[0])
        if directory is None or not os.path.exists(f"{directory}/{name}"):
            return None
        return read_file(f"{directory}/{name}").strip()

    def read_resources(self) -> Resources:
        from dkr.config import CPU, Memory, Pids, Resources  # for `update` alone

        memory, cpu, pids = Memory(), CPU(), Pids()
        if (text := self._read("memory.limit_in_bytes")) is not None:
            memory.limit = convert.parse_limit(text)
        if (text := self._read("memory.soft_limit_in_bytes")) is not None:
            memory.reservation = None if convert.parse_limit(text) < 0 else int(text)
        if (text := self._read("memory.memsw.limit_in_bytes")) is not None:
            memory.swap = convert.parse_limit(text)
        if (text := self._read("cpu.shares")) is not None:
            cpu.shares = int(text)
        if (text := self._read("cpu.cfs_quota_us")) is not None:
            cpu.quota = convert.parse_limit(text)
        if (text := self._read("cpu.cfs_period_us")) is not None:
            cpu.period = int(text)
        cpu.cpus = self._read("cpuset.cpus") or None
        cpu.mems = self._read("cpuset.mems") or None
        if (text := self._read("pids.max")) is not None:
            pids.limit = convert.parse_limit(text)
        return Resources(memory=memory, cpu=cpu, pids=pids)

    def cpu_stats(self) -> CpuStats:
        cpu = self.directory("cpu")
        stat = read_keyed(f"{cpu}/cpu.stat") if cpu else {}
        usage = self._read("cpuacct.usage")  # nanoseconds
        return CpuStats(None if usage is None else int(usage) // 1000,
                        stat.get("nr_throttled", 0),
                        stat.get("throttled_time", 0) // 1000)

    def oom_kills(self) -> int:
        """memory.oom_control's oom_kill (Linux 4.13). Older kernels count no
        kills: there, a failure to charge memory+swap is the best sign left."""
        memory = self.directory("memory")
        if memory is None:
            return 0
        control = read_keyed(f"{memory}/memory.oom_control")
        if "oom_kill" in control:
            return control["oom_kill"]
        failures = self._read("memory.memsw.failcnt") or self._read("memory.failcnt")
        return 1 if int(failures or 0) else 0

    def pids(self) -> set[int]:
        found: set[int] = set()
        for directory in self.directories:
            try:
                found |= read_pids(f"{directory}/cgroup.procs")
            except FileNotFoundError:
                pass
        return found
