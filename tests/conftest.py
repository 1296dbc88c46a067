# chapter: 1
"""What every chapter's tests share: running dkr, a test rootfs, root checks,
and the final check that no test left anything behind."""

from __future__ import annotations

import contextlib  # chapter: 4
import json  # chapter: 4
import os
import shutil  # chapter: 4
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TREE = Path(__file__).resolve().parent.parent
REQUIRE_ROOT = os.environ.get("DKR_REQUIRE_ROOT") == "1"
IS_ROOT = os.geteuid() == 0


@pytest.fixture
def root() -> None:
    """Use in every test that needs root: skips without it (fails in CI)."""
    if not IS_ROOT:
        pytest.skip("needs root: run the tests with sudo")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test is a hole when DKR_REQUIRE_ROOT=1: report it as failed."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ROOT and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped, but DKR_REQUIRE_ROOT=1: {report.longrepr}"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dkr's data directory for the tests (the default rootfs is built here)."""
    return tmp_path_factory.mktemp("dkr-data")


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test root file system: busybox where installed, else host programs,
    built by the same code as dkr's default rootfs."""
    from dkr.rootfs import build_rootfs, find_busybox

    path = tmp_path_factory.mktemp("rootfs") / "root"
    build_rootfs(path, find_busybox())
    return path


def dkr_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dkr", *args]


def dkr_env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(TREE), "DKR_DATA": str(data_dir)}


@pytest.fixture
def dkr(root, data_dir: Path, rootfs: Path):
    """Run `dkr ARGS…` to completion: a CompletedProcess with text output.

    `dkr run` gets `--rootfs <test rootfs>` unless the test gives a root or
    asks for dkr's default one. stdin is /dev/null unless `input` is given.
    """

    def run(*args: str, input: str | None = None, timeout: float = 60,
            default_rootfs: bool = False, **kwargs):
        return subprocess.run(
            dkr_command(*(args if default_rootfs else with_test_rootfs(args, rootfs))),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, cwd=TREE,
            env=dkr_env(data_dir), **kwargs,
        )

    return run


@pytest.fixture
def start_dkr(root, data_dir: Path, rootfs: Path):
    """Start `dkr ARGS…` in the background: a Popen, killed at the test's end."""
    started: list[subprocess.Popen] = []

    def start(*args: str, **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(
            dkr_command(*with_test_rootfs(args, rootfs)), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TREE,
            env=dkr_env(data_dir), **kwargs,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        # chapter: 4 {
        for pid in children(process.pid):  # end the container first, so dkr cleans up after it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        # }
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def with_test_rootfs(args: tuple[str, ...], rootfs: Path) -> list[str]:
    """Insert --rootfs after `run` unless the test chose a root itself."""
    args = list(args)
    if "run" in args and "--rootfs" not in args:
        at = args.index("run") + 1
        args[at:at] = ["--rootfs", str(rootfs)]
    return args


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 20) -> str:
    """Read the process's stdout until a line containing `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if text in line:
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no line with {text!r} from dkr (stderr: {process.stderr.read()})")


def children(pid: int) -> list[int]:
    """The pids of a process's children."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(child) for child in text.split()]


def container_pid(process: subprocess.Popen, timeout: float = 10) -> int:
    """The host pid of the container's first process under a running dkr."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = children(process.pid)
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError("dkr started no container process")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


# What the suite checks was left behind -------------------------------------

def mount_points() -> set[str]:
    return {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}


def foreign_pid_namespace_processes() -> set[int]:
    """Processes in a PID namespace other than ours: containers."""
    own = os.readlink("/proc/self/ns/pid")
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns/pid") != own:
                    found.add(int(entry.name))
            except OSError:
                pass
    return found


STATE_DIRS = (Path("/run/dkr"), Path("/var/lib/dkr"))


def state_entries() -> set[str]:
    """What dkr keeps on the host outside the tests' own data directory."""
    return {str(path) for top in STATE_DIRS if top.is_dir() for path in top.rglob("*")
            if len(path.relative_to(top).parts) <= 3}
# chapter: 4 {


RUN_DKR = Path("/run/dkr")
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def ip_json(*args: str) -> list[dict]:
    """`ip -j ARGS` as data: the host's view, to check what dkr did (nothing without ip)."""
    if not shutil.which("ip"):
        return []
    result = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout or "[]")


def link_names() -> set[str]:
    return {link["ifname"] for link in ip_json("link")}


def network_namespaces() -> set[str]:
    return {ns["name"] for ns in ip_json("netns")}


