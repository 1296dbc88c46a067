# chapter: 10
"""`--console-socket`: the container's terminal, handed to the engine.

With `process.terminal`, the container opens a pseudo-terminal from its
own /dev/pts, as under `dkr run -t` (dkr.terminal), and sends its master
end to dkr. An engine does not want dkr to relay it, since dkr is gone
once `create` returns: it listens on a unix socket and names it with
`--console-socket`, and dkr sends the master there as SCM_RIGHTS
ancillary data (runc's protocol: a name in the message's bytes, the
master as its descriptor). From then on the engine (conmon,
containerd's shim) owns the terminal.
"""

from __future__ import annotations

import os
import socket

from dkr.errors import DkrError, shorten
from dkr.linux.syscall import call


def send(path: str, master: int) -> None:
    """Send the terminal's `master` to the engine listening at `path`."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        try:
            call("connect", sock.connect, path)
        except OSError as error:
            raise DkrError(f"cannot connect to the console socket {shorten(path)}: "
                           f"{error.strerror}") from None
        call("sendmsg", socket.send_fds, sock, [b"/dev/console"], [master])
    finally:
        sock.close()
        os.close(master)
