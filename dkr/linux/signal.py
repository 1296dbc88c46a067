# chapter: 1
"""Signals: kill(2), sigaction(2) and sigprocmask(2)."""

from __future__ import annotations

import enum
import os
import signal

from dkr.linux.syscall import call


class MaskHow(enum.IntEnum):
    """What sigprocmask does with the signals it is given."""

    SIG_BLOCK = signal.SIG_BLOCK
    SIG_UNBLOCK = signal.SIG_UNBLOCK
    SIG_SETMASK = signal.SIG_SETMASK


def kill(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to process `pid`."""
    call("kill", os.kill, pid, _named(sig))


# chapter: 10 {
def kill_if_there(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to process `pid`, unless it has ended already: what the
    commands that end a container want, which may race its end."""
    try:
        kill(pid, sig)
    except ProcessLookupError:
        pass
# }


def sigaction(sig: signal.Signals | int, handler: object) -> object:
    """Install `handler` for `sig` (a function, SIG_DFL or SIG_IGN); the old one."""
    return call("rt_sigaction", signal.signal, _named(sig), handler)


def _named(sig: signal.Signals | int) -> signal.Signals | int:
    """A signal by name where it has one (real-time signals have numbers only)."""
    try:
        return signal.Signals(sig)
    except ValueError:
        return int(sig)


def sigprocmask(how: MaskHow, signals: list[signal.Signals]) -> list[signal.Signals]:
    """Block or unblock `signals` (a blocked signal waits, pending, until it is
    unblocked); the signals that were blocked before."""

    def invoke(how: MaskHow, signals: list[signal.Signals]) -> list[signal.Signals]:
        return sorted(signal.pthread_sigmask(how, signals))

    return call("rt_sigprocmask", invoke, MaskHow(how), list(signals))
