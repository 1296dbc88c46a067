# chapter: 10
"""What the engines' tests share: a record of what an engine changes on
the host beyond dkr, so that a test can put it back.

An engine keeps things of its own on the host that no dkr test made
before: Podman's netavark adds iptables chains and a bridge, mounts
/run/netns, turns on IP forwarding and keeps its state in /run/containers;
conmon's cgroup stays in Podman's parent cgroup. `EngineLeftovers` notes
what is there before, and removes what is new after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

from conftest import IP_FORWARD, cgroup_mount_points, mount_points, nft_tables

# The open files and processes the engines' containers get.
LIMIT = 1024


class EngineLeftovers:
    """What an engine made on the host, taken back when the block ends."""

    def __init__(self, directories: list[str], cgroup_parents: list[str],
                 mounts: list[str]) -> None:
        self.directories = [Path(path) for path in directories]
        self.cgroup_parents = cgroup_parents
        self.mounts = mounts

    def __enter__(self) -> EngineLeftovers:
        self.had = {path for path in self.directories if path.exists()}
        self.mounted = mount_points()
        self.tables = nft_tables()
        self.links = set(os.listdir("/sys/class/net"))
        self.forwarding = IP_FORWARD.read_text()
        self.cgroups = {path for path in self._cgroups() if path.exists()}
        return self

    def _cgroups(self) -> list[Path]:
        return [Path(point) / parent.lstrip("/")
                for point in cgroup_mount_points() for parent in self.cgroup_parents]

    def __exit__(self, *_exc: object) -> None:
        for mount in self.mounts:
            if mount in mount_points() and mount not in self.mounted:
                subprocess.run(["umount", "-l", mount], check=True)
        for path in self.directories:
            if path not in self.had:
                shutil.rmtree(path, ignore_errors=True)
        for table in nft_tables() - self.tables:  # "table ip nat"
            subprocess.run(["nft", "delete", *table.split()], check=False)
        for link in set(os.listdir("/sys/class/net")) - self.links:
            subprocess.run(["ip", "link", "del", link], check=False)
        IP_FORWARD.write_text(self.forwarding)
        for cgroup in self._cgroups():
            if cgroup.exists() and cgroup not in self.cgroups:
                for directory, _, _ in sorted(os.walk(cgroup), reverse=True):
                    with contextlib.suppress(OSError):
                        os.rmdir(directory)


def ulimit_options() -> list[str]:
    """--ulimit, low: Podman asks root containers for a million open files
    and processes, above the hard limits of a machine without
    CAP_SYS_RESOURCE (runc and crun refuse it there as dkr does), and
    conmon, which runs `create`, may have lower limits than Podman."""
    return ["--ulimit", f"nofile={LIMIT}:{LIMIT}", "--ulimit", f"nproc={LIMIT}:{LIMIT}"]
