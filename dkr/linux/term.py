# chapter: 3
"""Terminals: openpty(3), termios(3) and the tty ioctls."""

from __future__ import annotations

import fcntl
import os
import struct
import termios

from dkr.linux.syscall import call


def openpty() -> tuple[int, int]:
    """A new pseudo-terminal from /dev/ptmx as the caller sees it: (master, slave)."""
    return call("openpty", os.openpty)


def set_controlling_terminal(fd: int) -> None:
    """Make the terminal `fd` the caller's controlling terminal (TIOCSCTTY)."""
    call("ioctl", fcntl.ioctl, fd, termios.TIOCSCTTY, 0)


def get_window_size(fd: int) -> bytes:
    """The terminal's window size, as the kernel's struct winsize."""
    return call("ioctl", fcntl.ioctl, fd, termios.TIOCGWINSZ, bytes(8))


def set_window_size(fd: int, winsize: bytes) -> None:
    """Set the terminal's window size (the foreground group gets SIGWINCH)."""
    call("ioctl", fcntl.ioctl, fd, termios.TIOCSWINSZ, winsize)


def rows_and_columns(winsize: bytes) -> tuple[int, int]:
    """Decode struct winsize."""
    rows, columns, _, _ = struct.unpack("HHHH", winsize)
    return rows, columns


def tcgetattr(fd: int) -> list:
    """The terminal's settings."""
    return call("tcgetattr", termios.tcgetattr, fd)


def tcsetattr(fd: int, attributes: list) -> None:
    """Restore settings saved by `tcgetattr`, once pending output is written."""
    call("tcsetattr", termios.tcsetattr, fd, termios.TCSADRAIN, attributes)


def make_raw(fd: int) -> None:
    """Raw mode: every byte goes through as typed, nothing is echoed or
    interpreted; the container's own terminal does that."""
    attributes = tcgetattr(fd)
    iflag, oflag, cflag, lflag = attributes[:4]
    iflag &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP
               | termios.IXON)
    oflag &= ~termios.OPOST
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    lflag &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
    attributes[:4] = iflag, oflag, cflag, lflag
    attributes[6][termios.VMIN] = 1
    attributes[6][termios.VTIME] = 0
    tcsetattr(fd, attributes)  # TCSADRAIN: keys typed ahead are kept
