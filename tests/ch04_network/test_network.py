# chapter: 4
"""Chapter 4: a network namespace of its own, a veth into the bridge dkr0, an
address, a route, NAT and published ports; checked from inside and with `ip -j`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import (container_pid, free_port, ip_json, link_names,
                      named_network_namespace, state_entries, state_root)

# In the container: a web server on port 80, then our address, then "ready".
SERVE = ("mkdir -p /www && echo \"hello from $(hostname)\" > /www/index.html && httpd -p 80 -h /www"
         " && ip -o -4 addr show dev eth0 && echo ready && exec sleep 60")
INET = re.compile(r"inet (\d+\.\d+\.\d+\.\d+)/(\d+)")


def start_server(start_dkr, *options: str) -> tuple[subprocess.Popen, str]:
    """A container serving http on port 80: the dkr process and the container's address."""
    process = start_dkr("run", *options, "sh", "-c", SERVE)
    address = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if match := INET.search(line):
            address = match[1]
        if line.strip() == "ready" or (not line and process.poll() is not None):
            break
    assert address, f"the container did not start its server: {process.stderr.read()}"
    return process, address


def get(url: str, timeout: float = 10) -> str:
    """The body at `url`, retrying while the server is not yet there."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def veths_on_dkr0() -> dict[str, dict]:
    bridge = [link for link in ip_json("link") if link["ifname"] == "dkr0"]
    return {link["ifname"]: link for link in ip_json("link")
            if bridge and link.get("master") == "dkr0"}


def leftovers(data_dir: Path, before_links: set[str], before_state: set[str]) -> list[str]:
    """Links, leases and state that were not there before (the bridge excepted: it stays)."""
    return sorted((link_names() - before_links) | (state_entries(data_dir) - before_state))


def test_container_has_loopback_and_eth0_with_an_address(dkr):
    result = dkr("run", "sh", "-c", "ip -o addr; ip route")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(re.match(r"\d+: lo\s+inet 127\.0\.0\.1/8", line) for line in lines)
    eth0 = next(line for line in lines if re.match(r"\d+: eth0\s+inet ", line))
    address, prefix = INET.search(eth0).groups()
    assert address.startswith("10.123.") and prefix == "16"
    assert "default via 10.123.0.1 dev eth0" in result.stdout


def test_host_sees_the_veth_on_dkr0(start_dkr):
    process = start_dkr("run", "sh", "-c", "cat /sys/class/net/eth0/iflink; echo ready; exec sleep 60")
    peer_index = int(process.stdout.readline())
    assert process.stdout.readline() == "ready\n"
    veths = {link["ifindex"]: link for link in veths_on_dkr0().values()}
    host_end = veths[peer_index]  # eth0's other end is a port of dkr0
    assert host_end["ifname"].startswith("veth") and "UP" in host_end["flags"]
    bridge = ip_json("addr", "show", "dev", "dkr0")[0]
    assert {(a["local"], a["prefixlen"]) for a in bridge["addr_info"]} >= {("10.123.0.1", 16)}
    details = ip_json("-d", "link", "show", "dev", host_end["ifname"])[0]
    assert details["linkinfo"]["info_kind"] == "veth"


def test_host_reaches_a_server_in_the_container(start_dkr):
    _, address = start_server(start_dkr, "--hostname", "web")
    assert get(f"http://{address}/") == "hello from web\n"


def test_two_containers_reach_each_other(dkr, start_dkr):
    _, address = start_server(start_dkr, "--hostname", "first")
    result = dkr("run", "timeout", "10", "wget", "-q", "-O", "-", f"http://{address}/")
    assert result.stdout == "hello from first\n", result.stderr


def test_published_port_from_the_hosts_loopback(start_dkr):
    port = free_port()
    start_server(start_dkr, "--hostname", "published", "-p", f"{port}:80")
    assert get(f"http://127.0.0.1:{port}/") == "hello from published\n"


OUTSIDE = "dkr-test-outside"
# A server in the "outside" namespace that answers with the address it sees.
WHO_IS_ASKING = """
import socket
server = socket.create_server(("192.168.231.2", 8000))
print("ready", flush=True)
connection, (peer, _) = server.accept()
connection.recv(4096)
connection.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\n" + peer.encode() + b"\\n")
connection.close()
"""


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def outside(root):
    """A network namespace playing the internet: 192.168.231.2, reached from the
    host (192.168.231.1) through a veth of its own, with no route to 10.123.0.0/16."""
    with named_network_namespace(OUTSIDE):
        try:
            ip("link", "add", "dkrtest-out", "type", "veth", "peer", "name", "eth0", "netns", OUTSIDE)
            ip("addr", "add", "192.168.231.1/24", "dev", "dkrtest-out")
            ip("link", "set", "dkrtest-out", "up")
            ip("-n", OUTSIDE, "addr", "add", "192.168.231.2/24", "dev", "eth0")
            ip("-n", OUTSIDE, "link", "set", "eth0", "up")
            server = subprocess.Popen(["ip", "netns", "exec", OUTSIDE, sys.executable, "-c",
                                       WHO_IS_ASKING], stdout=subprocess.PIPE, text=True)
            try:
                assert server.stdout.readline() == "ready\n"
                yield "192.168.231.2"
            finally:
                server.kill()
                server.wait(timeout=10)
        finally:
            subprocess.run(["ip", "link", "del", "dkrtest-out"], capture_output=True)


def test_outbound_traffic_is_masqueraded(dkr, outside: str):
    result = dkr("run", "timeout", "10", "wget", "-q", "-O", "-", f"http://{outside}:8000/")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "192.168.231.1\n"  # the host's address, not the container's
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == "1\n"
    tables = subprocess.run(["nft", "list", "table", "ip", "dkr"], capture_output=True, text=True)
    assert "masquerade" in tables.stdout


def test_ten_containers_at_once_get_ten_addresses(root, data_dir, rootfs, tmp_path):
    """(As after every test, nothing is left: see conftest's leaves_nothing.)"""
    from conftest import dkr_command, dkr_env

    # Each container says it is up, then waits for all ten to be: a container
    # that ended early would hand its address on, rightly.
    script = ("ip -o -4 addr show dev eth0; touch /sync/$HOSTNAME; "
              "for i in $(seq 600); do [ -e /sync/go ] && exit; sleep 0.1; done")
    command = dkr_command("run", "--rootfs", str(rootfs), "-v", f"{tmp_path}:/sync",
                          "sh", "-c", script)
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=dkr_env(data_dir)) for _ in range(10)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.iterdir())) < 10 and time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            break
        time.sleep(0.1)
    (tmp_path / "go").touch()
    outputs = [process.communicate(timeout=60) for process in processes]
    assert all(process.returncode == 0 for process in processes), [err for _, err in outputs]
    addresses = [INET.search(out)[1] for out, _ in outputs]
    assert len(set(addresses)) == 10, addresses


