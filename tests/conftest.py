# chapter: 1
"""What every chapter's tests share: running dkr, a test rootfs, root checks,
and the final check that no test left anything behind."""

from __future__ import annotations

import contextlib
import json  # chapter: 4
import os
import re
import shutil  # chapter: 4
import signal
import socket  # chapter: 4
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

TREE = Path(__file__).resolve().parent.parent
REQUIRE_ROOT = os.environ.get("DKR_REQUIRE_ROOT") == "1"
IS_ROOT = os.geteuid() == 0
# The options a test gives a container whose root must mount or rename its own
# namespaces: from chapter 6 on, root in a container has no CAP_SYS_ADMIN.
# chapter: 1-5 {
# SYS_ADMIN: tuple[str, ...] = ()
# }
SYS_ADMIN = ("--cap-add", "SYS_ADMIN")  # chapter: 6
# What dkr says of a command that its root file system does not have.
# chapter: 1-8 {
# NOT_IN_PATH = ("executable file not found in $PATH (dkr runs a command of its root "
#                "file system, not an image: images arrive in chapter 9)")
# }
NOT_IN_PATH = "executable file not found in $PATH"  # chapter: 9


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
    """dkr's environment in the tests: this tree's dkr, with the tests' own
    data directory and, in it, their own state root (see `state_root`)."""
    return {**os.environ, "PYTHONPATH": str(TREE), "DKR_DATA": str(data_dir),
            "DKR_STATE": str(state_root(data_dir))}


def state_root(data_dir: Path) -> Path:
    """Where the tests' containers keep their state directories (DKR_STATE)."""
    return data_dir / "state"


@pytest.fixture
def dkr(root, data_dir: Path, rootfs: Path):
    """Run `dkr ARGS…` to completion: a CompletedProcess with text output.

    `dkr run` gets `--rootfs <test rootfs>` unless the test gives a root or
    asks for dkr's default one. stdin is /dev/null unless `input` is given;
    `env` adds to dkr's environment.
    """

    def run(*args: str, input: str | None = None, timeout: float = 60,
            default_rootfs: bool = False, env: dict[str, str] | None = None, **kwargs):
        return subprocess.run(
            dkr_command(*(args if default_rootfs else with_test_rootfs(args, rootfs))),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True, text=True, timeout=timeout, cwd=TREE,
            env={**dkr_env(data_dir), **(env or {})}, **kwargs,
        )

    return run


