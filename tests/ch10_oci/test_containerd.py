# chapter: 10
"""Chapter 10: containerd runs its containers with dkr (`ctr run --runc-binary`).

The tests start a containerd of their own (its root, state and socket in
a temporary directory, its CRI plugin off) and stop it after the last
test. Its image is the tests' root file system as a one-layer OCI image
archive, imported. containerd's shim calls dkr as Docker's does
(engine-invocations.md), with `--root /run/containerd/runc/NAMESPACE`, a
root file system relative to the bundle, no_new_privs and no seccomp
filter; `ctr task ps` is `dkr ps --format json`.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from conftest import IS_ROOT, TREE
from engines import dkr_cache_kept  # noqa: F401  (autouse)
from engines import (EngineLeftovers, run_in_a_terminal, wait_for_processes_of,
                     wait_until_serving)

IMAGE = "localhost/dkr-rootfs:test"
NAMESPACE = "dkr-tests"  # containerd's, which names the runtime's root and cgroups


class Ctr:
    """`ctr` in the test's namespace of the test's containerd, with dkr as
    the runtime of the containers it runs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.prefix = ["ctr", "--address", str(directory / "containerd.sock"),
                       "--namespace", NAMESPACE]

    def __call__(self, *args: str, check: bool = True, timeout: float = 60
                 ) -> subprocess.CompletedProcess:
        done = subprocess.run([*self.prefix, *args], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} failed ({done.returncode}): "
                                 f"{done.stderr}")
        return done

    def run(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self("run", "--runc-binary", str(TREE / "bin" / "dkr"), *args, **kwargs)

    def task(self, name: str) -> tuple[int, str]:
        """A task's pid and status, as `ctr task ls` lists them."""
        for line in self("task", "ls").stdout.splitlines()[1:]:
            task, pid, status = line.split()
            if task == name:
                return int(pid), status
        raise AssertionError(f"no task {name}")

    def remove(self, name: str) -> None:
        """Kill a container's task and remove both, whatever is left of them."""
        self("task", "kill", "--signal", "SIGKILL", name, check=False)
        self("task", "delete", "--force", name, check=False)
        self("container", "rm", name, check=False)


def dkr_state(name: str) -> dict:
    """What dkr itself says of a task, from the root containerd gives it."""
    done = subprocess.run([TREE / "bin" / "dkr", "--root", f"/run/containerd/runc/{NAMESPACE}",
                           "state", name], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def image_archive(rootfs: Path, path: Path) -> Path:
    """`rootfs` as an OCI image archive of one uncompressed layer, named
    IMAGE by containerd's annotation."""
    layer = tar_bytes(rootfs)

    def blob(data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        add(tar, f"blobs/sha256/{digest}", data)
        return {"digest": f"sha256:{digest}", "size": len(data)}

    with tarfile.open(path, "w") as tar:
        config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                  "rootfs": {"type": "layers",
                             "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"]}}
        manifest = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       **blob(json.dumps(config).encode())},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        **blob(layer)}]}
        top = {"mediaType": manifest["mediaType"], **blob(json.dumps(manifest).encode()),
               "annotations": {"io.containerd.image.name": IMAGE}}
        add(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
        add(tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": [top]}).encode())
    return path


def tar_bytes(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(directory, arcname=".")
    return buffer.getvalue()


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def ctr(rootfs, tmp_path_factory):
    """A containerd of the module's and `ctr` for it."""
    if not IS_ROOT:
        pytest.skip("needs root: run the tests with sudo")
    if not (shutil.which("containerd") and shutil.which("ctr")):
        pytest.fail("containerd is not installed (Debian: apt install containerd)")
    leftovers = EngineLeftovers(paths=["/run/containerd"], cgroup_parents=[f"/{NAMESPACE}"],
                                mounts=[])
    directory = Path(tempfile.mkdtemp(prefix="dkr-containerd-"))
    (directory / "config.toml").write_text(
        f'version = 2\nroot = "{directory}/root"\nstate = "{directory}/state"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{directory}/containerd.sock"\n'
        f'[ttrpc]\n  address = "{directory}/containerd.sock.ttrpc"\n')
    with leftovers:
        with open(directory / "containerd.log", "wb") as log:
            daemon = subprocess.Popen(["containerd", "--config", directory / "config.toml"],
                                      stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT)
        engine = Ctr(directory)
        try:
            wait_until_serving(lambda: engine("version", check=False).returncode == 0,
                               daemon, directory / "containerd.log", timeout=30)
            archive = image_archive(rootfs, tmp_path_factory.mktemp("ctr") / "image.tar")
            engine("image", "import", str(archive))
            yield engine
        finally:
            for container in engine("container", "ls", "--quiet", check=False).stdout.split():
                engine.remove(container)
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
            wait_for_processes_of(directory)  # the shims
            shutil.rmtree(directory, ignore_errors=True)


def test_ctr_runs_a_command_and_returns_its_status(root, ctr):
    done = ctr.run("--rm", IMAGE, "once", "sh", "-c",
                   "echo hello; grep NoNewPrivs /proc/self/status; exit 3", check=False)
    assert done.returncode == 3, done.stderr
    assert done.stdout.split() == ["hello", "NoNewPrivs:", "1"]  # ctr's config asks for it


def test_ctr_run_t_gives_a_terminal(root, ctr):
    status, text = run_in_a_terminal(
        [*ctr.prefix, "run", "--runc-binary", str(TREE / "bin" / "dkr"), "--rm", "-t",
         IMAGE, "tty", "sh", "-c", "tty; [ -t 0 ] && echo in-a-tty; exit 4"])
    assert status == 4, text
    assert "/dev/pts/0" in text and "in-a-tty" in text, text


def test_ctr_execs_lists_pauses_and_kills_a_task(root, ctr):
    ctr.run("--detach", IMAGE, "box", "sh", "-c",
            "trap 'exit 5' TERM; while :; do sleep 0.1; done")
    try:
        assert dkr_state("box")["status"] == "running"  # dkr's, not runc's
        done = ctr("task", "exec", "--exec-id", "probe", "box", "sh", "-c",
                   "cat /proc/1/cmdline; exit 7", check=False)
        assert (done.returncode, done.stdout.startswith("sh")) == (7, True), done.stderr
        listed = ctr("task", "ps", "box").stdout  # `dkr ps --format json`
        assert str(ctr.task("box")[0]) in listed.split()
        ctr("task", "pause", "box")
        assert (ctr.task("box")[1], dkr_state("box")["status"]) == ("PAUSED", "paused")
        ctr("task", "resume", "box")
        assert ctr.task("box")[1] == "RUNNING"
        ctr("task", "kill", "box")  # SIGTERM, which its trap takes
        deadline = time.monotonic() + 10
        while ctr.task("box")[1] != "STOPPED":
            assert time.monotonic() < deadline, "the task did not stop"
            time.sleep(0.05)
    finally:
        ctr.remove("box")
    assert ctr("task", "ls", "--quiet").stdout.strip() == ""


def test_ctr_memory_limit_holds(root, ctr):
    ctr.run("--detach", "--memory-limit", str(32 * 1024 * 1024), IMAGE, "limited",
            "sleep", "60")
    try:
        assert memory_limit_of(ctr.task("limited")[0]) == 32 * 1024 * 1024
    finally:
        ctr.remove("limited")


def memory_limit_of(pid: int) -> int:
    """The memory limit of a process's cgroup, read on the host (ctr's
    containers do not mount their cgroups)."""
    cgroups = {controllers: path.lstrip("/") for _, controllers, path in
               (line.split(":", 2) for line in
                Path(f"/proc/{pid}/cgroup").read_text().splitlines())}
    for controllers, path in cgroups.items():
        if "memory" in controllers.split(","):  # v1
            return int(Path("/sys/fs/cgroup/memory", path,
                            "memory.limit_in_bytes").read_text())
    return int(Path("/sys/fs/cgroup", cgroups[""], "memory.max").read_text())
