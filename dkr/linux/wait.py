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


# chapter: 10 {
def ended_within(pid: int, timeout: float) -> bool:
    """Whether the process `pid`, which need not be dkr's child, has ended
    within `timeout` seconds: its pidfd turns readable when it ends."""
    import select

    try:
        fd = call("pidfd_open", os.pidfd_open, pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)
# }
