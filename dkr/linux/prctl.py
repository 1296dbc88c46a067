# chapter: 2
"""prctl(2): per-process settings."""

from __future__ import annotations

import enum
import signal

from dkr.linux.syscall import call, check, libc


class PrctlOption(enum.IntEnum):
    PR_SET_PDEATHSIG = 1


def set_pdeathsig(sig: signal.Signals) -> None:
    """Have the kernel send `sig` to the caller when its parent dies.

    prctl(2)'s PR_SET_PDEATHSIG, through `call`: the trace shows it as
    `prctl(PR_SET_PDEATHSIG, SIGKILL) = 0`.
    """
    call(
        "prctl",
        lambda o, s: check(libc.prctl(int(o), int(s), 0, 0, 0)),
        PrctlOption.PR_SET_PDEATHSIG,
        signal.Signals(sig),
    )
