# chapter: 2
"""prctl(2): per-process settings."""

from __future__ import annotations

import enum
import signal

from dkr.linux.syscall import call, check, libc


class PrctlOption(enum.IntEnum):
    PR_SET_PDEATHSIG = 1


def set_pdeathsig(sig: signal.Signals) -> None:
    """Have the kernel send `sig` to the caller when its parent dies."""
    call(
        "prctl",
        lambda o, s: check(libc.prctl(int(o), int(s), 0, 0, 0)),
        PrctlOption.PR_SET_PDEATHSIG,
        signal.Signals(sig),
    )
