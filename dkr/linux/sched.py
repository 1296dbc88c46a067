# chapter: 1
"""Namespaces: unshare(2) and setns(2), see namespaces(7)."""

from __future__ import annotations

import enum

from dkr.linux.syscall import call, check, libc


class CloneFlags(enum.IntFlag):
    """The CLONE_NEW* flags, one per kind of namespace."""

    CLONE_NEWNS = 0x00020000
    CLONE_NEWCGROUP = 0x02000000
    CLONE_NEWUTS = 0x04000000
    CLONE_NEWIPC = 0x08000000
    CLONE_NEWUSER = 0x10000000
    CLONE_NEWPID = 0x20000000
    CLONE_NEWNET = 0x40000000


def unshare(flags: CloneFlags) -> None:
    """Move the caller into new namespaces (for PID: its next child)."""
    call("unshare", lambda f: check(libc.unshare(int(f))), flags)


def setns(fd: int, nstype: CloneFlags) -> None:
    """Join the namespace that `fd` (an open /proc/PID/ns/* file) refers to."""
    call("setns", lambda f, t: check(libc.setns(f, int(t))), fd, nstype)
