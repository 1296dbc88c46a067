# chapter: 5
"""Which cgroups this host has, read from its mount table.

Hosts come in three kinds:

- unified: one cgroup2 file system at /sys/fs/cgroup, holding every
  controller (most distributions today);
- legacy: a cgroup (v1) file system per controller, at
  /sys/fs/cgroup/<controller>;
- hybrid: legacy controllers, plus a cgroup2 file system (often at
  /sys/fs/cgroup/unified) that holds no controller, only systemd's
  bookkeeping.

A controller can be bound to one version at a time, so dkr uses v1 as soon
as one of its controllers is mounted there (legacy and hybrid), and v2
otherwise.
"""

from __future__ import annotations

import functools
import os
import re
from typing import NamedTuple

from dkr.errors import DkrError
from dkr.linux.fs import read_file

# The controllers whose place decides between the versions.
LIMITING_CONTROLLERS = ("memory", "cpu", "pids", "cpuset")
CGROUP_ROOT = "/sys/fs/cgroup"


class CgroupMount(NamedTuple):
    """One cgroup or cgroup2 mount: where, which kind, its controllers (v1)."""

    point: str
    fstype: str
    options: tuple[str, ...] = ()


class Host(NamedTuple):
    """What the host mounts: the version dkr drives, and where."""

    version: str  # "v1" or "v2"
    unified: str | None = None  # the cgroup2 mount
    # v1: controller -> mount point
    hierarchies: dict[str, str] = {}  # never changed: a Host is a snapshot


def cgroup_mounts(mountinfo: str) -> list[CgroupMount]:
    """The cgroup and cgroup2 mounts in a /proc/PID/mountinfo text, in order.

    A line is "ID PARENT MAJ:MIN ROOT POINT OPTIONS [TAGS...] - FSTYPE SOURCE
    SUPER_OPTIONS".
    """
    found = []
    for line in mountinfo.splitlines():
        before, _, after = line.partition(" - ")
        fields, rest = before.split(), after.split()
        if len(fields) < 5 or len(rest) < 3 or rest[0] not in ("cgroup", "cgroup2"):
            continue
        point = _unescape(fields[4])
        found.append(CgroupMount(point, rest[0], tuple(rest[2].split(","))))
    return found


def _unescape(path: str) -> str:
    """mountinfo writes a space in a path as \\040 (octal), and so on."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match[1], 8)), path)


def choose(mounts: list[CgroupMount],
           unified_controllers: dict[str, list[str]]) -> Host:
    """The host's kind, from its cgroup mounts and each cgroup2 mount's
    cgroup.controllers."""
    hierarchies: dict[str, str] = {}
    for mount in mounts:
        if mount.fstype == "cgroup":
            for option in mount.options:
                hierarchies.setdefault(option, mount.point)
    if any(name in hierarchies for name in LIMITING_CONTROLLERS):
        return Host("v1", hierarchies=hierarchies)
    unified = [m.point for m in mounts if m.fstype == "cgroup2"]
    unified.sort(key=lambda point: (point != CGROUP_ROOT,
                                    not unified_controllers.get(point)))
    if unified:
        return Host("v2", unified=unified[0])
    raise DkrError(f"this host mounts no cgroup file system: mount one with "
                   f"`mount -t cgroup2 none {CGROUP_ROOT}`")


@functools.cache
def detect() -> Host:
    """This host's cgroups. Looked up once per dkr process: the mounts do not
    change under a running container, and the container's process inherits
    the answer through fork."""
    mounts = cgroup_mounts(read_file("/proc/self/mountinfo"))
    controllers = {}
    for mount in mounts:
        listed = f"{mount.point}/cgroup.controllers"
        if mount.fstype == "cgroup2" and os.path.exists(listed):
            controllers[mount.point] = read_file(listed).split()
    return choose(mounts, controllers)
