# chapter: 2
"""Chapter 2: the command is PID 1 of its own PID namespace."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from conftest import alive, children, container_pid, take_back_after_killed_dkr, wait_for_line


def test_command_is_pid_1(dkr):
    assert dkr("run", "sh", "-c", "echo $$").stdout == "1\n"


def test_ps_shows_only_the_containers_processes(dkr):
    script = ('sleep 30 & until [ "$(cat /proc/$!/comm)" = sleep ]; do :; done;'
              " ps -o pid,comm; true")
    result = dkr("run", "sh", "-c", script)
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert sorted(comm for _, comm in rows) == ["ps", "sh", "sleep"], result.stdout
    assert ["1", "sh"] in rows


def test_proc_is_the_containers_own(dkr):
    host_pids = sum(1 for entry in os.listdir("/proc") if entry.isdigit())
    result = dkr("run", "sh", "-c", "ls /proc | grep -c '^[0-9]'")
    assert 1 <= int(result.stdout) <= 3 < host_pids


def test_proc_mount_does_not_reach_the_host(dkr, rootfs: Path):
    dkr("run", "true")
    assert not os.listdir(rootfs / "proc")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signals_to_dkr_reach_the_container(start_dkr, sig: signal.Signals):
    script = f'trap "echo got {sig.name}; exit 42" {sig.name[3:]}; echo ready; while :; do sleep 0.05; done'
    process = start_dkr("run", "sh", "-c", script)
    wait_for_line(process, "ready")
    process.send_signal(sig)
    out, _ = process.communicate(timeout=20)
    assert out == f"got {sig.name}\n"
    assert process.returncode == 42


def test_pid_1_ignores_signals_it_has_no_handler_for(start_dkr):
    """As in any PID namespace, init gets only the signals it handles."""
    process = start_dkr("run", "sh", "-c", "echo ready; sleep 1; echo still here")
    wait_for_line(process, "ready")
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=20)
    assert out == "still here\n"
    assert process.returncode == 0


def test_killed_by_a_signal_exits_128_plus_n(start_dkr):
    process = start_dkr("run", "sh", "-c", "echo ready; sleep 30")
    wait_for_line(process, "ready")
    os.kill(container_pid(process), signal.SIGKILL)
    process.wait(timeout=20)
    assert process.returncode == 128 + signal.SIGKILL


def test_everything_in_the_container_ends_with_pid_1(dkr):
    result = dkr("run", "sh", "-c", "sleep 4242 & echo started")
    assert result.stdout == "started\n"
    time.sleep(0.2)
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline(pid) == "sleep 4242"]


def test_container_dies_with_dkr(dkr, start_dkr):
    process = start_dkr("run", "sh", "-c", "echo ready; sleep 30")
    wait_for_line(process, "ready")
    init = container_pid(process)
    grandchildren = children(init)
    process.kill()  # SIGKILL: dkr gets no chance to clean up
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while (alive(init) or any(map(alive, grandchildren))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(init)
    assert not any(map(alive, grandchildren))
    take_back_after_killed_dkr(dkr)


def test_trace_shows_the_new_pid_namespace(dkr):
    lines = dkr("--trace", "run", "true").stderr.splitlines()
    unshare = first_line(lines, "unshare(CLONE_NEWPID) = 0",
                         "dkr makes the PID namespace with its own traced sched.unshare")
    fork = first_line(lines, "dkr[", "fork() = ",
                      "dkr forks with the traced unistd.fork, not os.fork")
    assert unshare < fork, "unshare(CLONE_NEWPID) must come before the fork: it moves the next child"
    assert any(line.startswith("container[1] ") for line in lines), "the child is PID 1"


def first_line(lines: list[str], *parts: str) -> int:
    """The index of the first line with every one of parts[:-1]; parts[-1] says
    what is wrong when there is none."""
    *words, why = parts
    for index, line in enumerate(lines):
        if all(word in line for word in words):
            return index
    raise AssertionError(f"no trace line with {' and '.join(map(repr, words))}: {why}")


def test_dkr_returns_to_its_own_pid_namespace(start_dkr):
    """After the fork dkr goes back (setns) to its own PID namespace, so that
    a child it starts later is not born in the container's."""
    process = start_dkr("run", "sh", "-c", "echo ready; sleep 30")
    wait_for_line(process, "ready")
    own = os.readlink(f"/proc/{process.pid}/ns/pid")
    for_children = os.readlink(f"/proc/{process.pid}/ns/pid_for_children")
    assert for_children == own, ("dkr's next child would be born in the container's PID "
                                 "namespace: after the fork, setns back to the one saved before")
    os.kill(container_pid(process), signal.SIGKILL)
    process.wait(timeout=10)


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""
