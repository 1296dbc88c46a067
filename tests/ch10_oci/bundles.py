# chapter: 10
"""What chapter 10's tests share: bundles, and a caller that stands where
an engine's conmon or shim stands.

An engine's caller is a subreaper: once `dkr create` returns, the
container's process is its child, and its exit status is the caller's to
read. `Caller` makes the test process one for the length of a test, so
that the tests can wait for a container as conmon does.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

from conftest import TREE, dkr_env

PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)


def write_bundle(directory: Path, rootfs: Path, args: list[str],
                 change: Callable[[dict], None] | None = None) -> Path:
    """A bundle in `directory`: dkr spec's config.json, running `args` in
    `rootfs` without a terminal, as `change` then changes it."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "dkr", "spec", "--bundle", str(directory)],
                   check=True, cwd=TREE, env={**os.environ, "PYTHONPATH": str(TREE)})
    path = directory / "config.json"
    config = json.loads(path.read_text())
    config["root"] = {"path": str(rootfs), "readonly": False}
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    if change:
        change(config)
    path.write_text(json.dumps(config, indent=2))
    return directory


class Caller:
    """Runs dkr's runtime commands as an engine does, from a subreaper."""

    def __init__(self, data_dir: Path, tmp_path: Path) -> None:
        self.env = dkr_env(data_dir)
        self.state_root = tmp_path / "runtime-root"
        self.created: list[str] = []
        self.children: dict[int, int] = {}  # pid -> wait status, once reaped

    def __call__(self, *args: str, check: bool = True, timeout: float = 60,
                 **kwargs) -> subprocess.CompletedProcess:
        """`dkr --root ROOT ARGS…` to completion, with text output.

        Its output is collected in files, not pipes: a created container
        holds create's stdout and stderr, so a pipe would not end."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            kwargs.setdefault("stdout", out)
            kwargs.setdefault("stderr", err)
            done = subprocess.run([sys.executable, "-m", "dkr", "--root",
                                   str(self.state_root), *args],
                                  timeout=timeout, cwd=TREE, env=self.env, **kwargs)
            out.seek(0)
            err.seek(0)
            done.stdout, done.stderr = out.read().decode(), err.read().decode()
        if check and done.returncode != 0:
            raise AssertionError(f"dkr {' '.join(args)} failed ({done.returncode}): "
                                 f"{done.stderr}")
        return done

    def create(self, bundle: Path, container_id: str, *options: str,
               **kwargs) -> int:
        """`dkr create`; the container's pid, from --pid-file."""
        pid_file = bundle / f"{container_id}.pid"
        self.created.append(container_id)
        self("create", "--bundle", str(bundle), "--pid-file", str(pid_file),
             *options, container_id, **kwargs)
        return int(pid_file.read_text())

    def state(self, container_id: str) -> dict:
        return json.loads(self("state", container_id).stdout)

    def wait(self, pid: int, timeout: float = 20) -> int:
        """The exit status of the container's process (ours, as subreaper)."""
        deadline = time.monotonic() + timeout
        while pid not in self.children:
            self.reap()
            if pid in self.children:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"container process {pid} did not end")
            time.sleep(0.02)
        return os.waitstatus_to_exitcode(self.children[pid])

    def reap(self) -> None:
        with contextlib.suppress(ChildProcessError):
            while True:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    return
                self.children[pid] = status

    def clean_up(self) -> None:
        """Delete every container the test created, as engines do."""
        for container_id in self.created:
            if (self.state_root / container_id).exists():
                self("delete", "--force", container_id, check=False)
        self.reap()


@contextlib.contextmanager
def subreaper():
    """The test process as a subreaper while the block runs."""
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.fixture
def caller(root, data_dir: Path, tmp_path: Path):
    """dkr's runtime commands, run as an engine runs them, from a subreaper;
    every container the test created is deleted at its end."""
    runtime = Caller(data_dir, tmp_path)
    with subreaper():
        try:
            yield runtime
        finally:
            runtime.clean_up()


def receive_terminal(path: Path) -> tuple[threading.Thread, list]:
    """Listen at `path` as conmon does; the master end dkr sends lands in the list."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    received: list = []

    def accept() -> None:
        with listener, listener.accept()[0] as connection:
            received.append(socket.recv_fds(connection, 1024, 1))

    thread = threading.Thread(target=accept)
    thread.start()
    return thread, received


def read_all(fd: int) -> bytes:
    """Everything a terminal's master end gives until its last user is gone."""
    data = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: every process holding the terminal is gone
            return data
        if not chunk:
            return data
        data += chunk