def test_none_has_only_loopback(dkr):
    result = dkr("run", "--net", "none", "sh", "-c", "ip -o link; cat /etc/hosts")
    links = re.findall(r"^\d+: (\S+?):", result.stdout, re.MULTILINE)
    assert links == ["lo"], result.stdout + result.stderr
    assert "LOOPBACK,UP" in result.stdout


def test_host_sees_the_hosts_interfaces(dkr):
    result = dkr("run", "--net", "host", "ip", "-o", "link")
    inside = set(re.findall(r"^\d+: ([^:@]+)", result.stdout, re.MULTILINE))
    assert inside == {link["ifname"] for link in ip_json("link")}


def test_etc_files_name_the_container(dkr):
    script = "cat /etc/hostname; tail -1 /etc/hosts; grep -c nameserver /etc/resolv.conf; ip -o -4 addr show dev eth0"
    result = dkr("run", "--hostname", "box", "sh", "-c", script)
    hostname, hosts, nameservers, eth0 = result.stdout.splitlines()
    assert hostname == "box"
    assert hosts == f"{INET.search(eth0)[1]}\tbox"
    assert int(nameservers) >= 1
    assert "nameserver 127." not in dkr("run", "cat", "/etc/resolv.conf").stdout


def test_etc_files_are_read_only_with_a_read_only_root(dkr):
    writable = dkr("run", "sh", "-c", "echo '10.0.0.9 extra' >> /etc/hosts && tail -1 /etc/hosts")
    assert writable.stdout == "10.0.0.9 extra\n"
    result = dkr("run", "--read-only", "sh", "-c", "echo x >> /etc/hosts")
    assert "Read-only file system" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "80"], "dkr: bad port mapping '80': use -p HOSTPORT:CTRPORT\n"),
    (["-p", "http:80"], "dkr: bad port mapping 'http:80': use -p HOSTPORT:CTRPORT\n"),
    (["-p", "8080:0"], "dkr: bad port mapping '8080:0': ports are numbers from 1 to 65535\n"),
    (["--net", "wifi"], "dkr: unknown network mode 'wifi': use --net bridge, none or host\n"),
    (["--net", "host", "-p", "8080:80"],
     "dkr: -p needs --net bridge: with --net host there is no container port to publish\n"),
])
def test_bad_network_options_are_one_clear_line(dkr, args: list[str], message: str):
    result = dkr("run", *args, "true")
    assert (result.returncode, result.stderr) == (125, message)


