# chapter: 1
"""The one gate every kernel call passes through.

Because every wrapper calls `call`, one switch (`add_tracer`) shows the
reader each call dkr makes, in the parent and in the container's set-up,
and tests can record them, or stop dkr dead after any one of them. With no
tracer set the gate costs one comparison.
"""

from __future__ import annotations

import ctypes
import enum
import errno
import os
import signal
from typing import Callable, TypeVar

T = TypeVar("T")
Tracer = Callable[[str, tuple, object, "OSError | None"], None]

_tracers: tuple[Tracer, ...] = ()
libc = ctypes.CDLL(None, use_errno=True)


def call(name: str, fn: Callable[..., T], *args: object) -> T:
    """Run one kernel call: `fn(*args)`, reported to the tracer as `name`.

    An `OSError` from `fn` is raised again with `name` in its message, so
    every failure says which call failed.
    """
    try:
        result = fn(*args)
    except OSError as error:
        named = OSError(error.errno, f"{name}: {error.strerror}", error.filename)
        if _tracers:
            _report(name, args, None, named)
        raise named from None
    if _tracers:
        _report(name, args, result, None)
    return result


def _report(name: str, args: tuple, result: object, error: OSError | None) -> None:
    for tracer in _tracers:
        tracer(name, args, result, error)


def call_noreturn(name: str, fn: Callable[..., object], *args: object) -> None:
    """Like `call`, for calls such as execve that do not return on success:
    the tracer hears of the call before it is made."""
    if _tracers:
        _report(name, args, ..., None)
    call(name, fn, *args)


def check(result: int, filename: str | None = None) -> int:
    """Turn libc's "-1 and errno" convention into an `OSError` (about `filename`)."""
    if result == -1:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), filename)
    return result


def cstr(value: str | None) -> bytes | None:
    """A Python string as a C string argument (None stays NULL)."""
    return None if value is None else os.fsencode(value)


def add_tracer(tracer: Tracer) -> None:
    """Report every following call to `tracer` too."""
    global _tracers
    _tracers = (*_tracers, tracer)


def remove_tracer(tracer: Tracer) -> None:
    """Stop reporting calls to `tracer`."""
    global _tracers
    _tracers = tuple(known for known in _tracers if known is not tracer)


def set_trace_label(who: str) -> None:
    """Name the process in trace lines from now on ("container" after fork)."""
    for tracer in _tracers:
        if isinstance(tracer, PrintTracer):
            tracer.who = who


class PrintTracer:
    """Writes one strace-like line per call to a file descriptor.

    The descriptor is a private copy of stderr that closes on exec, so the
    container's set-up can keep tracing after its stdio is redirected, and
    the traced command never inherits it.
    """

    def __init__(self, fd: int, who: str = "dkr") -> None:
        self.fd: int | None = fd
        self.who = who

    def __call__(self, name: str, args: tuple, result: object,
                 error: OSError | None) -> None:
        if self.fd is None:
            return
        shown = ", ".join(format_value(arg) for arg in args)
        if error is not None:
            outcome = f"-1 {_errno_name(error.errno)} ({os.strerror(error.errno or 0)})"
        elif result is ...:
            outcome = "?"
        else:
            outcome = format_value(result) if result is not None else "0"
        line = f"{self.who}[{os.getpid()}] {name}({shown}) = {outcome}\n"
        try:
            os.write(self.fd, line.encode(errors="replace"))
        except OSError:  # its reader has gone (`… | head`): the trace ends, not dkr
            self.fd = None


class KillSwitch:
    """Sends this process `sig` (SIGKILL) right after its `after`th kernel call.

    `DKR_KILL_AFTER=N` sets one (`N:SIGSTOP` stops dkr instead), for the
    tests that show that a dkr killed at any step of a container's life
    leaves nothing the next dkr does not take back, or that a signal
    arriving at any step is handled. Only the calls of the process that made
    the switch count, not those of the container it forks.
    """

    def __init__(self, after: int, sig: signal.Signals = signal.SIGKILL) -> None:
        self.left = after
        self.sig = sig
        self.pid = os.getpid()

    @classmethod
    def parse(cls, text: str) -> KillSwitch | None:
        """The switch that `DKR_KILL_AFTER`'s "N" or "N:SIGNAME" sets (None: a
        bad value)."""
        after, _, name = text.partition(":")
        if not after.isdigit() or name not in ("", *signal.Signals.__members__):
            return None
        return cls(int(after), signal.Signals[name] if name else signal.SIGKILL)

    def __call__(self, name: str, args: tuple, result: object,
                 error: OSError | None) -> None:
        if os.getpid() == self.pid:
            self.left -= 1
            if self.left == 0:
                os.kill(self.pid, self.sig)


class Octal(int):
    """An int that traces in octal, as file modes are read."""

    def __str__(self) -> str:
        return oct(self)


def format_value(value: object) -> str:
    """Show an argument the way strace would: flags by name, strings quoted."""
    if isinstance(value, enum.IntFlag):
        return _format_flags(value)
    if isinstance(value, enum.Enum):
        return value.name or str(value.value)
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode(errors="replace")
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if value is None:
        return "NULL"
    if hasattr(value, "fileno") and callable(value.fileno):
        return str(value.fileno())
    if callable(value):
        return getattr(value, "__qualname__", "handler")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):  # an environment, say: as strace shows one
        return f"[/* {len(value)} vars */]"
    return str(value)


def _format_flags(value: enum.IntFlag) -> str:
    names = []
    rest = int(value)
    for member in type(value):
        bit = int(member)
        if bit and bit & (bit - 1) == 0 and rest & bit:
            names.append(member.name)
            rest &= ~bit
    if rest:
        names.append(hex(rest))
    return "|".join(names) or "0"


def _errno_name(number: int | None) -> str:
    return errno.errorcode.get(number or 0, str(number))
