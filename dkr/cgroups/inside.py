# chapter: 6
"""/sys/fs/cgroup as the container sees it: its own cgroup, read-only.

The container has a cgroup namespace of its own, entered after it joined
its cgroup, so a cgroup file system mounted in it has the container's
cgroup as its root: `cat /sys/fs/cgroup/memory.max` shows the container's
limit, and nothing of the host's tree above it is in sight. Read-only,
because writing there would loosen the container's own limits (and, on v1,
a writable `release_agent` once ran a program on the host: CVE-2022-0492).
"""

from __future__ import annotations

import os

from dkr.cgroups.host import detect
from dkr.cgroups.v1 import CgroupV1
from dkr.linux import unistd
from dkr.linux.mount import MountFlags, mount
from dkr.linux.mount import flags_to_keep  # chapter: 10
from dkr import user_namespace  # chapter: 10

MS = MountFlags


def mount_inside(target: str, flags: MountFlags) -> None:
    """Mount the host's kind of cgroup file system at `target`, in the
    container's mount and cgroup namespaces: cgroup2 itself on a v2 host;
    on a v1 host a tmpfs holding one mount per hierarchy the container
    joined (named as the host names them), then made read-only too."""
    host = detect()
    if host.version == "v2":
        mount("cgroup2", target, "cgroup2", flags, None)
        _narrow_to_own(target, _own_cgroups(), frozenset(), flags)  # chapter: 10
        return
    mount("tmpfs", target, "tmpfs", flags & ~MS.MS_RDONLY, "mode=755")
    by_point: dict[str, list[str]] = {}
    own = _own_cgroups()  # chapter: 10
    for controller, point in CgroupV1(host.hierarchies, "/").hierarchies.items():
        by_point.setdefault(point, []).append(controller)
    for point, controllers in by_point.items():
        name = os.path.basename(point)
        hierarchy = os.path.join(target, name)
        unistd.mkdir(hierarchy)
        # chapter: 6-9 {
        # mount("cgroup", hierarchy, "cgroup", flags, ",".join(controllers))
        # }
        # chapter: 10 {
        try:
            mount("cgroup", hierarchy, "cgroup", flags, ",".join(controllers))
        except PermissionError:
            if not user_namespace.in_own():
                raise
            _bind_own(point, hierarchy, own.get(frozenset(controllers), "/"), flags)
            continue
        _narrow_to_own(hierarchy, own, frozenset(controllers), flags)
        # }
        for controller in controllers:  # co-mounted: "cpu" -> "cpu,cpuacct"
            if controller != name:
                unistd.symlink(name, os.path.join(target, controller))
    if flags & MS.MS_RDONLY:
        mount(None, target, None, flags | MS.MS_REMOUNT)


# chapter: 10 {
def _own_cgroups() -> dict[frozenset[str], str]:
    """This process's cgroup in each hierarchy, by the hierarchy's
    controllers (none for cgroup2), as /proc/self/cgroup lists them."""
    own = {}
    with open("/proc/self/cgroup", encoding="utf-8") as file:
        for line in file:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            own[frozenset(filter(None, controllers.split(",")))] = path
    return own


def _bind_own(host_point: str, hierarchy: str, path: str, flags: MountFlags) -> None:
    """Bind the host's mount of a hierarchy, at the process's own cgroup
    `path`, onto `hierarchy`: in a user namespace, only a process with a
    cgroup namespace of that user namespace's may mount a cgroup file
    system (Podman's container under --uidmap on a v1 host has none)."""
    mount(os.path.join(host_point, path.lstrip("/")), hierarchy, None, MS.MS_BIND)
    mount(None, hierarchy, None,
          flags | MS.MS_BIND | MS.MS_REMOUNT | flags_to_keep(hierarchy))


def _narrow_to_own(mounted: str, own: dict[frozenset[str], str],
                   controllers: frozenset[str], flags: MountFlags) -> None:
    """Show only the process's own cgroup (in `own`, as `_own_cgroups`
    reads it) at `mounted`, the whole hierarchy of `controllers`.

    A bundle may give the container no cgroup namespace of its own
    (Podman's and Docker's on a v1 host do not), and a cgroup file
    system mounted outside one shows the host's whole tree: every other
    container's cgroup, and its own limits nowhere at the top. As runc
    does, the container's own directory is bind-mounted over it. In a
    cgroup namespace the path is "/", and this does nothing."""
    path = own.get(controllers, "/")
    if path == "/":
        return
    mount(os.path.join(mounted, path.lstrip("/")), mounted, None, MS.MS_BIND)
    mount(None, mounted, None, flags | MS.MS_BIND | MS.MS_REMOUNT)
# }
