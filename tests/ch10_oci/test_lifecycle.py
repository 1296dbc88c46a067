# chapter: 10
"""Chapter 10: the runtime spec's lifecycle from a bundle, as engines drive it:
create, state, start, kill, delete, and what each leaves on the host."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time

import pytest

from bundles import caller, write_bundle  # noqa: F401  (caller: a fixture)
from conftest import alive




def test_create_leaves_the_process_waiting_and_start_lets_it_run(caller, rootfs,
                                                                   tmp_path):
    marker = "/tmp/started"
    bundle = write_bundle(tmp_path / "b", rootfs,
                          ["sh", "-c", f"echo ran > {marker}; echo out; exit 3"])
    output = tmp_path / "out"
    with open(output, "w") as stdout:
        pid = caller.create(bundle, "c1", stdout=stdout)
    state = caller.state("c1")
    assert state["status"] == "created"
    assert state["pid"] == pid and state["id"] == "c1"
    assert state["bundle"] == str(bundle) and state["ociVersion"] == "1.0.2"
    assert alive(pid)
    time.sleep(0.3)  # nothing runs until start
    assert not (rootfs / marker.lstrip("/")).exists()
    caller("start", "c1")
    assert caller.wait(pid) == 3
    assert output.read_text() == "out\n"  # the container's stdout is create's
    assert caller.state("c1")["status"] == "stopped"
    caller("delete", "c1")
    assert not (caller.state_root / "c1").exists()
    (rootfs / marker.lstrip("/")).unlink()


def test_a_running_container_is_running_until_it_ends(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", "sleep 30"])
    pid = caller.create(bundle, "c2")
    caller("start", "c2")
    assert caller.state("c2")["status"] == "running"
    again = caller("start", "c2", check=False)
    assert again.returncode != 0 and "it is running" in again.stderr
    refused = caller("delete", "c2", check=False)
    assert refused.returncode != 0 and "--force" in refused.stderr
    caller("kill", "c2", "KILL")
    assert caller.wait(pid) == -signal.SIGKILL
    assert caller.state("c2")["status"] == "stopped"
    caller("delete", "c2")


@pytest.mark.parametrize("name", ["TERM", "SIGTERM", "15", "term"])
def test_kill_takes_signal_names_and_numbers(caller, rootfs, tmp_path, name):
    script = "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done"
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", script])
    read, write = os.pipe()
    pid = caller.create(bundle, "k1", stdout=write)
    os.close(write)
    caller("start", "k1")
    with os.fdopen(read) as output:
        assert output.readline() == "ready\n"
        caller("kill", "k1", name)
        assert caller.wait(pid) == 7


def test_a_created_container_ignores_term_so_engines_follow_with_kill(caller, rootfs,
                                                                      tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"])
    pid = caller.create(bundle, "k2")
    caller("kill", "k2", "15")
    time.sleep(0.3)
    assert caller.state("k2")["status"] == "created"  # PID 1 has no handler
    caller("kill", "k2", "9")
    assert caller.wait(pid) == -signal.SIGKILL
    caller("delete", "k2")


def test_delete_force_kills_and_removes_everything(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", "sleep 30 & sleep 30"])
    pid = caller.create(bundle, "d1")
    caller("start", "d1")
    caller("delete", "--force", "d1")
    assert caller.wait(pid) == -signal.SIGKILL
    assert not (caller.state_root / "d1").exists()
    missing = caller("state", "d1", check=False)
    assert missing.returncode != 0
    assert missing.stderr == "dkr: container d1 does not exist\n"


def test_a_created_container_can_be_deleted_without_starting(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"])
    pid = caller.create(bundle, "d2")
    caller("delete", "--force", "d2")
    caller.wait(pid)
    assert not (caller.state_root / "d2").exists()


def test_list_shows_every_container(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"])
    caller.create(bundle, "l1")
    caller.create(bundle, "l2")
    assert caller("list", "-q").stdout == "l1\nl2\n"
    listed = json.loads(caller("list", "--format", "json").stdout)
    assert [(item["id"], item["status"]) for item in listed] == [
        ("l1", "created"), ("l2", "created")]
    table = caller("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED"]


def test_an_id_in_use_is_refused(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"])
    caller.create(bundle, "same")
    again = caller("create", "--bundle", str(bundle), "same", check=False)
    assert again.returncode == 125
    assert again.stderr == "dkr: a container with the id same exists already\n"


@pytest.mark.parametrize("bad", ["..", ".", "a/b", "x y", ""])
def test_bad_ids_are_refused(caller, rootfs, tmp_path, bad):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"])
    done = caller("create", "--bundle", str(bundle), bad, check=False)
    assert done.returncode == 125
    assert done.stderr.startswith("dkr: bad container id")


def test_each_command_waits_for_the_container_lock(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"])
    pid = caller.create(bundle, "lk")
    fd = os.open(caller.state_root / "lk", os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    started = []
    thread = threading.Thread(target=lambda: started.append(caller("start", "lk")))
    thread.start()
    time.sleep(0.5)
    assert not started and caller.state_root.joinpath("lk", "exec.fifo").exists()
    os.close(fd)  # the lock goes with it
    thread.join(timeout=20)
    assert started and started[0].returncode == 0
    assert caller.wait(pid) == 0


# A seccomp profile older than close_range(2), which refuses it with EPERM
# (runtime-tools' default one does): dkr marks its fds another way.
NO_CLOSE_RANGE = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
    {"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}


@pytest.mark.parametrize("seccomp", [None, NO_CLOSE_RANGE],
                         ids=["template", "close-range-refused"])
def test_the_container_gets_exactly_the_preserved_fds(caller, rootfs, tmp_path, seccomp):
    def with_filter(config: dict) -> None:
        if seccomp:
            config["linux"]["seccomp"] = seccomp

    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", "ls /proc/self/fd"],
                          with_filter)
    keep_read, keep_write = os.pipe()
    leak_read, leak_write = os.pipe()
    # fds 3 and 4 in dkr: one it is told to pass on, one it must not.
    out = tmp_path / "fds"
    with open(out, "w") as stdout:
        pid = caller.create(
            bundle, "fd1", "--preserve-fds", "1", stdout=stdout,
            pass_fds=(3, 4),
            preexec_fn=lambda: (os.dup2(keep_read, 3), os.dup2(leak_read, 4)))
    caller("start", "fd1")
    assert caller.wait(pid) == 0
    for fd in (keep_read, keep_write, leak_read, leak_write):
        os.close(fd)
    # 0-2, 3 (passed on) and the directory `ls` reads: nothing else
    assert sorted(int(fd) for fd in out.read_text().split()) == [0, 1, 2, 3, 4]


def test_pause_freezes_the_container_and_resume_thaws_it(caller, rootfs, tmp_path):
    counter = tmp_path / "shared"
    counter.mkdir()

    def shared(config: dict) -> None:
        config["mounts"].append({"destination": "/count", "type": "bind",
                                 "source": str(counter), "options": ["rbind"]})

    script = "i=0; while :; do i=$((i+1)); echo $i > /count/n; sleep 0.05; done"
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", script], shared)
    pid = caller.create(bundle, "p1")
    caller("start", "p1")
    time.sleep(0.3)
    caller("pause", "p1")
    assert caller.state("p1")["status"] == "paused"
    frozen_at = (counter / "n").read_text()
    time.sleep(0.4)
    assert (counter / "n").read_text() == frozen_at  # not one step while frozen
    again = caller("pause", "p1", check=False)
    assert again.returncode == 125 and "it is paused" in again.stderr
    caller("resume", "p1")
    assert caller.state("p1")["status"] == "running"
    time.sleep(0.3)
    assert (counter / "n").read_text() != frozen_at
    caller("pause", "p1")
    caller("delete", "--force", "p1")  # a paused one too, as engines do
    assert caller.wait(pid) == -signal.SIGKILL
