# chapter: 4
"""/etc/hosts, /etc/hostname and /etc/resolv.conf for a container, as Docker makes them.

The root file system may be shared by many containers, or read-only, so dkr
does not write into it: it writes the three files into the container's
state directory (see `dkr.state`) and bind-mounts each one over the
rootfs's (read-only if the root is).
"""

from __future__ import annotations

import re
from pathlib import Path

from dkr.config import Mount
from dkr.state import write_whole

FILES = ("hosts", "hostname", "resolv.conf")
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
    kept = [line for line in host.splitlines(keepends=True)
            if not LOOPBACK_NAMESERVER.match(line)]
    if not any(line.split()[:1] == ["nameserver"] for line in kept):
        kept.append(FALLBACK_NAMESERVERS)
    return "".join(kept)


def write(directory: Path, hostname: str, address: str | None,
          host_network: bool) -> None:
    """The three files, in `directory`. With the host's network the container
    gets the host's hosts and resolv.conf as they are."""
    host_resolv_conf = _read("/etc/resolv.conf")
    if host_network:
        texts = [_read("/etc/hosts"), hostname + "\n", host_resolv_conf]
    else:
        texts = [hosts(hostname, address), hostname + "\n",
                 resolv_conf(host_resolv_conf)]
    for name, text in zip(FILES, texts):  # 0644: the container's users read them
        write_whole(directory / name, text, mode=0o644)


def mounts(directory: str, readonly: bool) -> list[Mount]:
    """Bind mounts of the three files over the container's /etc."""
    options = ["rbind", "ro"] if readonly else ["rbind"]
    return [Mount(f"/etc/{name}", "bind", f"{directory}/{name}", list(options))
            for name in FILES]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return ""
