# chapter: 4
"""Chapter 4, no root needed: netlink messages byte by byte, and reading the kernel's answers."""

from __future__ import annotations

import errno
import struct

import pytest

from dkr.linux import netlink
from dkr.linux.netlink import Flags, Link, MessageType


def hexdump(text: str) -> bytes:
    """Hex bytes written with spaces and `#` comments, one field per line."""
    return bytes.fromhex("".join(line.split("#")[0] for line in text.splitlines()))


# `ip link add veth1a2b type veth peer name eth0 netns 4242`, as the
# kernel's headers lay it out (x86-64: little-endian), sequence number 1.
VETH_MESSAGE = hexdump("""
    6c000000  # nlmsghdr.nlmsg_len: 108 bytes in all
    1000      # nlmsg_type: RTM_NEWLINK (16)
    0506      # nlmsg_flags: NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE (0x605)
    01000000  # nlmsg_seq: 1
    00000000  # nlmsg_pid: 0, the kernel
    00 00 0000 00000000 00000000 00000000  # ifinfomsg: AF_UNSPEC, pad, type, index 0, flags, change
    0d00 0300 7665746831613262 00 000000   # IFLA_IFNAME (3), 13 bytes: "veth1a2b\\0", 3 bytes padding
    3c00 1280                              # IFLA_LINKINFO (18) | NLA_F_NESTED, 60 bytes:
      0900 0100 7665746800 000000          #   IFLA_INFO_KIND (1), 9 bytes: "veth\\0", padding
      2c00 0280                            #   IFLA_INFO_DATA (2) | NLA_F_NESTED, 44 bytes:
        2800 0100                          #     VETH_INFO_PEER (1), 40 bytes:
          00 00 0000 00000000 00000000 00000000  # the peer's ifinfomsg
          0900 0300 6574683000 000000      #       IFLA_IFNAME (3): "eth0\\0", padding
          0800 1300 92100000               #       IFLA_NET_NS_PID (19): 4242
""")


def test_veth_message_byte_for_byte():
    request = netlink.new_veth("veth1a2b", "eth0", 4242)
    assert request.pack(sequence=1) == VETH_MESSAGE
    assert str(request) == "RTM_NEWLINK veth veth1a2b peer eth0 netns 4242"


def test_veth_message_gives_the_peer_its_mac_address():
    mac = bytes.fromhex("02420a7b0003")
    message = netlink.new_veth("veth1a2b", "eth0", 4242, mac).pack(sequence=1)
    assert len(message) == len(VETH_MESSAGE) + 12  # one more attribute: 4 bytes of header, 6 of MAC, 2 of padding
    peer = message.index(bytes.fromhex("0900 0300 6574683000 000000"))  # the peer's IFLA_IFNAME, as above
    assert message[peer + 12:peer + 24] == bytes.fromhex("0a00 0100 02420a7b0003 0000")  # IFLA_ADDRESS (1)
    assert message[peer + 24:] == bytes.fromhex("0800 1300 92100000")  # then IFLA_NET_NS_PID


def test_veth_message_reads_back():
    message = netlink.new_veth("veth1a2b", "eth0", 4242).pack(sequence=7)
    length, kind, flags, sequence, _ = netlink.NLMSGHDR.unpack_from(message)
    assert (length, kind, sequence) == (len(message), MessageType.RTM_NEWLINK, 7)
    assert flags & Flags.NLM_F_CREATE and flags & Flags.NLM_F_EXCL and flags & Flags.NLM_F_ACK
    attributes = netlink.parse_attributes(message[netlink.NLMSGHDR.size + netlink.IFINFOMSG.size:])
    assert netlink.text(attributes[netlink.IFLA_IFNAME]) == "veth1a2b"
    info = netlink.parse_attributes(attributes[netlink.IFLA_LINKINFO])
    assert netlink.text(info[netlink.IFLA_INFO_KIND]) == "veth"
    peer = netlink.parse_attributes(info[netlink.IFLA_INFO_DATA])[netlink.VETH_INFO_PEER]
    peer_attributes = netlink.parse_attributes(peer[netlink.IFINFOMSG.size:])
    assert netlink.text(peer_attributes[netlink.IFLA_IFNAME]) == "eth0"
    assert struct.unpack("=I", peer_attributes[netlink.IFLA_NET_NS_PID]) == (4242,)


def test_attribute_is_padded_to_four_bytes():
    assert netlink.attribute(3, b"abcde") == b"\x09\x00\x03\x00abcde\x00\x00\x00"
    assert netlink.attribute(3, b"abcd") == b"\x08\x00\x03\x00abcd"
    assert netlink.string(3, "lo") == b"\x07\x00\x03\x00lo\x00\x00"
    assert netlink.u32(19, 1) == b"\x08\x00\x13\x00\x01\x00\x00\x00"
    assert netlink.ipv4(2, "10.123.0.2") == b"\x08\x00\x02\x00\x0a\x7b\x00\x02"


