# chapter: 4
"""Addresses for containers: a lease file per address in use.

Many `dkr run` may start at once, each a separate process, so the record of
which addresses are taken lives in the file system: a file named after the
address (/run/dkr/network/10.123.0.2), holding the pid and start time of
the dkr that owns it. Creating it with O_CREAT|O_EXCL fails if it already
exists, so no address is handed out twice. A dkr that dies without
cleaning up leaves its lease behind; the next allocation sees that its
owner is gone and takes the address back. All of this happens under
flock(2) on the directory, so that taking back a stale lease never races
with another dkr taking the same address.

The leases belong to the bridge, which every dkr on the host shares, so
they live in one place whatever the state root of the containers.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Iterator

from dkr import state
from dkr.errors import DkrError
from dkr.linux import unistd
from dkr.linux.unistd import OFlag
from dkr.owners import is_stale, me


@dataclass(frozen=True)
class Lease:
    """One address, held until `release`."""

    address: IPv4Address
    path: Path

    def release(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            unistd.unlink(str(self.path))


class Allocator:
    """Hands out addresses of `subnet` (except `reserved`) as leases in `directory`."""

    def __init__(self, directory: Path, subnet: IPv4Network,
                 reserved: set[IPv4Address]) -> None:
        self.directory = directory
        self.subnet = subnet
        self.reserved = reserved

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock of the network's shared state: one dkr at a time
        takes an address, makes the bridge, or takes back a killed dkr's lease."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with state.locked(self.directory):
            yield

    def lease(self) -> Lease:
        """The lowest free address, leased to this process. Call it holding
        `locked()`. The lease is the file `self.directory / ADDRESS`, made
        only if it does not exist yet, holding this dkr's owner id and a
        newline. None free: DkrError("no free address left in SUBNET: stop
        a container first")."""
        taken = self.reclaim_stale()
        for address in self.subnet.hosts():
            if address in self.reserved or address in taken:
                continue
            path = self.directory / str(address)
            try:
                fd = unistd.open_fd(str(path), OFlag.O_CREAT | OFlag.O_EXCL
                                    | OFlag.O_WRONLY | OFlag.O_CLOEXEC)
            except FileExistsError:
                continue
            try:
                unistd.write(fd, f"{me()}\n".encode())
            finally:
                unistd.close(fd)
            return Lease(address, path)
        raise DkrError(f"no free address left in {self.subnet}: stop a container first")

    def reclaim_stale(self) -> set[IPv4Address]:
        """Remove the leases whose owner is gone; the addresses still leased."""
        taken = set()
        for path in self.directory.iterdir():
            try:
                address = IPv4Address(path.name)
            except ValueError:
                continue  # not a lease
            if address not in self.subnet:
                continue
            try:
                owner = path.read_text()
            except FileNotFoundError:
                continue
            if is_stale(owner):
                with contextlib.suppress(FileNotFoundError):
                    unistd.unlink(str(path))
            else:
                taken.add(address)
        return taken
