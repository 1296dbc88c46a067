# chapter: 10
"""Chapter 10: Docker runs its containers with dkr (`dockerd --add-runtime`).

The tests start a dockerd of their own, with its data, its exec root and
its socket in a temporary directory and dkr as its default runtime, and
stop it after the last test. Its image is the tests' root file system,
imported. Docker calls dkr from containerd's shim (engine-invocations.md):
every call with `--root EXEC_ROOT/runtime-runc/moby --log … --log-format
json`; its default bridge network comes from a prestart hook
(libnetwork-setkey) that must get the container's state on its stdin.
What Docker leaves on the host beyond its directory is taken back
(engines.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from conftest import IS_ROOT, TREE
from engines import dkr_cache_kept  # noqa: F401  (autouse)
from engines import (READ_MEMORY_LIMIT, EngineLeftovers, run_in_a_terminal,
                     wait_for_processes_of, wait_until_serving)

IMAGE = "dkr-rootfs:test"


class Docker:
    """The `docker` command, talking to the test's dockerd."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{directory}/docker.sock",
                    "DOCKER_CONFIG": str(directory / "client")}
        self.command = shutil.which("docker") or "docker"

    def __call__(self, *args: str, check: bool = True, timeout: float = 60
                 ) -> subprocess.CompletedProcess:
        done = subprocess.run([self.command, *args], capture_output=True, text=True,
                              env=self.env, stdin=subprocess.DEVNULL, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed ({done.returncode}): "
                                 f"{done.stderr}")
        return done

    def inspect(self, template: str, name: str) -> str:
        return self("inspect", "--format", template, name).stdout.strip()

    def dkr_state(self, name: str) -> dict:
        """What dkr itself says of a container, from the root Docker gives it."""
        root = self.directory / "exec" / "runtime-runc" / "moby"
        done = subprocess.run([TREE / "bin" / "dkr", "--root", root, "state",
                               self.inspect("{{.Id}}", name)],
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def docker(rootfs, tmp_path_factory):
    """A dockerd of the module's, with dkr as its default runtime."""
    if not IS_ROOT:
        pytest.skip("needs root: run the tests with sudo")
    dockerd = shutil.which("dockerd")
    if not (dockerd and shutil.which("docker")):
        pytest.fail("Docker is not installed (Debian: apt install docker.io)")
    leftovers = EngineLeftovers(
        paths=["/run/docker", "/run/containerd", "/etc/docker/key.json"],
        cgroup_parents=["/docker"], mounts=[])
    # A unix socket's path is at most 107 bytes: tmp_path's may be longer.
    directory = Path(tempfile.mkdtemp(prefix="dkr-docker-"))
    with leftovers:
        with open(directory / "dockerd.log", "wb") as log:
            daemon = subprocess.Popen(
                [dockerd, "--data-root", directory / "data",
                 "--exec-root", directory / "exec", "--pidfile", directory / "docker.pid",
                 "--host", f"unix://{directory}/docker.sock",
                 "--add-runtime", f"dkr={TREE / 'bin' / 'dkr'}", "--default-runtime", "dkr"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        engine = Docker(directory)
        try:
            wait_until_serving(lambda: engine("version", check=False).returncode == 0,
                               daemon, directory / "dockerd.log")
            image = tmp_path_factory.mktemp("docker") / "rootfs.tar"
            with tarfile.open(image, "w") as tar:
                tar.add(rootfs, arcname=".")
            engine("import", str(image), IMAGE)
            yield engine
        finally:
            engine("rm", "--force", *engine("ps", "--all", "--quiet").stdout.split(),
                   check=False)
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
            wait_for_processes_of(directory)  # containerd, which dockerd started
            shutil.rmtree(directory, ignore_errors=True)


def test_docker_runs_a_command_and_returns_its_status(root, docker):
    done = docker("run", "--rm", "--network", "none", IMAGE, "sh", "-c",
                  "echo hello; hostname; exit 3", check=False)
    assert done.returncode == 3, done.stderr
    lines = done.stdout.split()
    assert lines[0] == "hello" and len(lines[1]) == 12  # Docker's short id as hostname


def test_docker_bridge_network_comes_from_its_prestart_hook(root, docker):
    """libnetwork-setkey, the config's prestart hook, reads the container's
    state on its stdin and tells dockerd to move a veth into the new
    network namespace: without it there would be no eth0."""
    done = docker("run", "--rm", IMAGE, "sh", "-c",
                  "ip -4 -o addr show eth0; cat /proc/sys/net/ipv4/ping_group_range")
    address, group_range = done.stdout.splitlines()
    assert " inet 172.17." in address
    assert group_range.split() == ["0", "2147483647"]  # Docker's sysctl


def test_docker_run_it_gives_a_terminal(root, docker):
    status, text = run_in_a_terminal(
        [docker.command, "run", "--rm", "-it", "--network", "none", IMAGE,
         "sh", "-c", "tty; [ -t 0 ] && echo in-a-tty; exit 4"], env=docker.env)
    assert status == 4, text
    assert "/dev/pts/0" in text and "in-a-tty" in text, text


def test_docker_execs_into_tops_pauses_updates_stops_and_removes(root, docker):
    docker("run", "--detach", "--name", "box", "--network", "none", IMAGE,
           "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done")
    assert docker.dkr_state("box")["status"] == "running"  # dkr's, not runc's
    exec_ = docker("exec", "box", "sh", "-c", "echo $$; cat /proc/1/cmdline")
    pid, first = exec_.stdout.split("\n", 1)
    assert int(pid) > 1 and first.startswith("sh")
    assert docker("exec", "box", "sh", "-c", "exit 7", check=False).returncode == 7
    top = docker("top", "box").stdout  # `dkr ps --format json`: the host's pids
    assert str(docker.inspect("{{.State.Pid}}", "box")) in top
    docker("pause", "box")
    assert docker.inspect("{{.State.Status}}", "box") == "paused"
    assert docker.dkr_state("box")["status"] == "paused"
    docker("unpause", "box")
    docker("update", "--memory", "64m", "--memory-swap", "64m", "box")  # dkr update
    limit = docker("exec", "box", "sh", "-c", READ_MEMORY_LIMIT).stdout
    assert limit.strip() == str(64 * 1024 * 1024)
    docker("stop", "--time", "10", "box")  # SIGTERM, which its trap takes
    assert docker.inspect("{{.State.Status}} {{.State.ExitCode}}", "box") == "exited 0"
    docker("rm", "box")
    assert docker("ps", "--all", "--quiet").stdout.strip() == ""


def test_docker_kill_and_rm_force(root, docker):
    docker("run", "--detach", "--name", "killed", "--network", "none", IMAGE,
           "sleep", "60")
    docker("kill", "killed")
    assert docker("wait", "killed").stdout.strip() == "137"
    docker("rm", "killed")
    docker("run", "--detach", "--name", "forced", "--network", "none", IMAGE,
           "sleep", "60")
    docker("rm", "--force", "forced")
    assert docker("ps", "--all", "--quiet").stdout.strip() == ""


def test_docker_memory_limit_holds(root, docker):
    done = docker("run", "--rm", "--memory", "32m", "--network", "none", IMAGE,
                  "sh", "-c", READ_MEMORY_LIMIT)
    assert done.stdout.strip() == str(32 * 1024 * 1024)


# Attacks from inside a default Docker container, and what it can see of itself.
PROBE = """
grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status
head -c 16 /proc/kcore; echo "kcore: $?"
ls /sys/firmware; echo "firmware: $?"
echo b > /proc/sysrq-trigger; echo "sysrq: $?"
mount -t tmpfs none /mnt; echo "mount: $?"
unshare -U true; echo "unshare: $?"
mknod /tmp/disk b 8 0 && head -c 1 /tmp/disk; echo "disk: $?"
ls /dev; cat /proc/self/oom_score_adj; id
"""


def test_a_docker_container_is_confined_as_runc_confines_it(root, docker):
    """The same probe on dkr and on runc, from the same image and config:
    the same capabilities, seccomp filter, masked and read-only paths,
    devices and refusals."""
    seen = {}
    for runtime in ("dkr", "runc"):
        done = docker("run", "--rm", "--runtime", runtime, "--network", "none", IMAGE,
                      "sh", "-c", PROBE)
        seen[runtime] = done.stdout
    assert seen["dkr"] == seen["runc"]
    assert "CapEff:\t00000000a80425fb" in seen["dkr"]  # Docker's 14 capabilities
    for refused in ("sysrq", "mount", "unshare", "disk"):
        assert f"{refused}: 0" not in seen["dkr"], seen["dkr"]
