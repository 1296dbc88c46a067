# chapter: 10
"""What the engines' tests share: a record of what an engine changes on
the host beyond dkr, so that a test can put it back.

An engine keeps things of its own on the host that no dkr test made
before: Podman's netavark adds iptables chains and a bridge, mounts
/run/netns, turns on IP forwarding and keeps its state in /run/containers;
conmon's cgroup stays in Podman's parent cgroup. Docker makes docker0,
its iptables tables, /run/docker, containerd's shim sockets in
/run/containerd and its key in /etc/docker. `EngineLeftovers` notes what
is there before, and removes what is new after.

The engines also run dkr with an environment of their own (conmon passes
none of the tests' on), so their dkr keeps the seccomp programs it
compiles in its default data directory, /var/lib/dkr: `dkr_cache_kept`
takes back, after each test, what a test's engine added there.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

import pytest

from conftest import IP_FORWARD, cgroup_mount_points, mount_points, nft_tables

# The open files and processes the engines' containers get.
LIMIT = 1024
# Inside a container: its cgroup's memory limit, on cgroup v1 or v2.
READ_MEMORY_LIMIT = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null "
                     "|| cat /sys/fs/cgroup/memory.max")


# dkr's data directory when DKR_DATA is not set, and its cache of programs there.
DEFAULT_DATA = Path("/var/lib/dkr")
DEFAULT_CACHE = DEFAULT_DATA / "seccomp"


@pytest.fixture(autouse=True)
def dkr_cache_kept():
    """Remove what an engine's dkr added to /var/lib/dkr during the test
    (an autouse fixture of each engine's module, imported there)."""
    directories = [path for path in (DEFAULT_DATA, DEFAULT_CACHE) if path.exists()]
    cached = set(DEFAULT_CACHE.glob("*"))
    yield
    for path in set(DEFAULT_CACHE.glob("*")) - cached:
        path.unlink()
    for directory in (DEFAULT_CACHE, DEFAULT_DATA):
        if directory.exists() and directory not in directories:
            with contextlib.suppress(OSError):  # not empty: the leak check names it
                directory.rmdir()


class EngineLeftovers:
    """What an engine made on the host, taken back when the block ends."""

    def __init__(self, paths: list[str], cgroup_parents: list[str],
                 mounts: list[str]) -> None:
        self.paths = [Path(path) for path in paths]  # directories or files
        self.cgroup_parents = cgroup_parents
        self.mounts = mounts

    def __enter__(self) -> EngineLeftovers:
        self.had = {path for path in self.paths if path.exists()}
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
        for path in self.paths:
            if path not in self.had:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
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


def wait_until_serving(answers: Callable[[], bool], daemon: subprocess.Popen,
                       log: Path, timeout: float = 60) -> None:
    """Wait until a daemon the test started `answers`; its log if it dies or
    takes longer than `timeout`."""
    deadline = time.monotonic() + timeout
    while not answers():
        if daemon.poll() is not None or time.monotonic() > deadline:
            text = log.read_text(errors="replace")
            raise AssertionError(f"{log.stem} did not start:\n{text[-2000:]}")
        time.sleep(0.1)


def run_in_a_terminal(command: list[str], env: dict[str, str] | None = None,
                      timeout: float = 30) -> tuple[int, str]:
    """Run an engine's `run -it` on a terminal of its own, as a person would:
    its exit status and what the terminal showed."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(command, stdin=follower, stdout=follower,
                                   stderr=follower, env=env)
        os.close(follower)
        output = b""
        while select.select([leader], [], [], timeout)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the engine has gone
                break
            if not chunk:
                break
            output += chunk
        return process.wait(timeout=timeout), output.decode(errors="replace")
    finally:
        os.close(leader)


def wait_for_processes_of(directory: Path, timeout: float = 20) -> None:
    """Wait until no process names `directory` on its command line: an
    engine's helpers outlive its commands. Podman's conmon, and the `podman
    container cleanup` it starts once a container has ended, would make
    netavark's state and conmon's cgroup again after the test had removed
    them; Docker's containerd and its shims end a moment after dockerd."""
    deadline = time.monotonic() + timeout
    while any(str(directory) in command for command in command_lines()):
        if time.monotonic() > deadline:
            raise AssertionError(f"the engine's processes for {directory} did not end")
        time.sleep(0.05)


def command_lines() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append((entry / "cmdline").read_bytes().decode(errors="replace"))
            except OSError:
                continue
    return found
