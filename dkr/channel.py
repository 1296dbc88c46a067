# chapter: 1
"""Messages between dkr and the container's set-up.

After fork, the two sides run the set-up together: the child reports a
failure or sends a file descriptor (the container's terminal), the parent
answers. A SOCK_SEQPACKET socketpair keeps each message whole and can carry
descriptors. The child's end closes on exec, so "end of file" is how the
parent learns that the command started.
"""

from __future__ import annotations

import os  # chapter: 4
import select
import socket
from dataclasses import dataclass, field
from typing import Callable  # chapter: 4

from dkr.errors import EXIT_DKR_FAILED  # chapter: 4
from dkr.linux.syscall import call


MAX_TEXT = 16384  # characters: a message is a line or two, or a short file
MAX_BYTES = 4 * MAX_TEXT  # what a message of MAX_TEXT characters can take


def _hung_up(fd: int) -> bool:
    """poll(2) without waiting: whether the socket's peer has closed (POLLHUP)."""
    poller = select.poll()
    poller.register(fd, select.POLLHUP)
    return any(event & select.POLLHUP for _, event in poller.poll(0))


@dataclass
class Message:
    kind: str
    text: str = ""
    fds: list[int] = field(default_factory=list)


class Channel:
    """One end of the parent/child socketpair."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.replies: dict[str, Callable[[], str]] = {}  # chapter: 4
    # chapter: 4 {

    def answer(self, kind: str, reply: Callable[[], str]) -> None:
        """In dkr: answer the child's `kind` messages with "go" and the text
        `reply()` returns."""
        self.replies[kind] = reply

    def ask(self, kind: str) -> Message:
        """In the child: send `kind` and wait for dkr's "go". No "go" means
        dkr failed on its side and reports why itself: the child ends
        without a word."""
        self.send(kind)
        go = self.receive()
        if go is None:
            os._exit(EXIT_DKR_FAILED)
        return go
    # }

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        """Two connected ends (both close on exec)."""
        left, right = call("socketpair", socket.socketpair, socket.AF_UNIX,
                           socket.SOCK_SEQPACKET)
        return cls(left), cls(right)

    def send(self, kind: str, text: str = "", fds: list[int] | None = None) -> None:
        # surrogateescape: a path or argument that is not UTF-8 goes as its bytes
        payload = f"{kind}\n{text}"[:MAX_TEXT].encode(errors="surrogateescape")
        # MSG_NOSIGNAL: a peer that has gone is an error (EPIPE), not a SIGPIPE
        call("sendmsg", socket.send_fds, self.sock, [payload], fds or [],
             socket.MSG_NOSIGNAL)

    def receive(self) -> Message | None:
        """The next message, or None once the other end is closed."""
        data, fds, _, _ = call("recvmsg", socket.recv_fds, self.sock, MAX_BYTES, 4)
        if not data:
            return None
        kind, _, text = data.decode(errors="surrogateescape").partition("\n")
        return Message(kind, text, list(fds))

    def peer_closed(self) -> bool:
        """Whether the other end is closed already (its process may have died)."""
        return call("poll", _hung_up, self.sock.fileno())

    def close(self) -> None:
        self.sock.close()
