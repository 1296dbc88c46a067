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


def chmod(path: str, mode: int) -> None:
    """Set a file's permission bits (mknod's are cut by the umask)."""
    call("chmod", os.chmod, path, Octal(mode))
