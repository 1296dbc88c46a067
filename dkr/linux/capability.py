# chapter: 6
"""capget(2) and capset(2): a process's permitted, effective and inheritable sets.

The kernel's interface is two 32-bit words per set (version 3 of its
header): capabilities 0-31 in the first, 32 and up in the second. Here a
set is a frozenset of `Cap`, so callers never see the words.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass

from dkr.linux.capability_table import Cap
from dkr.linux.syscall import call, check, libc

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


@dataclass(frozen=True)
class CapSets:
    """A process's three capability sets."""

    effective: frozenset[Cap] = frozenset()
    permitted: frozenset[Cap] = frozenset()
    inheritable: frozenset[Cap] = frozenset()

    def __str__(self) -> str:
        """As --trace shows it: each set's capabilities by name, in order."""
        def names(caps: frozenset[Cap]) -> str:
            return "|".join(cap.name for cap in sorted(caps)) or "0"
        return (f"{{effective={names(self.effective)}, "
                f"permitted={names(self.permitted)}, "
                f"inheritable={names(self.inheritable)}}}")


def _words(caps: frozenset[Cap]) -> tuple[int, int]:
    mask = sum(1 << cap for cap in caps)
    return mask & 0xFFFFFFFF, mask >> 32


def _caps(low: int, high: int) -> frozenset[Cap]:
    mask = low | high << 32
    return frozenset(cap for cap in Cap if mask >> cap & 1)


def capget() -> CapSets:
    """The calling thread's sets."""

    def invoke() -> CapSets:
        header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
        data = (_Data * 2)()
        check(libc.capget(ctypes.byref(header), data))
        return CapSets(*(_caps(getattr(data[0], name), getattr(data[1], name))
                         for name in ("effective", "permitted", "inheritable")))

    return call("capget", invoke)


def capset(sets: CapSets) -> None:
    """Set the calling thread's sets: the kernel allows a set to shrink, and
    to grow only within the permitted set (and the bounding set, for
    inheritable)."""
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for name in ("effective", "permitted", "inheritable"):
        for word, value in zip(data, _words(getattr(sets, name))):
            setattr(word, name, value)
    call("capset", lambda _sets: check(libc.capset(ctypes.byref(header), data)), sets)


@functools.cache
def last_cap() -> int:
    """The highest capability this kernel knows (it may know fewer than the
    table, or more). Read once: it is the kernel's constant."""
    with open("/proc/sys/kernel/cap_last_cap") as file:
        return int(file.read())
