# chapter: 2
"""The container's mount tree.

Every mount happens in the container's own mount namespace, made private
first so that nothing propagates back to the host. Chapter 2 needs just a
fresh /proc; chapter 3 builds the whole tree (/dev, /sys, bind mounts),
pivots into it and detaches the host's root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dkr.cgroups.inside import mount_inside  # chapter: 6
from dkr.config import Mount, Spec
from dkr.defaults import DEVICES  # chapter: 3
from dkr.errors import DkrError, report
from dkr.linux import unistd
from dkr.linux.unistd import OFlag
from dkr.linux.fs import write_file  # chapter: 10
from dkr.linux.mount import MountFlags, mount
from dkr.linux.mount import UmountFlags, flags_to_keep, umount2  # chapter: 3
from dkr.linux.stat import chmod, mknod_char  # chapter: 3
from dkr.linux.stat import chown, mknod  # chapter: 10
from dkr.overlay import mount_root  # chapter: 8
from dkr import user_namespace  # chapter: 10

MS = MountFlags

# Mount options as in fstab and config.json: option -> (flag, set it?).
FLAG_OPTIONS: dict[str, tuple[MountFlags, bool]] = {
    "ro": (MS.MS_RDONLY, True), "rw": (MS.MS_RDONLY, False),
    "nosuid": (MS.MS_NOSUID, True), "suid": (MS.MS_NOSUID, False),
    "nodev": (MS.MS_NODEV, True), "dev": (MS.MS_NODEV, False),
    "noexec": (MS.MS_NOEXEC, True), "exec": (MS.MS_NOEXEC, False),
    "sync": (MS.MS_SYNCHRONOUS, True), "async": (MS.MS_SYNCHRONOUS, False),
    "dirsync": (MS.MS_DIRSYNC, True), "remount": (MS.MS_REMOUNT, True),
    "mand": (MS.MS_MANDLOCK, True), "nomand": (MS.MS_MANDLOCK, False),
    "noatime": (MS.MS_NOATIME, True), "atime": (MS.MS_NOATIME, False),
    "nodiratime": (MS.MS_NODIRATIME, True), "diratime": (MS.MS_NODIRATIME, False),
    "relatime": (MS.MS_RELATIME, True), "norelatime": (MS.MS_RELATIME, False),
    "strictatime": (MS.MS_STRICTATIME, True),
    "nostrictatime": (MS.MS_STRICTATIME, False),
    "bind": (MS.MS_BIND, True), "rbind": (MS.MS_BIND | MS.MS_REC, True),
}
PROPAGATION_OPTIONS: dict[str, MountFlags] = {
    "private": MS.MS_PRIVATE, "rprivate": MS.MS_PRIVATE | MS.MS_REC,
    "shared": MS.MS_SHARED, "rshared": MS.MS_SHARED | MS.MS_REC,
    "slave": MS.MS_SLAVE, "rslave": MS.MS_SLAVE | MS.MS_REC,
    "unbindable": MS.MS_UNBINDABLE, "runbindable": MS.MS_UNBINDABLE | MS.MS_REC,
}


@dataclass
class MountOptions:
    """A mount's options split the way mount(2) wants them."""

    flags: MountFlags
    propagation: MountFlags
    data: str


def parse_options(options: list[str]) -> MountOptions:
    """Split options into flags, a propagation change, and the file system's data."""
    flags, propagation, data = MS(0), MS(0), []
    for option in options:
        if option in FLAG_OPTIONS:
            flag, on = FLAG_OPTIONS[option]
            flags = flags | flag if on else flags & ~flag
        elif option in PROPAGATION_OPTIONS:
            propagation |= PROPAGATION_OPTIONS[option]
        else:
            data.append(option)
    return MountOptions(flags, propagation, ",".join(data))


def set_up(spec: Spec) -> None:
    """Build the container's mount tree under its root."""
    root = spec.root.path
    mount(None, "/", None, MS.MS_REC | MS.MS_PRIVATE)
    # chapter: 3-7 {
    # mount(root, root, None, MS.MS_BIND | MS.MS_REC)
    # }
    mount_root(spec.root)  # chapter: 8
    points = MountPoints(root)
    for entry in spec.mounts:
        mount_entry(root, entry, points)
    # chapter: 2-7 {
    # if points.made_in_rootfs:
    # }
    if points.made_in_rootfs and not spec.root.layers:  # chapter: 8
        report(f"note: made mount points in the root file system {root}: "
               f"{', '.join(points.made_in_rootfs)}")
    write_sysctl(spec, root)  # chapter: 10
    # chapter: 3 {
    if not dev_is_bound(spec):  # the host's own /dev, or a directory of the host's
        make_devices(root)
        make_given_devices(spec, root)  # chapter: 10
    # The container's /dev/null where it has one: the host's would show the
    # host's /dev in the container's /proc/mounts.
    null = path_in_root(root, "/dev/null")
    null = null if os.path.exists(null) else "/dev/null"
    for path in spec.linux.masked_paths:
        mask(path_in_root(root, path), null)
    for path in spec.linux.readonly_paths:
        make_readonly(path_in_root(root, path))
    pivot_into(root)
    if spec.linux.rootfs_propagation:  # chapter: 10
        set_root_propagation(spec.linux.rootfs_propagation)  # chapter: 10
    if spec.root.readonly:
        make_readonly("/", bind_first=False)
    # }


