# chapter: 5
"""cgroup v2: one unified hierarchy, one directory per container.

Every controller lives in the same tree, and a controller is available in
a cgroup only if its parent lists it in cgroup.subtree_control. The "no
internal processes" rule says a cgroup that hands controllers down to its
children may hold no process itself, so containers are leaves under a
`dkr` parent that never holds one.
"""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

from dkr.cgroups import convert
from dkr.cgroups import devices  # chapter: 6
from dkr.cgroups.driver import (Cgroup, CpuStats, exists_already, make_directory,
                                read_keyed, read_pids, write_value)
from dkr.errors import DkrError
from dkr.linux.fs import read_file, write_file

if TYPE_CHECKING:
    from dkr.config import CPU, Memory, Pids, Resources

# The controllers dkr enables for its cgroups, when the host has them.
CONTROLLERS = ("cpuset", "cpu", "memory", "pids")


def memory_files(memory: Memory) -> dict[str, str]:
    """memory.max (the limit), memory.low (the reservation) and memory.swap.max
    (swap alone, where the spec counts memory and swap together), for the
    fields `memory` sets: a field that is None or 0 writes no file, and -1
    is written "max"."""
    files = {}
    if memory.limit:
        files["memory.max"] = convert.limit(memory.limit)
    if memory.reservation:
        files["memory.low"] = convert.limit(memory.reservation)
    swap = convert.swap_v2(memory)
    if swap is not None:
        files["memory.swap.max"] = swap
    return files


def cpuset_files(cpu: CPU) -> dict[str, str]:
    """cpuset.cpus and cpuset.mems: which CPUs and memory nodes it may use."""
    files = {}
    if cpu.cpus:
        files["cpuset.cpus"] = cpu.cpus
    if cpu.mems:
        files["cpuset.mems"] = cpu.mems
    return files


def cpu_files(cpu: CPU) -> dict[str, str]:
    """The cpuset files, cpu.weight (from shares) and cpu.max (quota and period)."""
    files = cpuset_files(cpu)
    if cpu.shares:
        files["cpu.weight"] = str(convert.shares_to_weight(cpu.shares))
    cpu_max = convert.cpu_max(cpu.quota, cpu.period)
    if cpu_max is not None:
        files["cpu.max"] = cpu_max
    return files


def pids_files(pids: Pids) -> dict[str, str]:
    """pids.max: the most tasks (processes and threads) the cgroup may hold,
    "max" for -1; no file at all when the spec sets no limit (None or 0)."""
    value = convert.pids_max(pids.limit)
    return {} if value is None else {"pids.max": value}


def resource_files(resources: Resources) -> dict[str, str]:
    """Every file to write for `resources`, in order."""
    return {**cpu_files(resources.cpu), **memory_files(resources.memory),
            **pids_files(resources.pids)}


class CgroupV2(Cgroup):
    """A container's cgroup in the unified hierarchy mounted at `mount`."""

    version = "v2"

    def __init__(self, mount: str, path: str) -> None:
        super().__init__(path)
        self.mount = mount
        self.directory = mount + path

    @property
    def directories(self) -> list[str]:
        return [self.directory]

    def create(self) -> None:
        """Make each missing directory on the way down, handing the controllers
        down at every level: a cgroup gets a controller only from its parent."""
        current = self.mount
        for part in self.path.strip("/").split("/"):
            self._enable_controllers(current)
            current = f"{current}/{part}"
            made = make_directory(current)
            if current == self.directory and not made:
                raise exists_already(self.path)

    def _enable_controllers(self, directory: str) -> None:
        available = read_file(f"{directory}/cgroup.controllers").split()
        enabled = read_file(f"{directory}/cgroup.subtree_control").split()
        wanted = [name for name in CONTROLLERS
                  if name in available and name not in enabled]
        if not wanted:
            return
        try:
            write_file(f"{directory}/cgroup.subtree_control",
                       " ".join(f"+{name}" for name in wanted))
        except OSError as error:
            if error.errno == errno.EBUSY:  # the "no internal processes" rule
                raise DkrError(f"cannot hand the {', '.join(wanted)} controllers down "
                               f"from {directory}: it holds processes; move them to a "
                               f"child cgroup, or run dkr where {directory} has none"
                               ) from None
            raise

    def apply(self, resources: Resources) -> None:
        for name, value in resource_files(resources).items():
            write_value(self.directory, name, value)
        if resources.devices:  # chapter: 6
            devices.attach_v2(self.directory, resources.devices)  # chapter: 6

    def join(self) -> None:
        write_file(f"{self.directory}/cgroup.procs", "0")  # "0": the writer itself

    def read_resources(self) -> Resources:
        from dkr.config import CPU, Memory, Pids, Resources  # for `update` alone

        files = self._read(("memory.max", "memory.low", "memory.swap.max", "cpu.weight",
                            "cpu.max", "cpuset.cpus", "cpuset.mems", "pids.max"))
        memory = Memory()
        if "memory.max" in files:
            memory.limit = convert.parse_limit(files["memory.max"])
            memory.reservation = convert.parse_limit(files["memory.low"]) or None
        if "memory.swap.max" in files:
            swap = convert.parse_limit(files["memory.swap.max"])
            memory.swap = -1 if swap < 0 or memory.limit is None or memory.limit < 0 \
                else swap + memory.limit
        cpu = CPU(cpus=files.get("cpuset.cpus") or None,
                  mems=files.get("cpuset.mems") or None)
        if "cpu.weight" in files:
            cpu.shares = convert.weight_to_shares(int(files["cpu.weight"]))
        if "cpu.max" in files:
            quota, period = files["cpu.max"].split()
            cpu.quota, cpu.period = convert.parse_limit(quota), int(period)
        pids = Pids(convert.parse_limit(files["pids.max"])
                    if "pids.max" in files else None)
        return Resources(memory=memory, cpu=cpu, pids=pids)

    def _read(self, names: tuple[str, ...]) -> dict[str, str]:
        """The files among `names` that exist, stripped."""
        return {name: read_file(f"{self.directory}/{name}").strip() for name in names
                if os.path.exists(f"{self.directory}/{name}")}

    def cpu_stats(self) -> CpuStats:
        stat = read_keyed(f"{self.directory}/cpu.stat")
        return CpuStats(stat["usage_usec"], stat.get("nr_throttled", 0),
                        stat.get("throttled_usec", 0))

    def oom_kills(self) -> int:
        events = f"{self.directory}/memory.events"
        return read_keyed(events).get("oom_kill", 0) if os.path.exists(events) else 0

    def pids(self) -> set[int]:
        try:
            return read_pids(f"{self.directory}/cgroup.procs")
        except FileNotFoundError:
            return set()

    # chapter: 10 {
    def freeze(self, frozen: bool) -> None:
        write_file(f"{self.directory}/cgroup.freeze", "1" if frozen else "0")
        self._wait_until(frozen)

    def is_frozen(self) -> bool:
        events = read_keyed(f"{self.directory}/cgroup.events")
        return events.get("frozen") == 1
    # }

    def kill_all(self) -> None:
        """cgroup.kill (Linux 5.14) kills every process in the cgroup at once,
        the ones being forked included; older kernels get the loop."""
        if os.path.exists(f"{self.directory}/cgroup.kill") and self.pids():
            write_file(f"{self.directory}/cgroup.kill", "1")
        super().kill_all()