def test_a_taken_host_port_is_one_clear_line(dkr):
    with socket.create_server(("0.0.0.0", 0)) as taken:
        port = taken.getsockname()[1]
        result = dkr("run", "-p", f"{port}:80", "echo", "started")
    assert (result.returncode, result.stdout) == (125, "")
    assert result.stderr == f"dkr: host port {port} is already in use (-p {port}:80): choose another host port\n"


def test_state_of_a_killed_dkr_is_taken_back_by_the_next(dkr, start_dkr, data_dir: Path):
    before_links, before_state = link_names(), state_entries(data_dir)
    process = start_dkr("run", "sh", "-c", "echo ready; exec sleep 60")
    assert process.stdout.readline() == "ready\n"
    init = container_pid(process)
    process.kill()  # dkr gets no chance to clean up; the container dies with it
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{init}") and time.monotonic() < deadline:
        time.sleep(0.05)
    left = leftovers(data_dir, before_links, before_state)
    assert any(path.startswith(f"{state_root(data_dir)}/") for path in left), \
        f"a killed dkr left no state directory in {state_root(data_dir)}: {left}"
    assert any(path.startswith("/run/dkr/network/10.123.") for path in left), \
        f"a killed dkr left no lease: {left}"
    assert dkr("run", "true").returncode == 0
    deadline = time.monotonic() + 5  # the veth goes when the kernel ends the container's namespace
    while leftovers(data_dir, before_links, before_state) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(data_dir, before_links, before_state) == []


def first(calls: list[str], pattern: str) -> int:
    return next(i for i, call in enumerate(calls) if re.fullmatch(pattern, call))


def test_trace_shows_both_sides_of_the_handshake(dkr):
    lines = dkr("--trace", "run", "true").stderr.splitlines()
    calls = [line.split("] ", 1)[1] for line in lines if "] " in line]
    ready = next(i for i, call in enumerate(calls) if call.startswith("sendmsg(") and '["ready\\n"]' in call)
    veth = first(calls, r"netlink\(RTM_NEWLINK veth veth\w+ peer eth0 netns \d+\) = 0")
    address = first(calls, r"netlink\(RTM_NEWADDR 10\.123\.\d+\.\d+/16 dev eth0\) = 0")
    route = calls.index("netlink(RTM_NEWROUTE default via 10.123.0.1 dev eth0) = 0")
    pivot = calls.index('pivot_root(".", ".") = 0')
    assert ready < veth < address < route < pivot
    assert any(call.startswith("unshare(") and "CLONE_NEWNET" in call for call in calls)


def test_a_failed_set_up_is_reported_not_the_clean_up_after_it(root, data_dir, rootfs):
    """Without CAP_NET_ADMIN dkr cannot make the veth; that is what it says,
    not that it could not remove the veth it never made."""
    from conftest import dkr_command, dkr_env

    result = subprocess.run(["setpriv", "--bounding-set", "-net_admin",
                             *dkr_command("run", "--rootfs", str(rootfs), "true")],
                            capture_output=True, text=True, env=dkr_env(data_dir), timeout=60)
    assert result.returncode == 125
    assert re.fullmatch(r"dkr: netlink: RTM_NEWLINK veth veth\w+ peer eth0 netns \d+: Operation not "
                        r"permitted \(dkr needs root's capabilities: run it as root\)\n", result.stderr), \
        result.stderr


def test_the_next_container_at_an_address_is_reached_at_once(start_dkr):
    """The host remembers the MAC of the last container at an address for a
    while; the next container there has the same MAC (from its address, as
    Docker's), so the host reaches it at once instead of after its stale
    entry times out."""
    first, address = start_server(start_dkr, "--hostname", "first")
    assert get(f"http://{address}/") == "hello from first\n"
    os.kill(container_pid(first), signal.SIGKILL)  # dkr then releases its address
    first.wait(timeout=10)
    second, again = start_server(start_dkr, "--hostname", "second")
    assert again == address, "the second container got another address: nothing to show"
    with urllib.request.urlopen(f"http://{address}/", timeout=2) as response:
        assert response.read().decode() == "hello from second\n"


def test_a_containers_mac_address_follows_from_its_ip_address(dkr):
    result = dkr("run", "sh", "-c", "ip -o -4 addr show dev eth0; cat /sys/class/net/eth0/address")
    address = INET.search(result.stdout)[1]
    expected = "02:42:" + ":".join(f"{int(part):02x}" for part in address.split("."))
    assert result.stdout.splitlines()[-1] == expected
