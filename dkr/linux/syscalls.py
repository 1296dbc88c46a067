# chapter: 1
"""The system call numbers of the machine dkr runs on.

glibc has no function for a few of the calls dkr makes (pivot_root,
close_range, bpf), so dkr makes those through syscall(2), by number. The
number is the ABI's: pivot_root is 155 on x86_64 and 41 on aarch64. The
numbers are the kernel's own, from `syscall_table`, which
scripts/kernel-tables generates from the kernel's headers.
"""

from __future__ import annotations

import errno
import os
import sys

from dkr.linux import syscall_table

# os.uname().machine -> the table of the ABI a 64-bit program has there
MACHINES = {"x86_64": syscall_table.X86_64, "aarch64": syscall_table.AARCH64}


def for_machine(machine: str | None = None) -> dict[str, int]:
    """The system call table of `machine` (as os.uname() names it), this
    process's by default. A machine without a table is an OSError with
    ENOSYS, the kernel's own answer for a call it lacks, so that a caller
    with another way (close_range's fallback) takes it."""
    machine = machine or _this_machine()
    if machine not in MACHINES:
        raise OSError(errno.ENOSYS, f"dkr has no system call table for {machine} "
                                    f"(only for {', '.join(MACHINES)})")
    return MACHINES[machine]


def number(name: str) -> int:
    """The number of system call `name` on this machine (ENOSYS if it has none)."""
    table = for_machine()
    if name not in table:
        raise OSError(errno.ENOSYS, f"{_this_machine()} has no system call {name}")
    return table[name]


def _this_machine() -> str:
    """The kernel's machine, unless this Python is a 32-bit program on it: the
    numbers are those of the caller's ABI, not the kernel's (i386's on an
    x86_64 kernel), and dkr has no table for that case."""
    machine = os.uname().machine
    return machine if sys.maxsize > 2**32 else f"{machine} (a 32-bit Python)"
