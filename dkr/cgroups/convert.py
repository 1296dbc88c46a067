# chapter: 5
"""From the OCI runtime spec's numbers to what cgroup files take.

The spec's `linux.resources` were modelled on cgroup v1: CPU shares, and a
swap limit that counts memory and swap together. cgroup v2 measures some of
these differently, so its driver converts them here. -1 means "no limit"
in the spec; v2 files write that as "max", v1 files as -1.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from dkr.errors import DkrError

if TYPE_CHECKING:
    from dkr.config import Memory

UNLIMITED = "max"
# The kernel's range for cpu.shares (MIN_SHARES, MAX_SHARES) and cpu.weight.
SHARES_MIN, SHARES_MAX = 2, 1 << 18
WEIGHT_MIN, WEIGHT_MAX = 1, 10_000


def shares_to_weight(shares: int) -> int:
    """v1's cpu.shares (2-262144, default 1024) as v2's cpu.weight (1-10000,
    default 100).

    This is the conversion of runc 1.3.2 and later (ConvertCPUSharesToCgroupV2Value
    in opencontainers/cgroups) and crun 1.23 and later: with l = log2(shares),

        weight = ceil(10 ** ((l * l + 125 * l) / 612 - 7 / 34))

    a curve through both ends of the ranges (2 -> 1, 262144 -> 10000) that
    also maps the default onto the default (1024 -> 100). The linear formula
    they used before, 1 + (shares - 2) * 9999 // 262142, turned the default
    1024 into 39, so a container given "normal" shares got under 40% of the
    weight of a process outside any container.
    """
    if shares <= SHARES_MIN:
        return WEIGHT_MIN
    if shares >= SHARES_MAX:
        return WEIGHT_MAX
    log = math.log2(shares)
    return math.ceil(10 ** ((log * log + 125 * log) / 612 - 7 / 34))


def weight_to_shares(weight: int) -> int:
    """The largest cpu.shares that `shares_to_weight` turns into `weight`.

    Many shares values share one weight, so reading shares back from a v2
    cgroup gives one of them; this one makes 100 read back as 1024.
    """
    low, high = SHARES_MIN, SHARES_MAX
    while low < high:  # the weight grows with the shares: bisect
        middle = (low + high + 1) // 2
        if shares_to_weight(middle) <= weight:
            low = middle
        else:
            high = middle - 1
    return low


def limit(value: int, unlimited: str = UNLIMITED) -> str:
    """A limit as a cgroup file takes it: a number, or `unlimited` for -1."""
    return unlimited if value < 0 else str(value)


def swap_v2(memory: Memory) -> str | None:
    """memory.swap.max (swap alone) from the spec's memory+swap, or None to leave it.

    v1's memory.memsw.limit_in_bytes caps memory and swap together, and the
    spec kept that meaning; v2 caps swap on its own, so the memory limit is
    taken off: 128m of memory+swap with a 64m memory limit is 64m of swap.
    """
    if memory.swap is None or memory.swap == 0:
        return None
    if memory.swap < 0:
        return UNLIMITED
    return str(memory.swap - (memory.limit or 0))


def check_memory(memory: Memory) -> None:
    """Refuse a memory+swap limit that no cgroup version can express."""
    if memory.swap is None or memory.swap < 0 or memory.swap == 0:
        return
    if not memory.limit or memory.limit < 0:
        raise DkrError("a swap limit needs a memory limit: give --memory too")
    if memory.swap < memory.limit:
        raise DkrError("the memory+swap limit is below the memory limit: "
                       "--memory-swap counts memory and swap together, so make it "
                       "at least --memory (or -1)")


def cpu_max(quota: int | None, period: int | None) -> str | None:
    """v2's cpu.max, "QUOTA PERIOD" in microseconds ("max" for no quota), or None."""
    if quota is None and period is None:
        return None
    shown = UNLIMITED if quota is None or quota < 0 else str(quota)
    return shown if period is None else f"{shown} {period}"


def pids_max(value: int | None) -> str | None:
    """pids.max: the limit, "max" for -1, None for unset (0, as runc reads it)."""
    if not value:
        return None
    return limit(value)


def parse_limit(text: str) -> int:
    """A cgroup file's limit as the spec writes it: "max" and v1's huge numbers
    are -1."""
    text = text.strip()
    if text == UNLIMITED:
        return -1
    value = int(text)
    # v1 shows "no limit" as about 2**63, page aligned.
    return -1 if value >= 1 << 62 else value
