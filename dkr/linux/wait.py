# chapter: 1
"""waitpid(2) and the decoding of a wait status."""

from __future__ import annotations

import os

from dkr.linux.syscall import call


def waitpid(pid: int, options: int = 0) -> tuple[int, int]:
    """Wait for the child `pid` to change state: (pid, status)."""
    return call("waitpid", os.waitpid, pid, options)


def exit_code(status: int) -> int:
    """A shell-style exit code: the status, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code