def mount_entry(root: str, entry: Mount, points: MountPoints) -> None:
    """Mount one `mounts` entry at its destination under `root`."""
    options = parse_options(entry.options)
    flags = options.flags | (MS.MS_BIND if entry.type == "bind" else MS(0))
    target = path_in_root(root, entry.destination)
    if target.rstrip("/") == root.rstrip("/"):
        raise DkrError(f"refused to mount {entry.destination}: it is the root itself")
    if entry.type != "proc" and is_under(target, path_in_root(root, "/proc")):
        # A file mounted there would stand in for the kernel's (CVE-2019-19921).
        raise DkrError(f"refused to mount {entry.destination}: it leads into /proc")
    binds_a_file = (flags & MS.MS_BIND and entry.source
                    and not os.path.isdir(entry.source))
    directory = not binds_a_file
    if os.path.exists(target) and os.path.isdir(target) != directory:
        raise DkrError(f"cannot mount {entry.source} on {entry.destination}: "
                       f"one is a directory and the other is not")
    points.make(target, directory=directory)
    # chapter: 6 {
    if entry.type == "cgroup":
        mount_inside(target, flags)
        return
    # }
    fstype = None if flags & MS.MS_BIND else entry.type
    mount(entry.source, target, fstype, flags, options.data or None)
    if flags & MS.MS_BIND and flags & ~(MS.MS_BIND | MS.MS_REC):
        # A bind mount ignores all other flags until it is remounted.
        # chapter: 2-9 {
        # mount(None, target, None, flags | MS.MS_REMOUNT)
        # }
        # chapter: 10 {
        if user_namespace.in_own():  # the host's flags are locked on its mounts
            flags |= flags_to_keep(target)
        mount(None, target, None, flags | MS.MS_REMOUNT)
        # }
    if options.propagation:
        mount(None, target, None, options.propagation)


def path_in_root(root: str, path: str) -> str:
    """`path` inside `root`, with symlinks resolved as if `root` were "/".

    A root file system may hold symlinks such as /proc -> /etc; following
    them on the host would mount over the host's own files.
    """
    resolved = ""
    parts = [part for part in path.split("/") if part]
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            resolved = os.path.dirname(resolved)
            continue
        if part == ".":
            continue
        candidate = f"{resolved}/{part}"
        host_path = root + candidate
        if os.path.islink(host_path):
            hops += 1
            if hops > 40:
                raise OSError(40, "too many levels of symbolic links", path)
            link = os.readlink(host_path)
            if link.startswith("/"):
                resolved = ""
            parts = [p for p in link.split("/") if p] + parts
            continue
        resolved = candidate
    return root.rstrip("/") + (resolved or "/")


def is_under(path: str, directory: str) -> bool:
    """Whether `path` is `directory` or inside it (both normalized, absolute)."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


class MountPoints:
    """Makes what mounts need to land on, and remembers which of them it
    made in the root file system itself, a directory of the host's that
    outlives the container (the rest are in file systems mounted for it)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.device = os.stat(root).st_dev
        self.made_in_rootfs: list[str] = []

    def make(self, path: str, directory: bool = True) -> None:
        """A directory, or a file to bind a file on, at `path` (and its parents)."""
        if os.path.lexists(path):
            return
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            self.make(parent)
        if directory:
            try:
                unistd.mkdir(path)
            except FileExistsError:  # a container starting beside made it
                return
        else:
            flags = OFlag.O_CREAT | OFlag.O_WRONLY | OFlag.O_CLOEXEC
            unistd.close(unistd.open_fd(path, flags))
        if os.stat(parent).st_dev == self.device:
            self.made_in_rootfs.append(os.path.relpath(path, self.root))


# chapter: 3 {
def dev_is_bound(spec: Spec) -> bool:
    """Whether a bind mount gives the container its /dev: then it is a
    directory of the host's, and dkr makes no device in it (as runc)."""
    return any(os.path.normpath(entry.destination) == "/dev"
               and (entry.type == "bind" or {"bind", "rbind"} & set(entry.options))
               for entry in spec.mounts)


DEVICE_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
                "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
                "ptmx": "pts/ptmx"}


def make_devices(root: str) -> None:
    """Fill the container's /dev with the standard nodes and links."""
    dev = path_in_root(root, "/dev")
    bind = user_namespace.in_own()  # chapter: 10
    for name, major, minor in DEVICES:
        path = f"{dev}/{name}"
        if os.path.lexists(path):
            continue
        if bind:  # chapter: 10
            bind_node(f"/dev/{name}", path)  # chapter: 10
            continue  # chapter: 10
        mknod_char(path, major, minor)
        chmod(path, 0o666)
    for name, target in DEVICE_LINKS.items():
        if not os.path.lexists(f"{dev}/{name}"):
            unistd.symlink(target, f"{dev}/{name}")