def test_parse_attributes_skips_padding_and_the_nested_bit():
    data = netlink.string(3, "eth0") + netlink.nested(18, netlink.string(1, "veth")) + netlink.u32(10, 5)
    found = netlink.parse_attributes(data)
    assert sorted(found) == [3, 10, 18]
    assert netlink.text(found[3]) == "eth0"
    assert netlink.parse_attributes(found[18]) == {1: b"veth\x00"}
    assert found[10] == struct.pack("=I", 5)


def test_parse_attributes_stops_at_a_truncated_attribute():
    data = netlink.u32(10, 5) + struct.pack("=HH", 64, 3) + b"short"
    assert netlink.parse_attributes(data) == {10: struct.pack("=I", 5)}


def test_address_and_route_messages():
    eth0 = Link(index=2, name="eth0", flags=0)
    address = netlink.new_address(eth0, "10.123.0.2", 16)
    assert address.body[:8] == bytes([2, 16, 0, 0]) + struct.pack("=I", 2)  # AF_INET, /16, scope, index
    assert str(address) == "RTM_NEWADDR 10.123.0.2/16 dev eth0"
    route = netlink.new_default_route("10.123.0.1", eth0)
    family, dst_len, _, _, table, protocol, scope, kind, _ = netlink.RTMSG.unpack_from(route.body)
    assert (family, dst_len, table, protocol, scope, kind) == (2, 0, 254, 3, 0, 1)
    attributes = netlink.parse_attributes(route.body[netlink.RTMSG.size:])
    assert attributes[netlink.RTA_GATEWAY] == bytes([10, 123, 0, 1])
    assert str(route) == "RTM_NEWROUTE default via 10.123.0.1 dev eth0"


def message(kind: int, flags: int, sequence: int, payload: bytes) -> bytes:
    return netlink.NLMSGHDR.pack(16 + len(payload), kind, flags, sequence, 0) + payload


def error_message(sequence: int, error: int) -> bytes:
    # NLMSG_ERROR: the (negative) errno, then the header of the request it answers.
    return message(MessageType.NLMSG_ERROR, 0, sequence, struct.pack("=i", -error) + bytes(16))


def test_an_acknowledgement_ends_a_request():
    request = netlink.set_link("lo")
    answers: list[bytes] = []
    assert netlink.read_answers(error_message(3, 0), request, 3, answers)
    assert answers == []


def test_an_error_is_raised_naming_the_request():
    request = netlink.new_bridge("dkr0", bytes(6))
    with pytest.raises(OSError) as raised:
        netlink.read_answers(error_message(5, errno.EEXIST), request, 5, [])
    assert raised.value.errno == errno.EEXIST
    assert str(raised.value) == "[Errno 17] RTM_NEWLINK bridge dkr0: File exists"


def test_messages_of_another_request_are_ignored():
    assert not netlink.read_answers(error_message(9, errno.EEXIST), netlink.set_link("lo"), 3, [])


def link_payload(index: int, name: str, kind: str | None = None, master: int | None = None) -> bytes:
    payload = netlink.ifinfomsg(index, flags=netlink.IFF_UP) + netlink.string(netlink.IFLA_IFNAME, name)
    if master is not None:
        payload += netlink.u32(netlink.IFLA_MASTER, master)
    if kind:
        payload += netlink.nested(netlink.IFLA_LINKINFO, netlink.string(netlink.IFLA_INFO_KIND, kind))
    return payload


def test_a_dump_collects_every_part_until_done():
    request = netlink.dump_links()
    multi = Flags.NLM_F_MULTI
    datagram = (message(MessageType.RTM_NEWLINK, multi, 4, link_payload(1, "lo"))
                + message(MessageType.RTM_NEWLINK, multi, 4, link_payload(5, "veth1a2b", "veth", 4)))
    answers: list[bytes] = []
    assert not netlink.read_answers(datagram, request, 4, answers)  # more to come
    assert netlink.read_answers(message(MessageType.NLMSG_DONE, multi, 4, bytes(4)), request, 4, answers)
    links = [Link.parse(payload) for payload in answers]
    assert links == [Link(1, "lo", netlink.IFF_UP), Link(5, "veth1a2b", netlink.IFF_UP, "veth", 4)]
    assert links[1].up


def test_requests_are_traced_by_their_summary():
    assert str(netlink.set_link("veth1a2b", master=Link(4, "dkr0", 0))) == "RTM_NEWLINK veth1a2b master dkr0 up"
    assert str(netlink.delete_link("veth1a2b")) == "RTM_DELLINK veth1a2b"
    assert str(netlink.Answers([b"", b""])) == "2 messages"
