# chapter: 1
"""The system call numbers are the kernel's: dkr calls pivot_root,
close_range and bpf by number, and a wrong number is another call.

The table is generated from the kernel's headers; these tests check it
against them where they are installed, and against numbers known from the
kernel's syscall tables everywhere. No root needed, no container made.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dkr.linux import syscall_table, syscalls

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "kernel-tables"
HEADERS = Path("/usr/include/asm-generic/unistd.h")
needs_headers = pytest.mark.skipif(
    not HEADERS.exists(), reason=f"no kernel headers ({HEADERS}, from Debian's "
                                 f"linux-libc-dev) to compare with")
BIT = 0x40000000
KNOWN = {
    "X86_64": {"read": 0, "execve": 59, "pivot_root": 155, "keyctl": 250, "bpf": 321,
               "close_range": 436},
    "I386": {"read": 3, "execve": 11, "socketcall": 102, "_llseek": 140,
             "pivot_root": 217, "keyctl": 288, "bpf": 357, "close_range": 436},
    # x32: x86_64's numbers with the bit, but its own from 512 on (execve)
    "X32": {"read": BIT + 0, "pivot_root": BIT + 155, "keyctl": BIT + 250,
            "bpf": BIT + 321, "close_range": BIT + 436, "execve": BIT + 520},
    "AARCH64": {"renameat": 38, "pivot_root": 41, "openat": 56, "close": 57, "read": 63,
                "write": 64, "newfstatat": 79, "fstat": 80, "keyctl": 219, "clone": 220,
                "execve": 221, "mmap": 222, "seccomp": 277, "bpf": 280, "clone3": 435,
                "close_range": 436},
}


@needs_headers
def test_the_table_matches_the_kernel_headers():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_headers
def test_the_check_compares_numbers_not_the_marker(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPT, tmp_path / "scripts")
    tables = tmp_path / "dkr" / "linux"
    tables.mkdir(parents=True)
    for path in (REPO / "dkr" / "linux").glob("*_table.py"):
        shutil.copy(path, tables)
    table = tables / "syscall_table.py"
    # as in a chapter's snapshot: no marker line
    table.write_text(table.read_text().split("\n", 1)[1])
    check = [sys.executable, str(tmp_path / "scripts" / "kernel-tables"), "--check"]
    assert subprocess.run(check, capture_output=True).returncode == 0
    table.write_text(table.read_text().replace('"pivot_root": 155,', '"pivot_root": 156,'))
    result = subprocess.run(check, capture_output=True, text=True)
    assert result.returncode == 1 and "syscall_table.py differs" in result.stderr


@pytest.mark.parametrize("abi", KNOWN)
def test_known_numbers(abi):
    table = getattr(syscall_table, abi)
    assert {name: table.get(name) for name in KNOWN[abi]} == KNOWN[abi]


@pytest.mark.parametrize("abi, absent", [
    # the generic table's newer ABI has only the *at calls, and clone for fork
    ("AARCH64", ["open", "stat", "rename", "fork", "socketcall", "_llseek"]),
    # i386's multiplexers and 64-bit-offset variants are i386's own
    ("X86_64", ["socketcall", "ipc", "_llseek", "mmap2", "fstat64"]),
])
def test_each_abi_has_its_own_calls(abi, absent):
    table = getattr(syscall_table, abi)
    assert [name for name in absent if name in table] == []


def test_every_x32_number_carries_the_x32_bit():
    assert syscall_table.X32_SYSCALL_BIT == BIT
    assert all(number & BIT for number in syscall_table.X32.values())
    assert not any(number & BIT for number in syscall_table.X86_64.values())


def test_the_seccomp_arch_values():
    assert syscall_table.AUDIT_ARCH == {
        "x86_64": 0xC000003E, "i386": 0x40000003, "aarch64": 0xC00000B7}


def test_the_table_of_this_machine():
    machine = os.uname().machine
    if machine not in syscalls.MACHINES:
        pytest.skip(f"dkr has no system call table for {machine}")
    assert syscalls.for_machine() is syscalls.for_machine(machine)
    assert syscalls.number("pivot_root") == syscalls.for_machine(machine)["pivot_root"]
    assert syscalls.for_machine("x86_64") is syscall_table.X86_64
    assert syscalls.for_machine("aarch64") is syscall_table.AARCH64


def test_a_machine_without_a_table_is_named():
    with pytest.raises(OSError, match=r"no system call table for riscv64") as raised:
        syscalls.for_machine("riscv64")
    assert raised.value.errno == errno.ENOSYS


def test_a_call_the_machine_lacks_is_enosys():
    with pytest.raises(OSError, match="has no system call no_such_call") as raised:
        syscalls.number("no_such_call")
    assert raised.value.errno == errno.ENOSYS
