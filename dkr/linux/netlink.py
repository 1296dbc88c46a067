# chapter: 4
"""netlink(7) and rtnetlink(7): links, addresses and routes, as `ip` makes them.

A NETLINK_ROUTE socket is how a program talks to the kernel's networking:
`ip link add`, `ip addr add` and `ip route add` are requests sent over one.
Each request is a message: a 16-byte `nlmsghdr`, a small fixed header for
the kind of object (`ifinfomsg` for a link, `ifaddrmsg` for an address,
`rtmsg` for a route), then attributes: type-length-value records padded to
4 bytes, which may nest. With NLM_F_ACK the kernel answers every request
with an NLMSG_ERROR message whose error is 0 on success, so each request
here either returns or raises `OSError` with the kernel's errno.

The functions that build messages are pure (bytes in, bytes out), so they
can be read, and tested, byte by byte; `Netlink` sends them through the
syscall gate, one traced `netlink(...)` call per request.
"""

from __future__ import annotations

import enum
import os
import socket
import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

from dkr.linux.syscall import call

RECEIVE_SIZE = 65536  # the kernel never sends a netlink datagram bigger than 32 KiB


class Protocol(enum.IntEnum):
    """Which kernel subsystem a netlink socket talks to."""

    NETLINK_ROUTE = 0  # links, addresses, routes, neighbours


class MessageType(enum.IntEnum):
    """nlmsghdr.nlmsg_type: netlink's own messages, then rtnetlink's."""

    NLMSG_NOOP = 1
    NLMSG_ERROR = 2  # an error, or (error 0) an acknowledgement
    NLMSG_DONE = 3  # the end of a dump
    RTM_NEWLINK = 16
    RTM_DELLINK = 17
    RTM_GETLINK = 18
    RTM_NEWADDR = 20
    RTM_DELADDR = 21
    RTM_GETADDR = 22
    RTM_NEWROUTE = 24
    RTM_DELROUTE = 25
    RTM_GETROUTE = 26


class Flags(enum.IntFlag):
    """nlmsghdr.nlmsg_flags, as used by requests that make or change something."""

    NLM_F_REQUEST = 0x1
    NLM_F_MULTI = 0x2  # one part of a multi-part answer (a dump)
    NLM_F_ACK = 0x4
    NLM_F_EXCL = 0x200  # fail with EEXIST if it exists
    NLM_F_CREATE = 0x400


# A GET request asks for everything with NLM_F_ROOT|NLM_F_MATCH, the same
# bits that mean NLM_F_REPLACE|NLM_F_EXCL in a NEW request.
NLM_F_DUMP = 0x300

# The fixed-size headers, in the kernel's (native) byte order.
# nlmsghdr: length, type, flags, sequence number, port id
NLMSGHDR = struct.Struct("=IHHII")
# ifinfomsg: family, (pad), device type, index, flags, change mask
IFINFOMSG = struct.Struct("=BxHiII")
# ifaddrmsg: family, prefix length, flags, scope, link index
IFADDRMSG = struct.Struct("=BBBBI")
# rtmsg: family, dst len, src len, tos, table, protocol, scope, type, flags
RTMSG = struct.Struct("=BBBBBBBBI")
RTATTR = struct.Struct("=HH")  # length (header included, padding not), type
ERRNO = struct.Struct("=i")  # the first field of an NLMSG_ERROR message

# Attribute types (linux/if_link.h, linux/if_addr.h, linux/rtnetlink.h, linux/veth.h).
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MASTER = 1, 3, 10
IFLA_LINKINFO, IFLA_NET_NS_PID = 18, 19
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2  # inside IFLA_LINKINFO
# Inside a veth's IFLA_INFO_DATA: the peer's ifinfomsg and attributes.
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_OIF, RTA_GATEWAY = 4, 5
NLA_F_NESTED = 1 << 15  # set on an attribute that holds attributes
NLA_TYPE_MASK = 0x3FFF  # the type without the NESTED and NET_BYTEORDER bits

IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1


def align(length: int) -> int:
    """Netlink pads every message and attribute to a multiple of 4 bytes."""
    return (length + 3) & ~3


# -- attributes ---------------------------------------------------------------

def attribute(kind: int, payload: bytes) -> bytes:
    """One rtattr: its length and type, the payload, zeros up to 4 bytes."""
    length = RTATTR.size + len(payload)
    return RTATTR.pack(length, kind) + payload + bytes(align(length) - length)


def nested(kind: int, *attributes: bytes) -> bytes:
    """An attribute whose payload is other attributes."""
    return attribute(kind | NLA_F_NESTED, b"".join(attributes))


def string(kind: int, text: str) -> bytes:
    """A NUL-terminated string attribute (an interface's name, a link's kind)."""
    return attribute(kind, text.encode() + b"\0")


def u32(kind: int, value: int) -> bytes:
    return attribute(kind, struct.pack("=I", value))


def ipv4(kind: int, address: str) -> bytes:
    """An IPv4 address attribute: four bytes in network order."""
    return attribute(kind, IPv4Address(address).packed)


