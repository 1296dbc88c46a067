# chapter: 4
"""Chapter 4, no root needed: the address allocator, the container's /etc files,
-p parsing and the port proxy, each on its own."""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from dkr.config import Spec, Process, Root
from dkr.errors import DkrError
from dkr.network import Attachment, configure, files
from dkr.network.ipam import Allocator
from dkr.owners import is_stale, owner_id
from dkr import state
from dkr.network.ports import Proxy, Published, parse_publish

SUBNET = IPv4Network("10.9.0.0/29")  # .1 to .6: .1 is the gateway, five for containers
GATEWAY = IPv4Address("10.9.0.1")


def allocator(directory: Path) -> Allocator:
    return Allocator(directory, SUBNET, {GATEWAY})


def lease(directory: Path):
    with allocator(directory).locked():
        return allocator(directory).lease()


def test_leases_are_the_lowest_free_addresses(tmp_path: Path):
    first, second = lease(tmp_path), lease(tmp_path)
    assert (str(first.address), str(second.address)) == ("10.9.0.2", "10.9.0.3")
    assert (tmp_path / "10.9.0.2").read_text() == owner_id(os.getpid()) + "\n"
    first.release()
    assert str(lease(tmp_path).address) == "10.9.0.2"


def test_no_address_is_handed_out_twice_until_none_is_left(tmp_path: Path):
    addresses = {str(lease(tmp_path).address) for _ in range(5)}
    assert addresses == {f"10.9.0.{n}" for n in range(2, 7)}
    with pytest.raises(DkrError, match="no free address left in 10.9.0.0/29"):
        lease(tmp_path)


def dead_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                             capture_output=True, text=True, check=True)
    return int(process.stdout)


def test_a_lease_of_a_dead_owner_is_taken_back(tmp_path: Path):
    (tmp_path / "10.9.0.2").write_text(f"{dead_pid()} 12345\n")
    (tmp_path / "10.9.0.3").write_text(f"{owner_id(os.getppid())}\n")  # alive: kept
    assert str(lease(tmp_path).address) == "10.9.0.2"
    assert str(lease(tmp_path).address) == "10.9.0.4"


def test_owners():
    assert not is_stale(owner_id(os.getpid()))
    assert is_stale(f"{os.getpid()} 1")  # the same pid, started at another time: reused
    assert is_stale(f"{dead_pid()} 1")
    assert is_stale("")


def _take_and_hold(directory: Path, ready, addresses) -> None:
    taken = lease(directory)
    addresses.put(str(taken.address))
    ready.wait(timeout=20)  # hold the lease until every process has one


def test_processes_leasing_at_once_get_different_addresses(tmp_path: Path):
    context = multiprocessing.get_context("fork")
    ready, addresses = context.Barrier(5), context.Queue()
    workers = [context.Process(target=_take_and_hold, args=(tmp_path, ready, addresses)) for _ in range(5)]
    for worker in workers:
        worker.start()
    got = [addresses.get(timeout=20) for _ in workers]
    for worker in workers:
        worker.join(timeout=20)
    assert sorted(got) == [f"10.9.0.{n}" for n in range(2, 7)]


def test_hosts_names_the_container_at_its_address():
    text = files.hosts("box", "10.123.0.2")
    assert text.startswith("127.0.0.1\tlocalhost\n")
    assert text.endswith("10.123.0.2\tbox\n")
    assert "box" not in files.hosts("box", None)


@pytest.mark.parametrize(("host", "container"), [
    ("nameserver 10.0.0.1\nsearch example.org\n", "nameserver 10.0.0.1\nsearch example.org\n"),
    ("nameserver 127.0.0.53\noptions edns0\n", "options edns0\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n"),
    ("nameserver ::1\nnameserver 192.0.2.53\n", "nameserver 192.0.2.53\n"),
    ("", "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"),
])
def test_resolv_conf_drops_the_hosts_loopback_nameservers(host: str, container: str):
    assert files.resolv_conf(host) == container