@pytest.fixture
def start_dkr(root, data_dir: Path, rootfs: Path):
    """Start `dkr ARGS…` in the background: a Popen, killed at the test's end."""
    started: list[subprocess.Popen] = []

    def start(*args: str, env: dict[str, str] | None = None, default_rootfs: bool = False,
              **kwargs) -> subprocess.Popen:
        process = subprocess.Popen(
            dkr_command(*(args if default_rootfs else with_test_rootfs(args, rootfs))),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=TREE,
            env={**dkr_env(data_dir), **(env or {})}, **kwargs,
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


# The bad-input corpus ---------------------------------------------------------
#
# Each chapter's test_bad_input.py holds a table of Cases: an invocation, the
# state of dkr's stdio and signals when it starts, and what dkr must do. Every
# case checks the same promises: the exit status, at most one line on stderr
# (dkr's own line, or the command's), no Python traceback, and (as after every
# test) nothing left behind on the host.

LAUNCHER = TREE / "bin" / "dkr"


def _closing(*fds: int) -> Callable[[], None]:
    return lambda: [os.close(fd) for fd in fds]


def _ignoring(*signals: signal.Signals) -> Callable[[], None]:
    return lambda: [signal.signal(sig, signal.SIG_IGN) for sig in signals]


# How dkr's caller may have left its stdio and signals: name -> (stdin,
# stdout, what to run in the child before exec). Where stderr is closed,
# only the status can be checked.
STARTS: dict[str, tuple[object, object, Callable[[], None] | None]] = {
    "": (subprocess.DEVNULL, subprocess.PIPE, None),
    "stdin closed": (subprocess.DEVNULL, subprocess.PIPE, _closing(0)),
    "stdout closed": (subprocess.DEVNULL, subprocess.PIPE, _closing(1)),
    "stderr closed": (subprocess.DEVNULL, subprocess.PIPE, _closing(2)),
    "stdio closed": (subprocess.DEVNULL, subprocess.PIPE, _closing(0, 1, 2)),
    "stdout /dev/full": (subprocess.DEVNULL, "/dev/full", None),
    "stdin a directory": ("/", subprocess.PIPE, None),  # only bin/dkr can start so
    "SIGCHLD ignored": (subprocess.DEVNULL, subprocess.PIPE, _ignoring(signal.SIGCHLD)),
    "SIGHUP, SIGPIPE ignored": (subprocess.DEVNULL, subprocess.PIPE,
                                _ignoring(signal.SIGHUP, signal.SIGPIPE)),
}


class Case:
    """One invocation of the corpus: `dkr ARGS` started as `start` says (see
    STARTS), which must exit with `status`, say `says` (a regular
    expression for its one stderr line; "" for silence) and, if `out` is
    given, write exactly that to stdout."""

    def __init__(self, args: list[str], status: int, says: str = "", *, start: str = "",
                 out: str | None = None, launcher: bool = False) -> None:
        assert start in STARTS, start
        self.args, self.status, self.says, self.start, self.out = args, status, says, start, out
        self.launcher = launcher or start == "stdin a directory"

    def __repr__(self) -> str:
        """The case's id; a usage error (dkr stops at its command line) says so,
        for a run that leaves those out (`-k "not usage"`)."""
        shown = " ".join(arg if len(arg) < 30 else arg[:12] + f"…({len(arg)})" for arg in self.args)
        if self.says.startswith(r"dkr run: "):
            shown = f"usage: {shown}"
        return f"{shown} [{self.start}]" if self.start else shown

    def run(self, data_dir: Path, rootfs: Path) -> None:
        stdin, stdout, before_exec = STARTS[self.start]
        args = with_test_rootfs(tuple(self.args), rootfs)
        command = [str(LAUNCHER), *args] if self.launcher else dkr_command(*args)
        env = {**dkr_env(data_dir), "DKR_PYTHON": sys.executable}
        with contextlib.ExitStack() as files:
            if isinstance(stdin, str):  # a path: open it (a directory too)
                stdin = os.open(stdin, os.O_RDONLY)
                files.callback(os.close, stdin)
            if isinstance(stdout, str):
                stdout = os.open(stdout, os.O_WRONLY)
                files.callback(os.close, stdout)
            result = subprocess.run(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                                    preexec_fn=before_exec, cwd=TREE, env=env, timeout=60)
        err = result.stderr.decode(errors="surrogateescape")
        out = (result.stdout or b"").decode(errors="surrogateescape")
        if unwritten := re.search(r"NotImplementedError: (chapter \d+ exercise: .*)", err):
            pytest.fail(unwritten.group(1), pytrace=False)  # a blank of the workshop's tree
        assert "Traceback" not in err, err
        assert result.returncode == self.status, f"exit status {result.returncode}, saying {err!r}"
        if self.start not in ("stderr closed", "stdio closed"):
            assert err.count("\n") <= 1, f"more than one line on stderr: {err!r}"
            assert re.fullmatch(self.says, err.rstrip("\n")), f"said {err!r}, not /{self.says}/"
        if self.out is not None:
            assert out == self.out


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


def wait_for_trace(process: subprocess.Popen, text: str, who: str = "dkr",
                   timeout: float = 20) -> None:
    """Read the stderr of `dkr --trace …` until a line of `who` (dkr, or the
    container) with `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if line.startswith(f"{who}[") and text in line:
            return
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"dkr traced no {text!r}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


# What the tests check was left behind ----------------------------------------
#
# Each test that needs root is checked on its own: what it left on the host is
# reported as an error of that test. Only what the tests can have made is
# looked at, so another dkr container running on the host (its processes
# come and go) is no leak: processes in PID namespaces that existed before
# the test, cgroups outside dkr's parents, state outside the tests' own state
# root and the shared network's leases are not the tests'.

def mount_points() -> set[str]:
    return {line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()}


def pid_namespaces() -> dict[int, str]:
    """Every process in a PID namespace other than ours (a container's): pid -> namespace."""
    own = os.readlink("/proc/self/ns/pid")
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                namespace = os.readlink(entry / "ns/pid")
            except OSError:
                continue
            if namespace != own:
                found[int(entry.name)] = namespace
    return found


def container_processes(known_namespaces: set[str]) -> set[str]:
    """The processes of containers whose PID namespace is not in `known_namespaces`."""
    found = set()
    for pid, namespace in pid_namespaces().items():
        if namespace not in known_namespaces and alive(pid):
            found.add(f"{pid} {_cmdline(pid)}")
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        return "?"


SHARED_STATE = {Path("/run/dkr"), Path("/run/dkr/network"), Path("/run/dkr/containers")}


def state_entries(data_dir: Path) -> set[str]:
    """What dkr keeps on the host that the tests can have made: their own
    state root's entries, the network's leases, dkr's data directory (the
    tests build their root file systems elsewhere), and from chapter 8 the
    containers' layers in the tests' data directory (from chapter 10, dkr
    run's records too)."""
    found = set()
    tops = [state_root(data_dir), Path("/run/dkr"), Path("/var/lib/dkr")]
    tops.append(data_dir / "overlay")  # chapter: 8
    tops.append(data_dir / "containers")  # chapter: 10
    for top in tops:
        if top.is_dir():
            found |= {str(path) for path in top.rglob("*") if path not in SHARED_STATE
                      and not path.is_relative_to("/run/dkr/containers")}
    return found
# chapter: 4 {


IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")


def ip_json(*args: str) -> list[dict]:
    """`ip -j ARGS` as data: the host's view, to check what dkr did (nothing without ip)."""
    if not shutil.which("ip"):
        return []
    result = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(result.stdout or "[]")


def free_port() -> int:
    """A TCP port that no one on the host listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def link_names() -> set[str]:
    """The host's network links (the bridge dkr0, which stays, excepted)."""
    return set(os.listdir("/sys/class/net")) - {"dkr0"}


def network_namespaces() -> set[str]:
    """The named network namespaces (`ip netns`)."""
    return set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()


@contextlib.contextmanager
def named_network_namespace(name: str):
    """`ip netns add NAME` for the block's length. The first `ip netns add` on a
    host mounts /run/netns onto itself; that mount goes too if this made it."""
    netns_mounted = "/run/netns" in mount_points()
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        yield f"/run/netns/{name}"
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True, capture_output=True)
        if not netns_mounted and "/run/netns" in mount_points():
            subprocess.run(["umount", "/run/netns"], check=True)
            os.rmdir("/run/netns")


def nft_tables() -> set[str]:
    if not (IS_ROOT and shutil.which("nft")):
        return set()
    result = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
    if result.returncode != 0:  # a kernel without nf_tables (the cgroup v2 VM) has no tables
        return set()
    return set(result.stdout.splitlines())


def remove_shared_network(before: dict[str, set]) -> None:
    """Remove what dkr keeps for all containers, if this session made it: the
    bridge dkr0, nftables' table ip dkr, and /run/dkr's directories (only when
    empty: a lease or state directory left inside is a leak). A bridge with
    a container's veth in it is someone else's in use (another dkr's, started
    after this session began), and stays with its NAT table."""
    ports = Path("/sys/class/net/dkr0/brif")
    if ports.is_dir() and any(ports.iterdir()):
        return
    if os.path.exists("/sys/class/net/dkr0") and not before["bridge"]:
        subprocess.run(["ip", "link", "del", "dkr0"], check=True)
    if "table ip dkr" in nft_tables() - before["nft tables"]:
        subprocess.run(["nft", "delete", "table", "ip", "dkr"], check=True)
    for path in sorted(SHARED_STATE - before["shared state"], key=lambda path: len(path.parts),
                       reverse=True):
        with contextlib.suppress(OSError):
            path.rmdir()
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


def dkr_cgroups() -> set[str]:
    """The cgroups under dkr's parent cgroups, in every hierarchy (not the parents: they stay)."""
    from dkr.cgroups import parent_directories

    return {directory for parent in parent_directories()
            for directory, _, _ in os.walk(parent) if directory != parent}


def dkr_parents() -> set[str]:
    """The `dkr` parent cgroups that exist now."""
    from dkr.cgroups import parent_directories

    return parent_directories()
# }


# chapter: 6 {
@pytest.fixture(scope="session")
def probe(tmp_path_factory) -> Path:
    """A directory with tests/ch06_capabilities/probe.c built statically, so
    that it runs in the busybox root file system: one kernel call per
    subcommand, printing "ok" or the errno's name."""
    if not shutil.which("gcc"):
        pytest.skip("no gcc to build the probe with (Debian: apt install gcc libc6-dev)")
    directory = tmp_path_factory.mktemp("probe")
    source = TREE / "tests" / "ch06_capabilities" / "probe.c"
    subprocess.run(["gcc", "-static", "-O1", "-o", str(directory / "probe"), str(source)],
                   check=True)
    return directory


def container_status(dkr, *options: str) -> dict[str, str]:
    """/proc/self/status of a container made with `options`, as a dict."""
    result = dkr("run", *options, "cat", "/proc/self/status")
    assert result.returncode == 0, result.stderr
    return dict(line.split(":\t", 1) for line in result.stdout.splitlines() if ":\t" in line)


def run_probe(dkr, probe: Path, call: str, *options: str, args: tuple[str, ...] = ()) -> str:
    """What the probe's `call` printed in a container made with `options`."""
    result = dkr("run", "-v", f"{probe}:/probe:ro", *options, "/probe/probe", call, *args)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.strip()
# }


def take_back_after_killed_dkr(dkr) -> None:
    """What a dkr killed with SIGKILL left, taken back as a user would: by
    running the next dkr. (Before chapter 4 dkr keeps nothing on the host.)"""
    result = dkr("run", "true")
    assert result.returncode == 0, result.stderr


def host_state(data_dir: Path, known_namespaces: set[str]) -> dict[str, set[str]]:
    """What a test could leave behind on the host: one entry per kind."""
    return {
        "mounts": mount_points(),
        "container processes": container_processes(known_namespaces),
        "dkr state": state_entries(data_dir),
        # chapter: 4 {
        "network links": link_names(),
        "network namespaces": network_namespaces(),
        # }
        "cgroups": dkr_cgroups(),  # chapter: 5
    }


def leak_report(before: dict[str, set], after: dict[str, set]) -> list[str]:
    return [f"{what} left behind: {sorted(after[what] - before[what])}"
            for what in before if after[what] - before[what]]


def wait_for_leaks(before: dict[str, set], state: Callable[[], dict[str, set]],
                   timeout: float = 5) -> list[str]:
    """What is left (compared with `before`) once it stops going away: the
    processes of a container that just ended may take a moment to exit, and
    its veth to go with its network namespace."""
    deadline = time.monotonic() + timeout
    while (leaks := leak_report(before, state())) and time.monotonic() < deadline:
        time.sleep(0.05)
    return leaks


@pytest.fixture(autouse=True)
def leaves_nothing(request: pytest.FixtureRequest):
    """After each test that needs root: nothing it made is left on the host."""
    if not (IS_ROOT and "root" in request.fixturenames):
        yield
        return
    data_dir = request.getfixturevalue("data_dir")
    known = set(pid_namespaces().values())
    before = host_state(data_dir, known)
    yield
    leaks = wait_for_leaks(before, lambda: host_state(data_dir, known))
    assert not leaks, f"{request.node.nodeid} left behind: " + "; ".join(leaks)


@pytest.fixture(scope="session", autouse=True)
def nothing_leaks(data_dir: Path):
    """After the whole suite: what the tests shared (dkr's parent cgroups, the
    bridge, its NAT table) is removed if the suite made it, and nothing else is left."""
    if not IS_ROOT:
        yield
        return
    known = set(pid_namespaces().values())

    def state() -> dict[str, set[str]]:
        return {**host_state(data_dir, known),
                "nft tables": nft_tables(),  # chapter: 4
                }

    before = state()
    # chapter: 4 {
    shared = {"bridge": os.path.exists("/sys/class/net/dkr0"),
              "shared state": {path for path in SHARED_STATE if path.exists()}}
    forwarding = IP_FORWARD.read_text()
    # }
    parents_before = dkr_parents()  # chapter: 5
    yield
    # chapter: 5 {
    # dkr leaves its parent cgroup for the next container; the suite removes it if it made it.
    for parent in dkr_parents() - parents_before:
        with contextlib.suppress(OSError):  # not empty: the leak report names what is left
            os.rmdir(parent)
    # }
    # chapter: 4 {
    remove_shared_network({**before, **shared})
    IP_FORWARD.write_text(forwarding)
    # }
    leaks = wait_for_leaks(before, state)
    assert not leaks, "; ".join(leaks)
