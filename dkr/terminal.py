# chapter: 3
"""The container's own terminal, as with `docker run -it`.

The container opens a pseudo-terminal from its own /dev/pts, makes it the
controlling terminal of a new session (so job control and Ctrl-C work
inside) and hands the master end to dkr over the channel. dkr puts the
host's terminal in raw mode, copies bytes both ways, passes on window size
changes, and restores the host's terminal when the container ends.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import signal

from dkr.channel import Channel
from dkr.errors import describe, warn
from dkr.linux import term, unistd
from dkr.linux.signal import sigaction

STDIN, STDOUT = 0, 1
STDIO = (0, 1, 2)
CHUNK = 65536


def attach_console(channel: Channel) -> None:
    """In the container: open a pty and make it our stdio and controlling terminal."""
    master, slave = term.openpty()
    channel.send("console", fds=[master])
    unistd.close(master)
    channel.receive()  # dkr has sized the terminal; go on
    unistd.setsid()
    term.set_controlling_terminal(slave)
    for fd in STDIO:
        unistd.dup2(slave, fd)
    if slave not in STDIO:
        unistd.close(slave)


def copy_window_size(master: int) -> None:
    """Give the container's terminal the size of the host's (if stdin is one)."""
    if os.isatty(STDIN):
        term.set_window_size(master, term.get_window_size(STDIN))


def relay(master: int) -> None:
    """In dkr: copy between our stdio and the container's terminal until it closes.

    The bytes themselves are copied with plain os.read/os.write, not through
    the traced gate: a trace of every keystroke would drown the set-up.
    """
    saved = term.tcgetattr(STDIN) if os.isatty(STDIN) else None
    previous = sigaction(signal.SIGWINCH, lambda *_: copy_window_size(master))
    try:
        if saved is not None:
            term.make_raw(STDIN)
        lost = _copy_until_closed(master)
    finally:
        sigaction(signal.SIGWINCH, previous)
        if saved is not None:
            term.tcsetattr(STDIN, saved)
    # A closed pipe is no news, as in a shell.
    if lost is not None and lost.errno != errno.EPIPE:
        warn(f"the container's output from then on was lost: {describe(lost)}")


def _copy_until_closed(master: int) -> OSError | None:
    """Copy until every process holding the container's terminal is gone.

    Both ways at once, never blocking on the container's side: keys are
    held until its terminal takes them while its output goes on being
    read. When dkr's stdout fails, the output is read on and dropped, so
    the container is never stuck on a full terminal (the error is
    returned); when stdout is a pipe whose reader has gone, dkr stops and
    the caller's closing the terminal hangs it up, as SIGPIPE would end a
    pipeline."""
    os.set_blocking(master, False)
    keys = b""  # read from stdin, not yet taken by the container's terminal
    stdin_open = True
    lost: OSError | None = None
    while True:
        readers = [master] + ([STDIN] if stdin_open and len(keys) < CHUNK else [])
        readable, writable, _ = select.select(readers, [master] if keys else [], [])
        if master in readable:
            output = _read(master)
            if output == b"":
                return lost
            if output and lost is None:
                try:
                    _write_all(STDOUT, output)
                except OSError as error:
                    lost = error
                    if error.errno == errno.EPIPE:
                        return lost
        if writable:
            with contextlib.suppress(BlockingIOError):
                keys = keys[os.write(master, keys):]
        if STDIN in readable:
            typed = _read(STDIN)
            if typed:
                keys += typed
            elif typed == b"":  # our input ended: pass on an end-of-file (Ctrl-D)
                keys += b"\x04"
                stdin_open = False


def _read(fd: int) -> bytes | None:
    """Up to CHUNK bytes; b"" at the end (for the terminal, EIO: every
    process holding it is gone), None when nothing is there after all."""
    try:
        return os.read(fd, CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]
