# chapter: 4
"""`-p HOSTPORT:CTRPORT`: a container's TCP port, reachable on the host's.

dkr forwards the port itself, in a thread of the dkr process that waits for
the container (it lives exactly as long as the container): it listens on
the host's port and, for every connection, opens one to the container's
address and copies bytes both ways. Listening on the host's port is also
what makes a taken port an error at once, naming the port. The alternative,
an nftables DNAT rule, never binds the port (nothing tells you it is taken)
and does not apply to connections to 127.0.0.1 without loosening the
kernel's loopback checks (route_localnet). Docker uses both: docker-proxy
for this, DNAT for the rest.

The copying is plain non-blocking sockets under one `selectors` loop; it
is not traced, as the terminal's bytes are not.
"""

from __future__ import annotations

import errno
import os
import re
import selectors
import socket
import threading
from dataclasses import dataclass
from ipaddress import IPv4Address

from dkr.errors import DkrError, shorten
from dkr.linux.syscall import call

CHUNK = 65536
# Stop reading a side while this much waits to be written to the other.
MAX_PENDING = 4 * CHUNK
PUBLISH = re.compile(r"(?:(?P<ip>[0-9.]+):)?(?P<host>[0-9]+):(?P<container>[0-9]+)"
                     r"(?:/(?P<proto>[a-z]+))?", re.ASCII)


@dataclass(frozen=True)
class Published:
    """One -p: connections to host_ip:host_port go to the container's container_port."""

    host_port: int
    container_port: int
    host_ip: str = "0.0.0.0"

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}:{self.container_port}"


def parse_publish(text: str) -> Published:
    """`[IP:]HOSTPORT:CTRPORT[/tcp]`, as `docker run -p` takes it."""
    match = PUBLISH.fullmatch(text)
    shown = shorten(text)
    if not match:
        raise DkrError(f"bad port mapping {shown!r}: use -p HOSTPORT:CTRPORT")
    if match["proto"] not in (None, "tcp"):
        raise DkrError(f"bad port mapping {shown!r}: dkr publishes TCP ports only")
    host_port, container_port = int(match["host"]), int(match["container"])
    if not (0 < host_port < 65536 and 0 < container_port < 65536):
        raise DkrError(f"bad port mapping {shown!r}: ports are numbers from 1 to 65535")
    host_ip = match["ip"] or "0.0.0.0"
    try:
        IPv4Address(host_ip)
    except ValueError:
        raise DkrError(f"bad port mapping {shown!r}: {host_ip} is not an IPv4 "
                       f"address") from None
    return Published(host_port, container_port, host_ip)


def listen(port: Published) -> socket.socket:
    """A listening socket on the host's port (DkrError if it is taken)."""
    sock = call("socket", socket.socket, socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        call("bind", sock.bind, (port.host_ip, port.host_port))
        call("listen", sock.listen, 128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise DkrError(f"host port {port.host_port} is already in use "
                           f"(-p {port.host_port}:{port.container_port}): choose "
                           f"another host port") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise DkrError(f"the host has no address {port.host_ip} to publish "
                           f"-p {port} on") from None
        raise
    sock.setblocking(False)
    return sock


class Proxy:
    """Forwards connections on published host ports to `address` in a thread."""

    def __init__(self, ports: list[Published], address: str) -> None:
        self.address = address
        self.listeners = {}
        try:
            for port in ports:
                self.listeners[listen(port)] = port
        except BaseException:
            self.close_listeners()
            raise
        self.wake_read, self.wake_write = os.pipe()
        self.thread = threading.Thread(target=self._serve, name="dkr-proxy",
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """End the thread, with every connection it forwards."""
        os.write(self.wake_write, b"x")
        self.thread.join(timeout=5)
        os.close(self.wake_write)
        os.close(self.wake_read)
        self.close_listeners()

    def close_listeners(self) -> None:
        for sock in self.listeners:
            sock.close()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.wake_read, selectors.EVENT_READ)
        for sock in self.listeners:
            selector.register(sock, selectors.EVENT_READ)
        connections: list[Connection] = []
        try:
            while True:
                for key, events in selector.select():
                    if key.fileobj == self.wake_read:
                        return
                    if key.fileobj in self.listeners:
                        connections.append(self._accept(key.fileobj, selector))
                    else:
                        key.data.handle(key.fileobj, events)
                for connection in [c for c in connections if c.done]:
                    connection.close()
                    connections.remove(connection)
        finally:
            for connection in connections:
                connection.close()
            selector.close()

    def _accept(self, listener: socket.socket,
                selector: selectors.BaseSelector) -> Connection:
        client, _ = listener.accept()
        client.setblocking(False)
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        upstream.setblocking(False)
        upstream.connect_ex((self.address, self.listeners[listener].container_port))
        return Connection(client, upstream, selector)


class Connection:
    """One forwarded connection: the client's socket and dkr's to the container.

    Each side reads into the other side's pending bytes; an end of file is
    passed on (shutdown for writing) once the bytes before it are written.
    """

    def __init__(self, client: socket.socket, upstream: socket.socket,
                 selector: selectors.BaseSelector) -> None:
        self.peer = {client: upstream, upstream: client}
        self.pending = {client: b"", upstream: b""}  # bytes to write to that socket
        # The sockets that have sent their end of file.
        self.ended: set[socket.socket] = set()
        self.connecting: socket.socket | None = upstream
        self.selector = selector
        self.watched: dict[socket.socket, int] = {}
        self.done = False
        self._watch(client, selectors.EVENT_READ)
        self._watch(upstream, selectors.EVENT_WRITE)  # writable: connected (or failed)

    def handle(self, sock: socket.socket, events: int) -> None:
        try:
            if sock is self.connecting:
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise OSError(error, os.strerror(error))
                self.connecting = None
            elif events & selectors.EVENT_READ:
                self._read(sock)
            if events & selectors.EVENT_WRITE and self.pending[sock]:
                self._write(sock)
            self._update()
        except OSError:  # refused, reset: the other side is closed too
            self.done = True

    def _read(self, sock: socket.socket) -> None:
        data = sock.recv(CHUNK)
        if data:
            self.pending[self.peer[sock]] += data
            return
        self.ended.add(sock)
        if not self.pending[self.peer[sock]]:
            self.peer[sock].shutdown(socket.SHUT_WR)

    def _write(self, sock: socket.socket) -> None:
        sent = sock.send(self.pending[sock])
        self.pending[sock] = self.pending[sock][sent:]
        if not self.pending[sock] and self.peer[sock] in self.ended:
            sock.shutdown(socket.SHUT_WR)

    def _update(self) -> None:
        """Wait for what each socket can do next; done when both ends have ended."""
        if len(self.ended) == 2 and not any(self.pending.values()):
            self.done = True
            return
        for sock, peer in self.peer.items():
            if sock is self.connecting:
                continue
            events = 0
            if sock not in self.ended and len(self.pending[peer]) < MAX_PENDING:
                events |= selectors.EVENT_READ
            if self.pending[sock]:
                events |= selectors.EVENT_WRITE
            self._watch(sock, events)

    def _watch(self, sock: socket.socket, events: int) -> None:
        """Tell the selector which events of `sock` to wait for (none: forget it)."""
        before = self.watched.get(sock, 0)
        if events == before:
            return
        if not events:
            self.selector.unregister(sock)
        elif not before:
            self.selector.register(sock, events, self)
        else:
            self.selector.modify(sock, events, self)
        self.watched[sock] = events

    def close(self) -> None:
        for sock in self.peer:
            self._watch(sock, 0)
            sock.close()