def pivot_into(root: str) -> None:
    """Make `root` the root mount and detach the host's root from under it,
    leaving the working directory at the new "/".

    pivot_root(".", ".") stacks the old root on top of the new one at "/";
    unmounting "." then takes the old root away, so no path leads back to
    the host, and the new root needs no directory to park the old one in.
    (The tests read the trace: the call after `pivot_root(".", ".")` is
    `umount2(".", MNT_DETACH)`.)
    """
    unistd.chdir(root)
    unistd.pivot_root(".", ".")
    umount2(".", UmountFlags.MNT_DETACH)
    unistd.chdir("/")


def mask(path: str, null: str = "/dev/null") -> None:
    """Hide `path`: `null` (a /dev/null) bound over a file, an empty read-only
    tmpfs over a directory; a path this kernel does not have is left alone.
    (The tests read /proc/keys, 0 bytes, and list /sys/firmware, empty.)"""
    if os.path.isdir(path):
        mount("tmpfs", path, "tmpfs", MS.MS_RDONLY)
    elif os.path.exists(path):
        mount(null, path, None, MS.MS_BIND)


def make_readonly(path: str, bind_first: bool = True) -> None:
    """Make the mount at `path` read-only (binding `path` onto itself first,
    unless `bind_first` is false); a path that does not exist is skipped.

    The remount keeps the nosuid, nodev and noexec flags the mount has. (The
    tests write to /proc/sys/kernel/domainname and, with --read-only, to /,
    and expect "Read-only file system".)
    """
    if not os.path.exists(path):
        return
    if bind_first:
        mount(path, path, None, MS.MS_BIND | MS.MS_REC)
    mount(None, path, None,
          MS.MS_BIND | MS.MS_REMOUNT | MS.MS_RDONLY | flags_to_keep(path))
# }


# chapter: 10 {
# The sysctls a container may set: those of its own namespaces (IPC, UTS,
# network), as runc allows. Any other is the host's own: kernel.core_pattern
# written from a container would name a program the host runs as root.
NAMESPACED_SYSCTLS = {
    "ipc": ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
            "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
            "kernel.shm_rmid_forced", "fs.mqueue."),
    "uts": ("kernel.domainname", "kernel.hostname"),
    "network": ("net.",),
}


def write_sysctl(spec: Spec, root: str) -> None:
    """Write config.json's `linux.sysctl` into the container's /proc/sys,
    once /proc is mounted and before /proc/sys is made read-only; refuse
    one that is not of a namespace the container has of its own (new, or
    joined by path and not the host's)."""
    for name, value in spec.linux.sysctl.items():
        if not any(name == prefix or prefix.endswith(".") and name.startswith(prefix)
                   for kind, prefixes in NAMESPACED_SYSCTLS.items()
                   if spec.own_namespace(kind) for prefix in prefixes):
            raise DkrError(f"config.json: linux.sysctl: {name!r} is not the "
                           f"container's own (only those of its own IPC, UTS and "
                           f"network namespaces are)")
        relative = name.replace(".", "/")
        if ".." in relative.split("/"):
            raise DkrError(f"config.json: linux.sysctl: bad name {name!r}")
        path = path_in_root(root, f"/proc/sys/{relative}")
        if not os.path.exists(path):
            raise DkrError(f"config.json: linux.sysctl: no such sysctl {name!r} "
                           f"in the container")
        write_file(path, value)
# }


# chapter: 10 {
def make_given_devices(spec: Spec, root: str) -> None:
    """The nodes config.json's `linux.devices` lists, beside the standard ones
    (which one of them may replace); in a user namespace of its own, the
    host's nodes of the same paths, as make_devices binds them (runc's way)."""
    bind = user_namespace.in_own()
    for device in spec.linux.devices:
        path = path_in_root(root, device.path)
        if not is_under(path, path_in_root(root, "/dev")):
            raise DkrError(f"refused to make the device {device.path}: it leads "
                           f"out of /dev")
        MountPoints(root).make(os.path.dirname(path))
        if os.path.lexists(path):
            unistd.unlink(path)
        if bind:
            bind_node(device.path, path)
            continue
        mode = 0o666 if device.file_mode is None else device.file_mode & 0o7777
        mknod(path, device.type, device.major, device.minor, mode)
        chmod(path, mode)
        chown(path, device.uid or 0, device.gid or 0)


def bind_node(source: str, path: str) -> None:
    """Bind the host's device node `source` onto a new empty file `path`.

    In a user namespace of its own, the container's /dev is made of these:
    there the kernel refuses mknod(2) even to the namespace's root, since
    a node made there would open the host's device."""
    flags = OFlag.O_CREAT | OFlag.O_WRONLY | OFlag.O_CLOEXEC
    unistd.close(unistd.open_fd(path, flags))
    mount(source, path, None, MS.MS_BIND)


def set_root_propagation(option: str) -> None:
    """`linux.rootfsPropagation`: the propagation of the container's root mount."""
    if option not in PROPAGATION_OPTIONS:
        raise DkrError(f"config.json: linux.rootfsPropagation: give one of "
                       f"{', '.join(PROPAGATION_OPTIONS)}")
    mount(None, "/", None, PROPAGATION_OPTIONS[option])
# }