def parse_attributes(data: bytes) -> dict[int, bytes]:
    """The attributes in `data`, by type (NESTED bit removed): their payloads.

    A nested attribute's payload can be parsed again with this function. An
    attribute whose length is below its header's or runs past the end of
    `data` ends the walk: the attributes before it are returned.
    """
    found: dict[int, bytes] = {}
    offset = 0
    while offset + RTATTR.size <= len(data):
        length, kind = RTATTR.unpack_from(data, offset)
        if length < RTATTR.size or offset + length > len(data):
            break  # malformed: stop rather than read past the end
        found[kind & NLA_TYPE_MASK] = data[offset + RTATTR.size:offset + length]
        offset += align(length)
    return found


def text(payload: bytes) -> str:
    """A string attribute's payload, without its NUL."""
    return payload.split(b"\0", 1)[0].decode()


# -- requests -------------------------------------------------------------------

NEW = Flags.NLM_F_REQUEST | Flags.NLM_F_ACK | Flags.NLM_F_CREATE | Flags.NLM_F_EXCL
CHANGE = Flags.NLM_F_REQUEST | Flags.NLM_F_ACK


@dataclass(frozen=True)
class Request:
    """A message for the kernel: a type, flags and a body; `summary` is for people.

    Traced as `netlink(RTM_NEWLINK veth veth1a2b peer eth0 netns 4242)`.
    """

    type: MessageType
    flags: int
    body: bytes
    summary: str

    def pack(self, sequence: int, port: int = 0) -> bytes:
        """The whole message: nlmsghdr, then the body."""
        length = NLMSGHDR.size + len(self.body)
        header = NLMSGHDR.pack(length, self.type, self.flags, sequence, port)
        return header + self.body

    def __str__(self) -> str:
        return f"{self.type.name} {self.summary}"


def ifinfomsg(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    """The link header: family AF_UNSPEC, device type 0 (the kernel picks)."""
    return IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, flags, change)


def new_bridge(name: str, mac: bytes) -> Request:
    """`ip link add NAME address MAC type bridge`.

    A bridge without an address of its own takes the lowest of its ports'
    addresses, and changes it as ports come and go; containers would then
    hold a stale ARP entry for their gateway. A fixed address avoids that.
    """
    body = (ifinfomsg()
            + string(IFLA_IFNAME, name)
            + attribute(IFLA_ADDRESS, mac)
            + nested(IFLA_LINKINFO, string(IFLA_INFO_KIND, "bridge")))
    return Request(MessageType.RTM_NEWLINK, NEW, body, f"bridge {name}")


def new_veth(name: str, peer: str, peer_pid: int,
             peer_mac: bytes | None = None) -> Request:
    """`ip link add NAME type veth peer name PEER [address PEER_MAC] netns PEER_PID`.

    A veth is made as a pair: NAME here, and PEER made directly in the
    network namespace of process PEER_PID, where the name is free even if
    this namespace has a PEER too. The peer is described by a second
    ifinfomsg and its attributes (its IFLA_IFNAME, then its IFLA_ADDRESS
    if PEER_MAC is given, then IFLA_NET_NS_PID), nested three deep:
    IFLA_LINKINFO > IFLA_INFO_DATA > VETH_INFO_PEER. Traced as "veth NAME
    peer PEER netns PEER_PID".
    """
    peer_link = (ifinfomsg() + string(IFLA_IFNAME, peer)
                 + (attribute(IFLA_ADDRESS, peer_mac) if peer_mac else b"")
                 + u32(IFLA_NET_NS_PID, peer_pid))
    body = (ifinfomsg()
            + string(IFLA_IFNAME, name)
            + nested(IFLA_LINKINFO,
                     string(IFLA_INFO_KIND, "veth"),
                     nested(IFLA_INFO_DATA, attribute(VETH_INFO_PEER, peer_link))))
    return Request(MessageType.RTM_NEWLINK, NEW, body,
                   f"veth {name} peer {peer} netns {peer_pid}")


def set_link(name: str, up: bool = True, master: Link | None = None) -> Request:
    """`ip link set NAME up [master BRIDGE]`: an RTM_NEWLINK without
    NLM_F_CREATE changes a link."""
    body = (ifinfomsg(flags=IFF_UP if up else 0, change=IFF_UP)
            + string(IFLA_IFNAME, name))
    summary = name
    if master is not None:
        body += u32(IFLA_MASTER, master.index)
        summary += f" master {master.name}"
    summary += " up" if up else " down"
    return Request(MessageType.RTM_NEWLINK, CHANGE, body, summary)


def delete_link(name: str) -> Request:
    """`ip link del NAME` (for a veth, both ends go)."""
    body = ifinfomsg() + string(IFLA_IFNAME, name)
    return Request(MessageType.RTM_DELLINK, CHANGE, body, name)


