# chapter: 3
"""The container's own terminal, as with `docker run -it`.

The container opens a pseudo-terminal from its own /dev/pts, makes it the
controlling terminal of a new session (so job control and Ctrl-C work
inside) and hands the master end to dkr over the channel. dkr puts the
host's terminal in raw mode, copies bytes both ways, passes on window size
changes, and restores the host's terminal when the container ends.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import sys

from dkr.channel import Channel
from dkr.linux import term, unistd
from dkr.linux.signal import sigaction

STDIO = (0, 1, 2)


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
    if os.isatty(sys.stdin.fileno()):
        term.set_window_size(master, term.get_window_size(sys.stdin.fileno()))


def relay(master: int) -> None:
    """In dkr: copy between our stdio and the container's terminal until it closes.

    The bytes themselves are copied with plain os.read/os.write, not through
    the traced gate: a trace of every keystroke would drown the set-up.
    """
    stdin = sys.stdin.fileno()
    saved = term.tcgetattr(stdin) if os.isatty(stdin) else None
    previous = sigaction(signal.SIGWINCH, lambda *_: copy_window_size(master))
    try:
        if saved is not None:
            term.make_raw(stdin)
        _copy_until_closed(stdin, master)
    finally:
        sigaction(signal.SIGWINCH, previous)
        if saved is not None:
            term.tcsetattr(stdin, saved)


def _copy_until_closed(stdin: int, master: int) -> None:
    readers = [stdin, master]
    while True:
        ready, _, _ = select.select(readers, [], [])
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError as error:  # EIO: every process holding the pty is gone
                if error.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                return
            _write_all(1, data)
        if stdin in ready:
            data = os.read(stdin, 65536)
            if data:
                _write_all(master, data)
            else:  # our input ended: pass on an end-of-file (Ctrl-D)
                _write_all(master, b"\x04")
                readers.remove(stdin)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]
