# chapter: 4
"""The container's network: a namespace of its own, and what connects it.

`dkr run --net MODE` picks one of Docker's modes:

- bridge (the default): loopback, and eth0, one end of a veth pair whose
  other end is plugged into the host's bridge dkr0; an address of its own,
  a default route through the host, NAT to the outside, and `-p` ports;
- none: a network namespace with nothing but loopback;
- host: no network namespace: the host's interfaces, as they are.

The work is split between the two processes. The child unshares its
network namespace, tells dkr it is "ready" and waits; dkr, still in the
host's namespace, leases an address, writes /etc/hosts and friends and
pushes one end of a veth pair into the child's namespace; its "go" carries
what the child needs to configure its side: the address, the gateway, and
where the files are. Only then does the child mount its root, so the files
can be bind-mounted with the rest.

The OCI runtime spec leaves networking to whoever runs the runtime (Docker,
CNI plugins); `dkr run` passes its choice down in the spec's annotations,
as crun reads its own `run.oci.*` annotations. A spec without them (a
bundle) gets what runc gives: a new namespace with loopback up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dkr.channel import Channel
from dkr.config import Spec
from dkr.errors import CleanUp, DkrError, shorten
from dkr.linux import netlink
from dkr.linux.netlink import Netlink
from dkr.network import bridge, files
from dkr.network.ipam import Allocator, Lease
from dkr.network.ports import Proxy, parse_publish

MODES = ("bridge", "none", "host")
MODE_KEY = "dkr.network"  # annotation: bridge, none or host
PORTS_KEY = "dkr.ports"  # annotation: published ports, "IP:HOSTPORT:CTRPORT,..."
LEASES = Path("/run/dkr/network")  # the bridge's, shared by every dkr on the host


def configure(spec: Spec, mode: str, publish: list[str]) -> None:
    """Record `dkr run --net MODE -p ...` in the spec (DkrError if they make no
    sense)."""
    if mode not in MODES:
        raise DkrError(f"unknown network mode {shorten(mode)!r}: use --net bridge, "
                       f"none or host")
    ports = [parse_publish(item) for item in publish]
    if ports and mode != "bridge":
        raise DkrError(f"-p needs --net bridge: with --net {mode} there is no "
                       f"container port to publish")
    if mode == "host":
        spec.linux.namespaces = [namespace for namespace in spec.linux.namespaces
                                 if namespace.type != "network"]
    spec.annotations[MODE_KEY] = mode
    if ports:
        spec.annotations[PORTS_KEY] = ",".join(str(port) for port in ports)


@dataclass
class Attachment:
    """What dkr tells the child in its "go": where its files are, and for a
    bridge its address and gateway. Sent as "key value" lines."""

    files: str
    address: str = ""  # "10.123.0.2/16"
    gateway: str = ""

    def to_text(self) -> str:
        return "".join(f"{key} {value}\n" for key, value in vars(self).items() if value)

    @classmethod
    def from_text(cls, text: str) -> Attachment:
        return cls(**dict(line.split(" ", 1) for line in text.splitlines()))


class HostSide:
    """dkr's part: what the container's network needs on the host, made when
    the child is ready and removed when the container has ended. Its files
    go into the container's state directory."""

    def __init__(self, spec: Spec, pid: int, container_id: str,
                 state_directory: Path) -> None:
        self.spec = spec
        self.pid = pid
        # A link's name has at most 15 characters: "veth" and 11 of the id.
        self.veth = f"veth{container_id[:11]}"
        self.state_directory = state_directory
        self.undo = CleanUp()  # what to remove, last made first

    def __enter__(self) -> HostSide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.undo.__exit__(*exc)

    def connect(self) -> str:
        """The child is ready: make the host's side; the text of the "go"."""
        mode = self.spec.annotations[MODE_KEY]
        attachment = Attachment(files=str(self.state_directory))
        allocator = Allocator(LEASES, bridge.SUBNET, {bridge.GATEWAY})
        address = None
        if mode == "bridge":
            lease = self.attach_to_bridge(allocator)
            address = str(lease.address)
            attachment.address = f"{address}/{bridge.SUBNET.prefixlen}"
            attachment.gateway = str(bridge.GATEWAY)
            if PORTS_KEY in self.spec.annotations:
                published = self.spec.annotations[PORTS_KEY].split(",")
                ports = [parse_publish(item) for item in published]
                self.undo.callback(Proxy(ports, address).stop)
        files.write(self.state_directory, self.spec.hostname or "", address,
                    host_network=mode == "host")
        return attachment.to_text()

    def attach_to_bridge(self, allocator: Allocator) -> Lease:
        """An address, and a veth from dkr0 into the child's namespace."""
        with Netlink() as nl:
            with allocator.locked():
                dkr0 = bridge.ensure_bridge(nl)
                lease = allocator.lease()
            self.undo.callback(lease.release)
            bridge.new_veth(nl, self.veth, self.pid, lease.address)
            self.undo.callback(_unplug, self.veth)
            bridge.plug_in(nl, dkr0, self.veth)
        return lease


def _unplug(veth: str) -> None:
    with Netlink() as nl:
        bridge.unplug(nl, veth)


def set_up_inside(spec: Spec, channel: Channel) -> None:
    """In the child, after unshare: loopback up and, with dkr's networking,
    wait for dkr's "go", configure eth0 and add the files' bind mounts."""
    # chapter: 4-9 {
    # new_namespace = spec.has_namespace("network")
    # }
    new_namespace = spec.new_namespace("network")  # chapter: 10
    if MODE_KEY not in spec.annotations:
        if new_namespace:
            with Netlink() as nl:
                nl.send(netlink.set_link("lo"))
        return
    attachment = Attachment.from_text(channel.ask("ready").text)
    if new_namespace:
        with Netlink() as nl:
            nl.send(netlink.set_link("lo"))
            if attachment.address:
                configure_eth0(nl, attachment.address, attachment.gateway)
    spec.mounts += files.mounts(attachment.files, spec.root.readonly)


def configure_eth0(nl: Netlink, address: str, gateway: str) -> None:
    """Give eth0 its address ("10.123.0.2/16"), bring it up, route everything
    via `gateway`."""
    eth0 = nl.link("eth0")
    ip, prefix = address.split("/")
    nl.send(netlink.new_address(eth0, ip, int(prefix)))
    nl.send(netlink.set_link("eth0"))
    nl.send(netlink.new_default_route(gateway, eth0))
