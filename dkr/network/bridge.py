# chapter: 4
"""The host's side of `--net bridge`: the bridge dkr0, a veth per container, NAT.

dkr0 is a virtual switch on the host with the gateway address 10.123.0.1/16.
Each container's veth pair has one end in the container (eth0) and one end
plugged into dkr0, so containers reach each other and the host through it.
Traffic from a container to anywhere else leaves through the host's own
links, with its source address rewritten to the host's (masquerade), since
nothing outside knows the way back to 10.123.0.0/16.

The bridge and dkr's nftables table are shared by all containers: they are
made once, on first use, and stay.
"""

from __future__ import annotations

import errno
import os
import shutil
import string
import subprocess
import sys
from ipaddress import IPv4Address, IPv4Network

from dkr.errors import DkrError
from dkr.linux import netlink, unistd
from dkr.linux.netlink import Link, Netlink
from dkr.linux.syscall import call
from dkr.linux.unistd import OFlag

BRIDGE = "dkr0"
# Private, and clear of Docker's 172.17.0.0/16 and Podman's 10.88.0.0/16.
SUBNET = IPv4Network("10.123.0.0/16")
GATEWAY = IPv4Address("10.123.0.1")
IP_FORWARD = "/proc/sys/net/ipv4/ip_forward"

# One table of dkr's own: `nft delete table ip dkr` removes all of it. The
# first three lines make the script replace the table instead of adding a
# second copy of its rules, in one transaction.
NAT_RULES = string.Template("""\
table ip dkr
delete table ip dkr
table ip dkr {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        ip saddr $subnet ip daddr != $subnet masquerade
    }
}
""").substitute(subnet=SUBNET)


def ensure_bridge(nl: Netlink) -> Link:
    """dkr0, made (with its address, and NAT) if it does not exist yet.

    The caller holds the allocator's lock, so two first runs do not both make it.
    """
    try:
        return nl.link(BRIDGE)
    except OSError as error:
        if error.errno != errno.ENODEV:
            raise
    nl.send(netlink.new_bridge(BRIDGE, bridge_mac()))
    try:
        bridge = nl.link(BRIDGE)
        nl.send(netlink.new_address(bridge, str(GATEWAY), SUBNET.prefixlen))
        nl.send(netlink.set_link(BRIDGE))
        enable_forwarding()
        masquerade()
    except BaseException:  # all or nothing: a half-made bridge would be taken as made
        nl.send(netlink.delete_link(BRIDGE))
        raise
    return bridge


def bridge_mac() -> bytes:
    """A random, locally administered, unicast MAC address."""
    mac = bytearray(os.urandom(6))
    mac[0] = (mac[0] & 0xFC) | 0x02
    return bytes(mac)


def new_veth(nl: Netlink, veth: str, pid: int, address: IPv4Address) -> None:
    """A veth pair: `veth` on the host, its peer eth0 in the network namespace
    of process `pid`, with the MAC address that `address` gives it. When that
    namespace ends, the kernel deletes both."""
    nl.send(netlink.new_veth(veth, "eth0", pid, container_mac(address)))


def container_mac(address: IPv4Address) -> bytes:
    """The MAC address of the container at `address`: 02:42, then the
    address's four bytes, as Docker makes them. The next container at an
    address has the same MAC as the last one, so the host's and the other
    containers' neighbour tables, which remember the last one for a while,
    stay right: with random MACs they would send to a MAC that is gone."""
    return b"\x02\x42" + address.packed


def plug_in(nl: Netlink, bridge: Link, veth: str) -> None:
    """Make the host's end of a veth pair a port of the bridge, and bring it up."""
    nl.send(netlink.set_link(veth, master=bridge))


def unplug(nl: Netlink, veth: str) -> None:
    """Delete a container's veth pair (it is already gone if its namespace has
    ended)."""
    try:
        nl.send(netlink.delete_link(veth))
    except OSError as error:
        if error.errno != errno.ENODEV:  # gone with the container's namespace
            raise


def enable_forwarding() -> None:
    """Let the host pass packets between its links (off by default)."""
    fd = unistd.open_fd(IP_FORWARD, OFlag.O_WRONLY | OFlag.O_CLOEXEC)
    try:
        unistd.write(fd, b"1")
    finally:
        unistd.close(fd)


def masquerade() -> None:
    """Load dkr's nftables table, if the host has nft; without it containers
    still reach the host and each other, but not beyond."""
    nft = shutil.which("nft")
    if nft is None:
        print("dkr: nft not found: containers cannot reach beyond this host "
              "(install nftables, then `ip link del dkr0`)", file=sys.stderr)
        return
    call("nft", _load_rules, nft, NAT_RULES)


def _load_rules(nft: str, rules: str) -> None:
    result = subprocess.run([nft, "-f", "-"], input=rules, capture_output=True,
                            text=True)
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["failed"])[0]
        raise DkrError(f"nft could not load dkr's NAT rules: {first}")
