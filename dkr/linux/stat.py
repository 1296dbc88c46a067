# chapter: 3
"""mknod(2): device files."""

from __future__ import annotations

import os
import stat

from dkr.linux.syscall import Octal, call


def mknod_char(path: str, major: int, minor: int, mode: int = 0o666) -> None:
    """Create the character device `major:minor` at `path` (traced without the
    S_IFCHR bit)."""
    def invoke(path: str, mode: int, major: int, minor: int) -> None:
        os.mknod(path, stat.S_IFCHR | mode, os.makedev(major, minor))

    call("mknod", invoke, path, Octal(mode), major, minor)


# chapter: 10 {
NODE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK,
              "p": stat.S_IFIFO}


def mknod(path: str, kind: str, major: int, minor: int, mode: int) -> None:
    """Create a node of `kind` (config.json's c, u, b or p) at `path`."""
    def invoke(path: str, kind: str, mode: int, major: int, minor: int) -> None:
        os.mknod(path, NODE_TYPES[kind] | mode, os.makedev(major, minor))

    call("mknod", invoke, path, kind, Octal(mode), major, minor)


def chown(path: str, uid: int, gid: int) -> None:
    call("chown", os.chown, path, uid, gid)
# }


def chmod(path: str, mode: int) -> None:
    """Set a file's permission bits (mknod's are cut by the umask)."""
    call("chmod", os.chmod, path, Octal(mode))
