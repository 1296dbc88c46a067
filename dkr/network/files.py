# chapter: 4
"""/etc/hosts, /etc/hostname and /etc/resolv.conf for a container, as Docker makes them.

The root file system may be shared by many containers, or read-only, so dkr
does not write into it: it writes the three files into the container's
state directory under /run/dkr and bind-mounts each one over the rootfs's
(read-only if the root is). The directory also names its owner, the dkr
that made it, so that the next dkr can remove it if that one was killed.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from dkr.config import Mount
from dkr.linux import unistd
from dkr.linux.unistd import OFlag
from dkr.network.owners import is_stale, owner_id

FILES = ("hosts", "hostname", "resolv.conf")
OWNER = "owner"
LOCALHOST = """\
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""
# Docker's choice when the host has only nameservers on its loopback
# (systemd-resolved's 127.0.0.53), which the container cannot reach.
FALLBACK_NAMESERVERS = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
LOOPBACK_NAMESERVER = re.compile(r"^\s*nameserver\s+(127\.\S*|::1)\s*$")


def hosts(hostname: str, address: str | None) -> str:
    """localhost, and the container's own name at its address."""
    return LOCALHOST + (f"{address}\t{hostname}\n" if address else "")


def resolv_conf(host: str) -> str:
    """The host's resolv.conf without the nameservers on the host's loopback."""
    kept = [line for line in host.splitlines(keepends=True) if not LOOPBACK_NAMESERVER.match(line)]
    if not any(line.split()[:1] == ["nameserver"] for line in kept):
        kept.append(FALLBACK_NAMESERVERS)
    return "".join(kept)


def make_directory(directory: Path) -> None:
    """The container's state directory, owned by this dkr. Made under the
    same lock as `reclaim_stale` runs under, which must never see it without
    its owner."""
    unistd.mkdir(str(directory), 0o755)
    _write(directory / OWNER, f"{owner_id(os.getpid())}\n")


def write(directory: Path, hostname: str, address: str | None, host_network: bool) -> None:
    """The three files, in `directory`. With the host's network the container
    gets the host's hosts and resolv.conf as they are."""
    if host_network:
        texts = [_read("/etc/hosts"), hostname + "\n", _read("/etc/resolv.conf")]
    else:
        texts = [hosts(hostname, address), hostname + "\n", resolv_conf(_read("/etc/resolv.conf"))]
    for name, text in zip(FILES, texts):
        _write(directory / name, text)


def remove(directory: Path) -> None:
    """Remove what `write` made (whatever of it exists)."""
    for name in (*FILES, OWNER):
        with contextlib.suppress(FileNotFoundError):
            unistd.unlink(str(directory / name))
    with contextlib.suppress(FileNotFoundError):
        unistd.rmdir(str(directory))


def reclaim_stale(parent: Path) -> None:
    """Remove the state directories under `parent` whose dkr is gone (call it
    holding the allocator's lock, as `make_directory`)."""
    if not parent.is_dir():
        return
    for directory in parent.iterdir():
        try:
            owner = (directory / OWNER).read_text()
        except (FileNotFoundError, NotADirectoryError):
            continue  # being made right now (or not dkr's)
        if is_stale(owner):
            remove(directory)


def mounts(directory: str, readonly: bool) -> list[Mount]:
    """Bind mounts of the three files over the container's /etc."""
    options = ["rbind", "ro"] if readonly else ["rbind"]
    return [Mount(f"/etc/{name}", "bind", f"{directory}/{name}", list(options)) for name in FILES]


def _write(path: Path, text: str) -> None:
    fd = unistd.open_fd(str(path), OFlag.O_CREAT | OFlag.O_EXCL | OFlag.O_WRONLY | OFlag.O_CLOEXEC)
    try:
        unistd.write(fd, text.encode())
    finally:
        unistd.close(fd)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return ""