def get_link(name: str) -> Request:
    """`ip link show NAME`: answered by one RTM_NEWLINK describing it."""
    body = ifinfomsg() + string(IFLA_IFNAME, name)
    return Request(MessageType.RTM_GETLINK, CHANGE, body, name)


def dump_links() -> Request:
    """`ip link show`: answered by one RTM_NEWLINK per link, then NLMSG_DONE."""
    flags = Flags.NLM_F_REQUEST | NLM_F_DUMP
    return Request(MessageType.RTM_GETLINK, flags, ifinfomsg(), "all")


def new_address(link: Link, address: str, prefix: int) -> Request:
    """`ip addr add ADDRESS/PREFIX dev LINK`. On a point-to-point link IFA_ADDRESS
    would be the other end; on others it equals IFA_LOCAL, as `ip` sends it."""
    body = (IFADDRMSG.pack(socket.AF_INET, prefix, 0, RT_SCOPE_UNIVERSE, link.index)
            + ipv4(IFA_LOCAL, address) + ipv4(IFA_ADDRESS, address))
    return Request(MessageType.RTM_NEWADDR, NEW, body,
                   f"{address}/{prefix} dev {link.name}")


def new_default_route(gateway: str, link: Link) -> Request:
    """`ip route add default via GATEWAY dev LINK` (destination length 0:
    everything)."""
    body = (RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT,
                       RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
            + ipv4(RTA_GATEWAY, gateway) + u32(RTA_OIF, link.index))
    return Request(MessageType.RTM_NEWROUTE, NEW, body,
                   f"default via {gateway} dev {link.name}")


# -- answers ------------------------------------------------------------------------

@dataclass(frozen=True)
class Link:
    """One link as an RTM_NEWLINK answer describes it."""

    index: int
    name: str
    flags: int
    kind: str | None = None  # "veth", "bridge", ...; None for a plain device such as lo
    master: int | None = None  # the bridge it is a port of

    @classmethod
    def parse(cls, payload: bytes) -> Link:
        _family, _type, index, flags, _change = IFINFOMSG.unpack_from(payload)
        attributes = parse_attributes(payload[IFINFOMSG.size:])
        info = parse_attributes(attributes.get(IFLA_LINKINFO, b""))
        master = attributes.get(IFLA_MASTER)
        return cls(index, text(attributes.get(IFLA_IFNAME, b"")), flags,
                   text(info[IFLA_INFO_KIND]) if IFLA_INFO_KIND in info else None,
                   struct.unpack("=I", master)[0] if master else None)

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)


class Answers:
    """The messages that answered one request (traced as their number, not
    their bytes)."""

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads = payloads

    def __str__(self) -> str:
        return f"{len(self.payloads)} message{'s' * (len(self.payloads) != 1)}"


def read_answers(data: bytes, request: Request, sequence: int,
                 answers: list[bytes]) -> bool:
    """Take the messages in one datagram that answer `request`; True once it is done.

    Done is an acknowledgement (NLMSG_ERROR with error 0), the end of a dump
    (NLMSG_DONE), or an error, which is raised as OSError naming the request.
    """
    offset = 0
    while offset + NLMSGHDR.size <= len(data):
        length, kind, flags, seq, _port = NLMSGHDR.unpack_from(data, offset)
        payload = data[offset + NLMSGHDR.size:offset + length]
        offset += align(length)
        if length < NLMSGHDR.size or seq != sequence:
            continue  # not ours (or malformed)
        if kind == MessageType.NLMSG_ERROR:
            error = -ERRNO.unpack_from(payload)[0]
            if error:
                raise OSError(error, f"{request}: {os.strerror(error)}")
            return True
        if kind == MessageType.NLMSG_DONE:
            return True
        answers.append(payload)
        if not flags & Flags.NLM_F_MULTI and not request.flags & Flags.NLM_F_ACK:
            return True
    return False


class Netlink:
    """A NETLINK_ROUTE socket, speaking for the network namespace it was opened in."""

    def __init__(self) -> None:
        self.sock = call("socket", socket.socket, socket.AF_NETLINK, socket.SOCK_RAW,
                         Protocol.NETLINK_ROUTE)
        self.sequence = 0
        call("bind", self.sock.bind, (0, 0))  # port 0: the kernel picks our address

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, request: Request) -> list[bytes]:
        """Send `request`, wait until it is done; the payloads of the answers."""
        answers = call("netlink", self._exchange, request)
        return answers.payloads if answers else []

    def _exchange(self, request: Request) -> Answers | None:
        self.sequence += 1
        self.sock.send(request.pack(self.sequence))
        payloads: list[bytes] = []
        while not read_answers(self.sock.recv(RECEIVE_SIZE), request, self.sequence,
                               payloads):
            pass
        return Answers(payloads) if payloads else None

    def link(self, name: str) -> Link:
        """The link called `name` (OSError ENODEV if there is none)."""
        return Link.parse(self.send(get_link(name))[0])

    def links(self) -> list[Link]:
        """Every link of this network namespace."""
        return [Link.parse(payload) for payload in self.send(dump_links())]
