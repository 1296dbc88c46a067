# chapter: 5
"""What a cgroup driver does, whichever cgroup version the host has.

A container's cgroup is one directory under the unified hierarchy (v2), or
one directory under each controller's hierarchy (v1). Either way dkr does
the same things with it, in this order: create it, apply the limits, have
the container's first process join it, read it while it runs, and at the
end kill whatever is left in it and remove it. `Cgroup` names those steps;
`v1.CgroupV1` and `v2.CgroupV2` carry them out on each kind of host.
"""

from __future__ import annotations

import abc
import errno
import os
import signal
import time
from typing import TYPE_CHECKING, NamedTuple

from dkr.errors import DkrError
from dkr.linux import unistd
from dkr.linux.fs import read_file, write_file
from dkr.linux.signal import kill

if TYPE_CHECKING:
    from dkr.config import Resources

# How long to wait for the processes of a killed cgroup to be gone.
EMPTY_TIMEOUT = 5.0


class CpuStats(NamedTuple):
    """The kernel's CPU accounting for a cgroup, in microseconds."""

    usage_usec: int | None  # CPU time used (v1: needs the cpuacct controller)
    nr_throttled: int  # periods in which the quota ran out
    throttled_usec: int  # time spent waiting for the next period


class Cgroup(abc.ABC):
    """One container's cgroup, at `path` (such as "/dkr/1a2b3c") in the host's
    hierarchies."""

    version: str  # "v1" or "v2"

    def __init__(self, path: str) -> None:
        self.path = path

    @property
    @abc.abstractmethod
    def directories(self) -> list[str]:
        """The cgroup's directories: one (v2), or one per hierarchy (v1)."""

    @abc.abstractmethod
    def create(self) -> None:
        """Make the directories, and what their parents need before a process
        can join."""

    @abc.abstractmethod
    def apply(self, resources: Resources) -> None:
        """Write the limits of `resources` into the cgroup's files."""

    @abc.abstractmethod
    def join(self) -> None:
        """Move the calling process into the cgroup; its children are born there."""

    @abc.abstractmethod
    def read_resources(self) -> Resources:
        """The limits the cgroup's files hold, in the spec's units (-1: no limit)."""

    @abc.abstractmethod
    def cpu_stats(self) -> CpuStats:
        """How much CPU the cgroup used, and how often its quota held it back."""

    @abc.abstractmethod
    def oom_kills(self) -> int:
        """How many of the cgroup's processes the OOM killer has ended."""

    @abc.abstractmethod
    def pids(self) -> set[int]:
        """The processes in the cgroup (host pids)."""

    # chapter: 10 {
    @abc.abstractmethod
    def freeze(self, frozen: bool) -> None:
        """Freeze every process of the cgroup (`dkr pause`), or thaw them;
        returns once the kernel has done it."""

    @abc.abstractmethod
    def is_frozen(self) -> bool:
        """Whether the cgroup is frozen."""

    def _wait_until(self, frozen: bool) -> None:
        deadline = time.monotonic() + EMPTY_TIMEOUT
        while self.is_frozen() != frozen:
            if time.monotonic() > deadline:
                raise DkrError(f"cgroup {self.path} did not "
                               f"{'freeze' if frozen else 'thaw'}")
            time.sleep(0.005)
    # }

    def kill_all(self) -> None:
        """SIGKILL every process in the cgroup until none is left.

        A process may fork while the list is read, so it is read again
        until it is empty. (v2 has a one-step cgroup.kill, see CgroupV2.)
        """
        deadline = time.monotonic() + EMPTY_TIMEOUT
        while pids := self.pids():
            for pid in pids:
                try:
                    kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                raise DkrError(f"processes {sorted(pids)} in cgroup {self.path} "
                               f"do not die")
            time.sleep(0.01)

    def remove(self) -> None:
        """Remove the cgroup's directories (the parents stay: they are shared)."""
        for directory in self.directories:
            remove_directory(directory)


def remove_directory(directory: str) -> None:
    """rmdir a cgroup, waiting briefly while it is busy.

    Killed processes leave their cgroup as they exit, a moment after the
    kill; until then rmdir fails with EBUSY.
    """
    deadline = time.monotonic() + EMPTY_TIMEOUT
    while True:
        try:
            unistd.rmdir(directory)
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def make_directory(directory: str) -> bool:
    """mkdir, unless it exists: whether it was made."""
    if os.path.isdir(directory):
        return False
    try:
        unistd.mkdir(directory)
    except FileExistsError:  # another dkr made it first
        return False
    return True


def read_keyed(path: str) -> dict[str, int]:
    """A file of "key number" lines (cpu.stat, memory.events) as a dict."""
    values = {}
    for line in read_file(path).splitlines():
        key, _, number = line.partition(" ")
        if number.strip().lstrip("-").isdigit():
            values[key] = int(number)
    return values


def read_pids(path: str) -> set[int]:
    """The pids listed in a cgroup.procs file."""
    return {int(pid) for pid in read_file(path).split()}


def write_value(directory: str, name: str, value: str) -> None:
    """Write one limit, saying in one line what to do when the host refuses it."""
    path = f"{directory}/{name}"
    if not os.path.exists(path):
        raise DkrError(missing_file_message(name))
    try:
        write_file(path, value)
    except OSError as error:
        why = os.strerror(error.errno or 0) + HINTS.get(name, "")
        raise DkrError(f"cannot set {name} to {value} in {directory}: {why}") from None


# What to check when the kernel refuses a value.
HINTS = {
    "cpuset.cpus": " (give CPUs this host has: see `nproc` or "
                   "/sys/devices/system/cpu/online)",
    "cpuset.mems": " (give memory nodes this host has: see "
                   "/sys/devices/system/node/online)",
    "memory.max": " (the container may already use more than that)",
    "memory.limit_in_bytes": " (the container may already use more than that)",
}


def exists_already(path: str) -> DkrError:
    """The error for a container's cgroup that is there before dkr made it."""
    return DkrError(f"cgroup {path} exists already: is another container using it?")


def missing_file_message(name: str) -> str:
    """Why a limit's file may be missing, and what to do about it."""
    if name in ("memory.swap.max", "memory.memsw.limit_in_bytes"):
        return (f"this host's kernel does not account swap (no {name}): leave out "
                f"--memory-swap, or boot Linux with swapaccount=1")
    controller = name.partition(".")[0]
    return (f"this host's cgroups have no {name} (is the {controller} controller "
            f"there?): leave out the {controller} limit")
