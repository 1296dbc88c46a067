# chapter: 10
"""Chapter 10: Podman runs its containers with dkr (`podman --runtime`).

Podman's own storage, run and temporary directories are the test's, and
its image is the tests' root file system, imported. What Podman and
netavark leave on the host beyond that is taken back (engines.py).
Podman calls dkr as conmon does (engine-invocations.md): create and exec
with --detach from conmon, a subreaper; start, kill, pause, resume and
delete --force from podman itself; never with --root, so the containers'
state is under dkr's default root.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import TREE
from engines import dkr_cache_kept  # noqa: F401  (autouse)
from engines import (READ_MEMORY_LIMIT, EngineLeftovers, run_in_a_terminal, ulimit_options,
                     wait_for_processes_of)

IMAGE = "localhost/dkr-rootfs:test"
# Where dkr keeps its containers' state when not given --root (Podman never gives it).
DKR_DEFAULT_ROOT = Path("/run/dkr/containers")


class Podman:
    """`podman` with the test's storage and dkr as its runtime."""

    def __init__(self, directory: Path) -> None:
        self.prefix = ["podman", "--root", str(directory / "storage"),
                       "--runroot", str(directory / "run"),
                       "--tmpdir", str(directory / "tmp"),
                       "--runtime", str(TREE / "bin" / "dkr"),
                       "--cgroup-manager", "cgroupfs", "--events-backend", "none"]

    def __call__(self, *args: str, check: bool = True, timeout: float = 60,
                 **kwargs) -> subprocess.CompletedProcess:
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True,
                              timeout=timeout, **kwargs)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} failed ({done.returncode}): "
                                 f"{done.stderr}")
        return done

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """`podman run` with the machine's own limits (see ulimit_options)."""
        return self("run", *ulimit_options(), *args, **kwargs)

    def status(self, name: str) -> str:
        return self("inspect", "--format", "{{.State.Status}}", name).stdout.strip()


@pytest.fixture
def podman(root, rootfs, tmp_path):
    if not shutil.which("podman"):
        pytest.fail("podman is not installed (Debian: apt install podman)")
    leftovers = EngineLeftovers(
        paths=["/run/containers", "/var/lib/containers", "/run/netns",
                     "/etc/containers/networks"],
        cgroup_parents=["/libpod_parent"], mounts=["/run/netns"])
    # Podman refuses a run root of more than 50 characters: tmp_path is longer.
    directory = Path(tempfile.mkdtemp(prefix="dkr-podman-"))
    directory.chmod(0o711)  # for a --uidmap container's root to reach its rootfs
    with leftovers:
        engine = Podman(directory)
        image = tmp_path / "rootfs.tar"
        with tarfile.open(image, "w") as tar:
            tar.add(rootfs, arcname=".")
        engine("import", "--quiet", str(image), IMAGE)
        try:
            yield engine
        finally:
            engine("rm", "--all", "--force", "--time", "0", check=False)
            engine("system", "reset", "--force", check=False)
            wait_for_processes_of(directory)
            shutil.rmtree(directory, ignore_errors=True)


def test_podman_runs_a_command_and_returns_its_status(podman):
    done = podman.run("--rm", "--network", "none", IMAGE, "sh", "-c",
                      "echo hello; hostname; exit 3", check=False)
    assert done.returncode == 3, done.stderr
    lines = done.stdout.split()
    assert lines[0] == "hello" and len(lines[1]) == 12  # Podman's short id as hostname


def test_podman_run_it_gives_a_terminal(podman):
    status, text = run_in_a_terminal(
        [*podman.prefix, "run", *ulimit_options(), "--rm", "-it", "--network", "none",
         IMAGE, "sh", "-c", "tty; [ -t 0 ] && echo in-a-tty; exit 4"])
    assert status == 4
    assert "/dev/pts/0" in text and "in-a-tty" in text, text


def test_podman_execs_into_pauses_stops_and_removes_a_container(podman):
    podman.run("--detach", "--name", "box", "--network", "none", IMAGE,
               "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
    assert podman.status("box") == "running"
    full_id = podman("inspect", "--format", "{{.Id}}", "box").stdout.strip()
    assert (DKR_DEFAULT_ROOT / full_id).is_dir()  # it is dkr's container, not runc's
    exec_ = podman("exec", "box", "sh", "-c", "echo $$; cat /proc/1/cmdline")
    pid, first = exec_.stdout.split("\n", 1)
    assert int(pid) > 1 and first.startswith("sh")
    assert podman("exec", "box", "sh", "-c", "exit 7", check=False).returncode == 7
    podman("pause", "box")
    assert podman.status("box") == "paused"
    podman("unpause", "box")
    assert podman.status("box") == "running"
    full_id = podman("inspect", "--format", "{{.Id}}", "box").stdout.strip()
    assert (DKR_DEFAULT_ROOT / full_id).is_dir()  # it is dkr's container, not runc's
    podman("stop", "--time", "10", "box")  # SIGTERM, which its trap takes
    assert podman.status("box") == "exited"
    assert podman("inspect", "--format", "{{.State.ExitCode}}", "box").stdout.strip() == "0"
    podman("rm", "box")
    assert podman("ps", "--all", "--quiet").stdout.strip() == ""


def test_podman_kill_and_rm_force(podman):
    podman.run("--detach", "--name", "k", "--network", "none", IMAGE, "sleep", "60")
    podman("kill", "k")
    podman("wait", "k")
    assert podman("inspect", "--format", "{{.State.ExitCode}}", "k").stdout.strip() == "137"
    podman.run("--detach", "--name", "f", "--network", "none", IMAGE, "sleep", "60")
    podman("rm", "--force", "--time", "0", "f")
    assert podman("ps", "--all", "--quiet", "--filter", "name=f").stdout.strip() == ""


def test_podman_runs_a_container_in_a_user_namespace(podman):
    """--uidmap: Podman gives the image's files the mapped owners and puts
    a user namespace and its mappings in the config; on this v1 host its
    container has no cgroup namespace, so dkr binds its cgroups in."""
    mapping = "0:100000:65536"
    done = podman.run("--rm", "--network", "none", "--uidmap", mapping,
                      "--gidmap", mapping, "-m", "64m", IMAGE, "sh", "-c",
                      "id -u; cat /proc/self/uid_map; echo written > /tmp/file; "
                      "cat /tmp/file; ls /sys/fs/cgroup")
    lines = [" ".join(line.split()) for line in done.stdout.splitlines()]
    assert lines[:3] == ["0", "0 100000 65536", "written"], done.stderr
    assert lines[3:], "no cgroup file system in the container"


def test_podman_memory_limit_holds(podman):
    done = podman.run("--rm", "--memory", "32m", "--network", "none", IMAGE,
                      "sh", "-c", READ_MEMORY_LIMIT)
    assert done.stdout.strip() == str(32 * 1024 * 1024)


def test_podman_network_joined_by_path(podman):
    """Podman's default network: netavark makes the namespace and its veth,
    and the config names it by path, with a sysctl of it."""
    done = podman.run("--rm", IMAGE, "sh", "-c",
                      "ip -4 -o addr show eth0; cat /proc/sys/net/ipv4/ping_group_range")
    address, group_range = done.stdout.splitlines()
    assert " inet 10.88." in address
    assert group_range.split() == ["0", "0"]
