# chapter: 10
"""The step between `create` and `start`: a container waiting to exec.

`create` sets the container up and leaves its process waiting, with
everything done but the exec; `start`, a later command of another
process, lets it go. The two meet at a FIFO in the container's state
directory, `exec.fifo`, as in runc:

- `create` makes the FIFO and gives the container's process an O_PATH
  descriptor of it (a handle that opens nothing).
- The process, set up, reopens it for writing through /proc/self/fd. A
  FIFO's open blocks until the other end is opened, so the process waits
  there, costing nothing, for as long as it takes; `create` has returned.
- `start` opens the reading end and reads one byte, which the process
  writes once its open returns; then it execs. Its end of the FIFO is
  close-on-exec, so the exec itself closes it: the end of file that
  `start` reads next says that the command runs (or that the process
  died), and only then does `start` remove the FIFO and return, as the
  spec wants poststart hooks to run after the command has started. A
  container whose FIFO is there has not been started.

A socket would do too (youki listens on one), but it needs a listener,
and a FIFO needs nothing but the file: the state directory is all there is
between the two commands. `start` also watches the process through a
pidfd, so that a process that died while waiting is an error, not a hang.
"""

from __future__ import annotations

import os
import select
from pathlib import Path

from dkr.errors import DkrError
from dkr.linux import unistd
from dkr.linux.syscall import Octal, call
from dkr.linux.unistd import OFlag

EXEC_FIFO = "exec.fifo"
# What the process must be able to open for writing once it is any user.
FIFO_MODE = 0o622


def make_exec_fifo(state_directory: Path) -> int:
    """Make the FIFO; an O_PATH descriptor of it for the container's process."""
    path = str(state_directory / EXEC_FIFO)
    call("mkfifo", os.mkfifo, path, Octal(FIFO_MODE))
    call("chmod", os.chmod, path, Octal(FIFO_MODE))  # what the umask took away
    return unistd.open_fd(path, OFlag.O_PATH | OFlag.O_CLOEXEC)


def wait_for_start(exec_fifo: int) -> None:
    """In the container, set up: block until `start`, then tell it we go.
    The FIFO stays open until exec closes it.

    The descriptor is reopened through /proc/self/fd: the FIFO's path is
    on the host, out of reach since pivot_root."""
    fd = unistd.open_fd(f"/proc/self/fd/{exec_fifo}", OFlag.O_WRONLY | OFlag.O_CLOEXEC)
    unistd.write(fd, b"0")
    unistd.close(exec_fifo)


def is_waiting(state_directory: Path) -> bool:
    """Whether the container was created and not yet started."""
    return (state_directory / EXEC_FIFO).exists()


def start(state_directory: Path, pid: int) -> None:
    """Let the created container whose process is `pid` exec.

    The FIFO is opened without blocking (no writer yet is fine) and polled
    with a pidfd of the process: its byte means it goes on to exec, the
    end of file after it that it has; the pidfd readable before the byte
    means it has died."""
    path = state_directory / EXEC_FIFO
    try:
        fifo = unistd.open_fd(str(path), OFlag.O_NONBLOCK | OFlag.O_CLOEXEC)
    except FileNotFoundError:
        raise DkrError("the container was started already") from None
    try:
        process = call("pidfd_open", os.pidfd_open, pid)
    except ProcessLookupError:
        unistd.close(fifo)
        raise DkrError("the container's process has ended: delete the container")
    try:
        poller = select.poll()
        poller.register(fifo, select.POLLIN)
        poller.register(process, select.POLLIN)
        going = False  # its byte has come
        while True:
            ready = dict(call("poll", poller.poll))
            if fifo in ready and call("read", os.read, fifo, 1):
                going = True
            elif fifo in ready or process in ready:  # exec'd, or dead
                if not going:
                    raise DkrError("the container's process ended before it "
                                   "could start")
                break
    finally:
        unistd.close(process)
        unistd.close(fifo)
    unistd.unlink(str(path))
