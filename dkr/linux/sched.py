# chapter: 1
"""Namespaces: unshare(2) and setns(2), see namespaces(7)."""

from __future__ import annotations

import enum
# chapter: 10 {
import ctypes
import signal
# }

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


# chapter: 10 {
# syscall(2) as the Python interpreter's own C functions are called: holding
# the interpreter's lock across the call, as os.fork holds it across fork(2).
_python = ctypes.PyDLL(None, use_errno=True)
_python.syscall.restype = ctypes.c_long
_python.syscall.argtypes = [ctypes.c_long, ctypes.c_ulong, ctypes.c_void_p,
                            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]


def clone(flags: CloneFlags) -> int:
    """fork(2) into new namespaces: clone(2) with `flags`; the child's pid
    here, 0 in the child.

    os.fork takes no flags, and a user namespace and a PID namespace must
    be made by one call for the PID namespace to belong to the user one
    (unshare(CLONE_NEWPID) makes it belong to the caller's). With no new
    stack, the child goes on from here as after fork; the interpreter is
    told of the fork as os.fork tells it (PyOS_BeforeFork and the two
    AfterFork calls). The child should exec soon: glibc, not told, still
    keeps the parent's thread id for it, which only raise(3) would use.
    """
    return call("clone", _clone, flags)


def _clone(flags: CloneFlags) -> int:
    from dkr.linux import syscalls  # its table is large: only when cloning

    _python.PyOS_BeforeFork()
    pid = _python.syscall(syscalls.number("clone"), int(flags) | signal.SIGCHLD,
                          None, None, None, None)
    if pid == 0:
        _python.PyOS_AfterFork_Child()
        return 0
    _python.PyOS_AfterFork_Parent()
    return check(pid)
# }