def nft_tables() -> set[str]:
    if not (IS_ROOT and shutil.which("nft")):
        return set()
    result = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
    if result.returncode != 0:  # a kernel without nf_tables (the cgroup v2 VM) has no tables
        return set()
    return set(result.stdout.splitlines())


def reclaim_state_of_killed_dkr() -> None:
    """What a dkr killed with SIGKILL left (a lease, a state directory), taken
    back as the next dkr would: for tests that kill dkr on purpose."""
    from dkr.network import CONTAINERS, LEASES, bridge, files
    from dkr.network.ipam import Allocator

    files.reclaim_stale(CONTAINERS)
    if LEASES.is_dir():
        Allocator(LEASES, bridge.SUBNET, set()).reclaim_stale()


def remove_shared_network(before: dict[str, set]) -> None:
    """Remove what dkr keeps for all containers, if this session made it: the
    bridge dkr0, nftables' table ip dkr, and /run/dkr's lock and directories
    (only when empty: a lease or state directory left inside is a leak)."""
    if "dkr0" in link_names() - before["network links"]:
        subprocess.run(["ip", "link", "del", "dkr0"], check=True)
    if "table ip dkr" in nft_tables() - before["nft tables"]:
        subprocess.run(["nft", "delete", "table", "ip", "dkr"], check=True)
    made = sorted(state_entries() - before["dkr state"], key=len, reverse=True)
    for path in map(Path, made):
        with contextlib.suppress(OSError):
            if path.name == "lock":
                path.unlink()
            elif path.is_dir():
                path.rmdir()
    if not any(path.startswith(f"{RUN_DKR}/") for path in before["dkr state"]):
        with contextlib.suppress(OSError):
            RUN_DKR.rmdir()  # made by this session (or empty before it)
# }


# chapter: 5 {
def cgroup_mount_points() -> list[str]:
    """Where the host mounts its cgroup hierarchies (v1 and v2)."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields, _, rest = line.partition(" - ")
        if rest.split()[:1] in (["cgroup"], ["cgroup2"]):
            points.append(fields.split()[4])
    return points


def cgroup_directories() -> set[str]:
    """Every cgroup on the host: each directory of each mounted hierarchy."""
    return {directory for point in cgroup_mount_points() for directory, _, _ in os.walk(point)}


def cgroups_of(pid: int) -> list[str]:
    """The host directories of the cgroups dkr put process `pid` in."""
    paths = {line.split(":", 2)[2] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()}
    return [point + path for point in cgroup_mount_points() for path in paths
            if path.startswith("/dkr/") and os.path.isdir(point + path)]


def remove_cgroups(directories: list[str], timeout: float = 10) -> None:
    """rmdir cgroups that no dkr is left to remove (waiting while they empty)."""
    deadline = time.monotonic() + timeout
    for directory in directories:
        while os.path.isdir(directory):
            try:
                os.rmdir(directory)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def dkr_parents() -> set[str]:
    """The `dkr` parent cgroups that exist now."""
    from dkr.cgroups import parent_directories

    return parent_directories()
# }


def leak_report(before: dict[str, set], after: dict[str, set]) -> list[str]:
    return [f"{what} left behind: {sorted(after[what] - before[what])}"
            for what in before if after[what] - before[what]]


def host_state() -> dict[str, set]:
    """What a test could leave behind on the host: one entry per kind."""
    return {
        "mounts": mount_points(),
        "container processes": foreign_pid_namespace_processes(),
        "dkr state": state_entries(),
        # chapter: 4 {
        "network links": link_names(),
        "network namespaces": network_namespaces(),
        "nft tables": nft_tables(),
        # }
        "cgroups": cgroup_directories(),  # chapter: 5
    }


@pytest.fixture(scope="session", autouse=True)
def nothing_leaks():
    """After the whole suite: nothing a test made is left on the host (see host_state)."""
    before = host_state()
    forwarding = IP_FORWARD.read_text()  # chapter: 4
    parents_before = dkr_parents()  # chapter: 5
    yield
    # chapter: 5 {
    # dkr leaves its parent cgroup for the next container; the suite removes it if it made it.
    for parent in dkr_parents() - parents_before:
        with contextlib.suppress(OSError):  # not empty: the leak report names what is left
            os.rmdir(parent)
    # }
    deadline = time.monotonic() + 5
    while (leaks := leak_report(before, host_state())) and time.monotonic() < deadline:
        remove_shared_network(before)  # chapter: 4
        time.sleep(0.1)  # processes of a just-ended container may still be exiting
    if IS_ROOT:  # chapter: 4
        IP_FORWARD.write_text(forwarding)  # chapter: 4
    assert not leaks, "; ".join(leaks)
