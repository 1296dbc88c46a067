# chapter: 5
"""Whole small files and directories of the kernel's own file systems.

cgroupfs and procfs are driven by reading and writing short text files: a
value is written with one write(2), which the kernel parses at once, and a
read returns the whole of it. Each helper here is one traced call, so
`dkr --trace` shows `write_file("…/memory.max", "67108864")` rather than
an open, a write and a close.
"""

from __future__ import annotations

import os

from dkr.linux.syscall import call


def read_file(path: str) -> str:
    """The whole text of a small file (open, read, close)."""

    def invoke(path: str) -> str:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()

    return call("read_file", invoke, path)


def write_file(path: str, text: str) -> None:
    """Write `text` to an existing file in one write(2), as cgroupfs needs."""

    def invoke(path: str, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, text.encode())
        except OSError as error:  # the kernel refused the value: say where
            raise OSError(error.errno, error.strerror, path) from None
        finally:
            os.close(fd)

    call("write_file", invoke, path, text)
