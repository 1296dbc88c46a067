# chapter: 7
"""seccomp(2): install a BPF filter that decides every later system call.

A filter is for good: it holds for the process and every child it makes
across exec, and only more filters can be added. Installing one needs
either no_new_privs (so that no setuid program runs under a filter its
owner did not choose) or CAP_SYS_ADMIN.
"""

from __future__ import annotations

import ctypes
import enum

from dkr.linux import syscalls
from dkr.linux.syscall import call, check, libc

SECCOMP_SET_MODE_FILTER = 1


class FilterFlags(enum.IntFlag):
    """seccomp(2)'s flags for SECCOMP_SET_MODE_FILTER, as profiles name them."""

    SECCOMP_FILTER_FLAG_TSYNC = 1
    SECCOMP_FILTER_FLAG_LOG = 2
    SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def set_mode_filter(program: bytes, flags: FilterFlags = FilterFlags(0)) -> None:
    """Install `program` (struct sock_filter entries, 8 bytes each)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))

    def invoke(_mode: str, flags: FilterFlags, _size: str) -> int:
        return check(libc.syscall(syscalls.number("seccomp"), SECCOMP_SET_MODE_FILTER,
                                  int(flags), ctypes.byref(fprog)))

    call("seccomp", invoke, "SECCOMP_SET_MODE_FILTER", flags,
         f"{len(program) // 8} instructions")
