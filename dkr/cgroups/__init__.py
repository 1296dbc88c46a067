# chapter: 5
"""Control groups: the container's limits on memory, CPU and processes.

A cgroup is a directory in a cgroup file system; the processes listed in
its cgroup.procs share the limits written to its other files. dkr makes
one per container, under a shared `dkr` parent: it creates it and writes
the limits before the container's process exists, the process joins it as
its very first step (so nothing it starts can be outside), and when the
container ends dkr kills whatever is left in it and removes it. The
container's state directory notes the cgroup before it is made, so that
the next dkr takes it back if this one is killed.

Which driver does the work depends on what the host mounts (see `host`):
`v2.CgroupV2` on a unified hierarchy, `v1.CgroupV1` on legacy and hybrid
hosts. Both are a `driver.Cgroup`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from dkr.cgroups import convert
from dkr.cgroups.driver import Cgroup
from dkr.cgroups.host import detect
from dkr.cgroups.v1 import CgroupV1
from dkr.cgroups.v2 import CgroupV2
from dkr.errors import DkrError, report
from dkr.linux.fs import read_file
from dkr.state import write_whole

if TYPE_CHECKING:  # annotations only: `state` and `delete` load no config
    from dkr.config import Spec

PARENT = "/dkr"  # every container's cgroup is a child of this one
NOTE = "cgroup"  # the file in the state directory that names the cgroup


def open_cgroup(path: str) -> Cgroup:
    """The cgroup at `path` ("/dkr/<id>"), driven the way this host needs."""
    if not path.startswith("/"):  # relative, as the OCI spec allows: under dkr's parent
        path = f"{PARENT}/{path}"
    if ".." in path.split("/") or path.rstrip("/") == "":
        raise DkrError(f"bad cgroups path {path!r}: give a path such as {PARENT}/NAME")
    path = path.rstrip("/")
    host = detect()
    if host.version == "v2":
        return CgroupV2(host.unified or "", path)
    return CgroupV1(host.hierarchies, path)


def create(spec: Spec) -> Cgroup:
    """Make the container's cgroup and write its limits, before its process exists."""
    convert.check_memory(spec.linux.resources.memory)
    cgroup = open_cgroup(spec.linux.cgroups_path)
    cgroup.create()
    try:
        cgroup.apply(spec.linux.resources)
    except BaseException:
        cgroup.remove()
        raise
    return cgroup


def limits(spec: Spec, state_directory: Path) -> Cgroup:
    """The container's cgroup, noted in its state directory and made, with
    its limits, before its process exists; `close` ends it once the
    container has ended. Unless the spec names one, the cgroup is named
    after the container: /dkr/<id>."""
    if not spec.linux.cgroups_path:
        spec.linux.cgroups_path = f"{PARENT}/{state_directory.name}"
    write_whole(state_directory / NOTE, f"{spec.linux.cgroups_path}\n")
    return create(spec)


def take_back(state_directory: Path) -> None:
    """Remove the cgroup that a killed dkr's state directory notes, with
    whatever is still in it (the container, had dkr died before it could
    make the kernel end it)."""
    try:
        path = (state_directory / NOTE).read_text().strip()
    except FileNotFoundError:
        return
    cgroup = open_cgroup(path)
    cgroup.kill_all()
    cgroup.remove()


def join(spec: Spec) -> None:
    """In the container's process: move into the cgroup `create` made."""
    open_cgroup(spec.linux.cgroups_path or "").join()


def close(cgroup: Cgroup, spec: Spec) -> None:
    """Once the container's first process has ended: say if the OOM killer
    struck, kill what is left in the cgroup, and remove it."""
    try:
        if cgroup.oom_kills():
            limit = spec.linux.resources.memory.limit
            shown = (f"memory limit {format_bytes(limit)}" if limit and limit > 0
                     else "no memory limit")
            report(f"the container was OOM-killed ({shown})")
        cgroup.kill_all()
    finally:
        cgroup.remove()


def parent_directories() -> set[str]:
    """The directories of dkr's parent cgroup that exist now: one on cgroup v2,
    one per hierarchy on v1. dkr leaves them in place for the next container."""
    host = detect()
    points = [host.unified] if host.version == "v2" else list(host.hierarchies.values())
    return {point + PARENT for point in points
            if point and os.path.isdir(point + PARENT)}


def accounts_swap() -> bool:
    """Whether a swap limit can be set here. v1 needs memory.memsw.* (a kernel
    booted with swapaccount=1 where that is not the default); v2 kernels
    account swap unless booted with swapaccount=0."""
    host = detect()
    if host.version == "v2":
        return "swapaccount=0" not in read_file("/proc/cmdline").split()
    memory = host.hierarchies.get("memory")
    return (memory is not None
            and os.path.exists(f"{memory}/memory.memsw.limit_in_bytes"))


def format_bytes(value: int) -> str:
    """67108864 -> "64m": the largest of Docker's units that divides it."""
    for unit, size in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if value % size == 0:
            return f"{value // size}{unit}"
    return f"{value}b"
