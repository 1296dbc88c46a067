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


# chapter: 6 {
class CapPrctl(enum.IntEnum):
    """The prctl(2) options about capabilities and privileges."""

    PR_SET_DUMPABLE = 4
    PR_SET_KEEPCAPS = 8
    PR_CAPBSET_READ = 23
    PR_CAPBSET_DROP = 24
    PR_SET_NO_NEW_PRIVS = 38
    PR_CAP_AMBIENT = 47


class Ambient(enum.IntEnum):
    """PR_CAP_AMBIENT's operations."""

    PR_CAP_AMBIENT_IS_SET = 1
    PR_CAP_AMBIENT_RAISE = 2
    PR_CAP_AMBIENT_CLEAR_ALL = 4


def _prctl(option: CapPrctl, *args: int) -> int:
    """prctl(option, args…) through the gate; unused arguments are 0."""
    padded = [int(arg) for arg in (*args, 0, 0, 0, 0)[:4]]
    return call("prctl", lambda *_shown: check(libc.prctl(int(option), *padded)),
                option, *args)


def set_dumpable(dumpable: bool) -> None:
    """Whether other processes of the same user may ptrace this one, or open
    its /proc/PID files such as exe and mem (execve sets it again)."""
    _prctl(CapPrctl.PR_SET_DUMPABLE, int(dumpable))


def set_keepcaps(keep: bool) -> None:
    """Whether the permitted set survives a switch from uid 0 to others."""
    _prctl(CapPrctl.PR_SET_KEEPCAPS, int(keep))


def capbset_read(cap: int) -> bool:
    """Whether `cap` is in the caller's bounding set."""
    return bool(_prctl(CapPrctl.PR_CAPBSET_READ, cap))


def capbset_drop(cap: int) -> None:
    """Take `cap` out of the bounding set, for good (needs CAP_SETPCAP)."""
    _prctl(CapPrctl.PR_CAPBSET_DROP, cap)


def cap_ambient_raise(cap: int) -> None:
    """Add `cap` to the ambient set (it must be permitted and inheritable)."""
    _prctl(CapPrctl.PR_CAP_AMBIENT, Ambient.PR_CAP_AMBIENT_RAISE, cap)


def cap_ambient_clear_all() -> None:
    """Empty the ambient set."""
    _prctl(CapPrctl.PR_CAP_AMBIENT, Ambient.PR_CAP_AMBIENT_CLEAR_ALL)


def set_no_new_privs() -> None:
    """From now on, no execve grants privileges: setuid and setgid bits and
    file capabilities do nothing. Inherited, and it cannot be undone."""
    _prctl(CapPrctl.PR_SET_NO_NEW_PRIVS, 1)
# }
