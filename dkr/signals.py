# chapter: 1
"""Signals between the user, dkr and the container's first process.

dkr stands between the user and the container: a Ctrl-C or a `kill`
reaches dkr, and dkr passes it on to the container's first process, as
`docker run` does. Three things make that exact:

- dkr blocks the signals it forwards from before it forks until it knows
  the container's pid. A signal that comes in between waits, pending, and
  is passed on as soon as dkr can; it neither kills dkr nor is lost.
- The container starts as runc's containers do, with no signal blocked and
  none ignored. Python ignores SIGPIPE and SIGXFSZ, and a signal that is
  ignored stays ignored across exec: left so, `yes | head -1` in a
  container would never end.
- A first process that ignores SIGINT and SIGTERM (PID 1 of a namespace
  gets only the signals it has a handler for) cannot be stopped that way,
  so the third interrupt within a few seconds makes dkr kill it.
"""

from __future__ import annotations

import contextlib
import signal
import time
from signal import Signals

from dkr.errors import report
from dkr.linux.signal import MaskHow, kill, sigaction, sigprocmask

# What dkr passes on to the container when it receives it.
FORWARDED = (Signals.SIGINT, Signals.SIGTERM, Signals.SIGHUP, Signals.SIGQUIT,
             Signals.SIGUSR1, Signals.SIGUSR2)
# Ctrl-C, `kill` and Ctrl-\: FORCE_AFTER of these within FORCE_WITHIN seconds
# kill the container.
INTERRUPTS = (Signals.SIGINT, Signals.SIGTERM, Signals.SIGQUIT)
FORCE_AFTER = 3
FORCE_WITHIN = 5.0


class Forwarder:
    """Holds the forwarded signals from `__enter__` on, then passes them to
    the container once `forward_to` knows its pid; puts everything back at
    the end."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.blocked: list[Signals] = []
        self.handlers: dict[Signals, object] = {}
        self.interrupts: list[float] = []

    def __enter__(self) -> Forwarder:
        # An ignored SIGCHLD (inherited) has the kernel reap the container before
        # dkr can wait for it.
        if signal.getsignal(Signals.SIGCHLD) == signal.SIG_IGN:
            sigaction(Signals.SIGCHLD, signal.SIG_DFL)
        self.blocked = sigprocmask(MaskHow.SIG_BLOCK, list(FORWARDED))
        return self

    def forward_to(self, pid: int) -> None:
        """From now on, pass every forwarded signal to `pid` (those held
        meanwhile first)."""
        self.pid = pid
        self.handlers = {sig: sigaction(sig, self._forward) for sig in FORWARDED}
        sigprocmask(MaskHow.SIG_SETMASK, self.blocked)

    def _forward(self, signum: int, _frame: object) -> None:
        assert self.pid is not None
        sig = Signals(signum)
        with contextlib.suppress(ProcessLookupError):
            kill(self.pid, sig)
            if sig in INTERRUPTS and self._forced():
                report(f"{FORCE_AFTER} interrupts within {FORCE_WITHIN:g} s: "
                       f"killing the container (SIGKILL)")
                kill(self.pid, Signals.SIGKILL)

    def _forced(self) -> bool:
        now = time.monotonic()
        self.interrupts = [t for t in self.interrupts if now - t < FORCE_WITHIN] + [now]
        return len(self.interrupts) >= FORCE_AFTER

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self.handlers.items():
            sigaction(sig, handler)
        sigprocmask(MaskHow.SIG_SETMASK, self.blocked)


def reset_for_exec() -> None:
    """In the container, just before exec: every signal back to its default
    action (handlers would be reset by exec; ignored signals would not), then
    nothing blocked. The order matters: a signal held pending until now is
    delivered when unblocked, and must find its default action."""
    for sig in signal.valid_signals():
        if (sig not in (Signals.SIGKILL, Signals.SIGSTOP)
                and signal.getsignal(sig) != signal.SIG_DFL):
            sigaction(sig, signal.SIG_DFL)
    sigprocmask(MaskHow.SIG_SETMASK, [])
