# chapter: 2
"""mount(2) and umount2(2)."""

from __future__ import annotations

import enum
import os  # chapter: 3

from dkr.linux.syscall import call, check, cstr, libc


class MountFlags(enum.IntFlag):
    """The MS_* flags of mount(2)."""

    MS_RDONLY = 1
    MS_NOSUID = 2
    MS_NODEV = 4
    MS_NOEXEC = 8
    MS_SYNCHRONOUS = 16
    MS_REMOUNT = 32
    MS_MANDLOCK = 64
    MS_DIRSYNC = 128
    MS_NOATIME = 1024
    MS_NODIRATIME = 2048
    MS_BIND = 4096
    MS_MOVE = 8192
    MS_REC = 16384
    MS_SILENT = 32768
    MS_UNBINDABLE = 1 << 17
    MS_PRIVATE = 1 << 18
    MS_SLAVE = 1 << 19
    MS_SHARED = 1 << 20
    MS_RELATIME = 1 << 21
    MS_STRICTATIME = 1 << 24


class UmountFlags(enum.IntFlag):
    """The flags of umount2(2)."""

    MNT_FORCE = 1
    MNT_DETACH = 2
    MNT_EXPIRE = 4
    UMOUNT_NOFOLLOW = 8


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: MountFlags,
    data: str | None = None,
) -> None:
    """Attach a file system (or, with MS_BIND, a directory) at `target`."""

    def invoke(source, target, fstype, flags, data):
        result = libc.mount(cstr(source), cstr(target), cstr(fstype), int(flags),
                            cstr(data))
        check(result, target)

    call("mount", invoke, source, target, fstype, MountFlags(flags), data)


def umount2(target: str, flags: UmountFlags = UmountFlags(0)) -> None:
    """Detach the mount at `target`."""
    call("umount2", lambda t, f: check(libc.umount2(cstr(t), int(f)), t), target, flags)


# chapter: 3 {
def flags_to_keep(path: str) -> MountFlags:
    """The flags of the mount at `path` that a remount of it must repeat.

    A remount sets all of a mount's flags at once: it keeps the ones the
    mount has, or they are cleared (and where they are locked, in a user
    namespace's copy of the host's mounts, the kernel refuses). statvfs(3)
    reports them with the same bits."""
    kept = MountFlags.MS_NOSUID | MountFlags.MS_NODEV | MountFlags.MS_NOEXEC
    return MountFlags(os.statvfs(path).f_flag) & kept
# }
