# chapter: 1
"""Signals: kill(2) and sigaction(2)."""

from __future__ import annotations

import os
import signal

from dkr.linux.syscall import call


def kill(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to process `pid`."""
    call("kill", os.kill, pid, signal.Signals(sig))


def sigaction(sig: signal.Signals, handler: object) -> object:
    """Install `handler` for `sig` (a function, SIG_DFL or SIG_IGN); the old one."""
    return call("rt_sigaction", signal.signal, signal.Signals(sig), handler)