def test_state_of_a_dead_dkr_is_removed(tmp_path: Path):
    for name, owner in (("dead", f"{dead_pid()} 1"), ("alive", owner_id(os.getpid())),
                        ("ownerless", None)):
        (tmp_path / name).mkdir()
        if owner is not None:
            (tmp_path / name / "owner").write_text(owner)
        (tmp_path / name / "hosts").write_text("")
    state.reclaim_stale(tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["alive"]


def test_file_mounts_follow_a_read_only_root():
    mounts = files.mounts("/run/dkr/containers/x", readonly=True)
    assert [m.destination for m in mounts] == ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"]
    assert mounts[0].source == "/run/dkr/containers/x/hosts"
    assert all(m.options == ["rbind", "ro"] for m in mounts)
    assert files.mounts("/x", readonly=False)[0].options == ["rbind"]


@pytest.mark.parametrize(("text", "published"), [
    ("8080:80", Published(8080, 80)),
    ("127.0.0.1:8080:80/tcp", Published(8080, 80, "127.0.0.1")),
])
def test_publish_is_parsed(text: str, published: Published):
    assert parse_publish(text) == published


@pytest.mark.parametrize(("text", "message"), [
    ("80", "bad port mapping '80': use -p HOSTPORT:CTRPORT"),
    ("a:80", "bad port mapping 'a:80': use -p HOSTPORT:CTRPORT"),
    ("70000:80", "bad port mapping '70000:80': ports are numbers from 1 to 65535"),
    ("8080:80/udp", "bad port mapping '8080:80/udp': dkr publishes TCP ports only"),
    ("1.2.3:8080:80", "bad port mapping '1.2.3:8080:80': 1.2.3 is not an IPv4 address"),
])
def test_bad_publish_says_what_is_wrong(text: str, message: str):
    with pytest.raises(DkrError) as raised:
        parse_publish(text)
    assert str(raised.value) == message


def spec() -> Spec:
    from dkr.config import Linux, Namespace

    return Spec(Process(["true"]), Root("/"),
                linux=Linux(namespaces=[Namespace("uts"), Namespace("network")]))


def test_configure_records_the_choice_in_annotations():
    bridged = spec()
    configure(bridged, "bridge", ["8080:80"])
    assert bridged.annotations == {"dkr.network": "bridge", "dkr.ports": "0.0.0.0:8080:80"}
    host = spec()
    configure(host, "host", [])
    assert not host.has_namespace("network")
    with pytest.raises(DkrError, match="unknown network mode 'wifi'"):
        configure(spec(), "wifi", [])
    with pytest.raises(DkrError, match="-p needs --net bridge"):
        configure(spec(), "none", ["8080:80"])


def test_attachment_round_trips_as_text():
    attachment = Attachment("/run/dkr/containers/x", "10.123.0.2/16", "10.123.0.1")
    assert attachment.to_text() == "files /run/dkr/containers/x\naddress 10.123.0.2/16\ngateway 10.123.0.1\n"
    assert Attachment.from_text(attachment.to_text()) == attachment
    assert Attachment.from_text("files /x\n") == Attachment("/x")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def echo_server():
    """A server on 127.0.0.1 that sends back what it reads, upper-cased, then closes."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                data = b""
                while chunk := connection.recv(65536):
                    data += chunk
                connection.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def test_proxy_copies_both_ways_and_passes_on_the_end(echo_server: int):
    port = free_port()
    proxy = Proxy([Published(port, echo_server, "127.0.0.1")], "127.0.0.1")
    try:
        for size in (5, 3_000_000):  # more than any socket buffer holds
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                sent = b"hello" * (size // 5)
                threading.Thread(target=lambda: (client.sendall(sent), client.shutdown(socket.SHUT_WR)),
                                 daemon=True).start()
                received = b""
                while chunk := client.recv(65536):
                    received += chunk
            assert received == sent.upper()
    finally:
        proxy.stop()
    assert not proxy.thread.is_alive()


def test_proxy_closes_the_client_when_the_container_refuses():
    port, closed_port = free_port(), free_port()
    proxy = Proxy([Published(port, closed_port, "127.0.0.1")], "127.0.0.1")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            assert client.recv(10) == b""
    finally:
        proxy.stop()


def test_a_taken_host_port_is_named():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(DkrError) as raised:
            Proxy([Published(port, 80, "127.0.0.1")], "127.0.0.1")
    assert str(raised.value) == (f"host port {port} is already in use (-p {port}:80): "
                                 "choose another host port")


def test_a_lease_made_by_another_dkr_meanwhile_is_not_taken(tmp_path: Path, monkeypatch):
    """O_CREAT|O_EXCL is the last guard: an address whose file appears after
    the stale leases were read (another dkr, or a lock that failed) is not
    handed out again; its file is left as it is."""
    owner = f"{owner_id(os.getppid())}\n"
    (tmp_path / "10.9.0.2").write_text(owner)
    monkeypatch.setattr(Allocator, "reclaim_stale", lambda self: set())  # as if read before
    assert str(lease(tmp_path).address) == "10.9.0.3"
    assert (tmp_path / "10.9.0.2").read_text() == owner
