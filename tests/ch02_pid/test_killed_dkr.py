# chapter: 2
"""A dkr killed at any step of a container's life leaves nothing behind
that the next dkr does not take back.

`DKR_KILL_AFTER=N` makes dkr kill itself with SIGKILL right after its Nth
kernel call (see dkr.linux.syscall.KillSwitch), so every step of the
set-up and the tear-down is reached, one run each: between them, the
fork with the child not yet bound to die with dkr, the network half made,
the cgroup half removed."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from conftest import (host_state, pid_namespaces, take_back_after_killed_dkr, wait_for_leaks,
                      wait_for_line, wait_for_trace)
from conftest import free_port  # chapter: 4


def options() -> list[str]:
    """Options that make dkr do all it can: every chapter's host-side part."""
    chosen: list[str] = []
    chosen += ["-p", f"{free_port()}:8080"]  # chapter: 4
    chosen += ["--memory", "64m"]  # chapter: 5
    return chosen


# Calls that change nothing dkr could leave behind: killed right after one of
# them, dkr leaves what it leaves when killed right after the call before.
READS = ("read_file(", "recvmsg(", "poll(")


def dkr_calls(dkr, *args: str) -> list[str]:
    """The kernel calls that dkr itself makes for `dkr run ARGS`, as its trace
    shows them (not the child's, made before it calls itself "container")."""
    result = dkr("--trace", "run", *args)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    own = lines[0].split("]", 1)[0] + "] "  # "dkr[PID] "
    return [line.removeprefix(own) for line in lines if line.startswith(own)]


def test_a_dkr_killed_after_any_of_its_calls_leaves_nothing_the_next_dkr_keeps(dkr, data_dir):
    dkr_calls(dkr, *options(), "true")  # the first run makes what stays: a bridge, parent cgroups
    calls = dkr_calls(dkr, *options(), "true")
    known = set(pid_namespaces().values())
    before = host_state(data_dir, known)
    failures = []
    for n, call in enumerate(calls, start=1):
        if call.startswith(READS):
            continue
        killed = dkr("run", *options(), "echo", "ran", env={"DKR_KILL_AFTER": str(n)})
        if killed.returncode != -signal.SIGKILL or killed.stderr:
            failures.append(f"after call {n}, {call}: dkr ended with {killed.returncode}, "
                            f"saying {killed.stderr!r}")
        take_back_after_killed_dkr(dkr)
        if leaks := wait_for_leaks(before, lambda: host_state(data_dir, known)):
            failures.append(f"after call {n}, {call}, the next dkr left: {'; '.join(leaks)}")
    assert not failures, "\n".join(failures)


def steps_after_the_fork(calls: list[str]) -> range:
    """The numbers (from 1) of dkr's calls from its fork() to the unblocking of
    signals that ends the fork's window: while they run, the child may not yet
    be bound to die with dkr, and dkr has no handlers for the signals it forwards."""
    fork = next(i for i, call in enumerate(calls) if call.startswith("fork() = "))
    unblock = next(i for i, call in enumerate(calls) if i > fork
                   and call.startswith("rt_sigprocmask(SIG_SETMASK"))
    return range(fork + 1, unblock + 2)


def test_a_dkr_killed_just_after_the_fork_takes_its_container_with_it(dkr, data_dir):
    """The container must not live on (and run) when dkr dies before the
    child has asked the kernel to kill it with dkr."""
    script = "sleep 0.2; echo ran"
    calls = dkr_calls(dkr, "sh", "-c", script)
    for n in steps_after_the_fork(calls):
        killed = dkr("run", "sh", "-c", script, env={"DKR_KILL_AFTER": str(n)})
        assert (killed.returncode, killed.stdout, killed.stderr) == (-signal.SIGKILL, "", ""), \
            f"killed after call {n}, {calls[n - 1]}"
        take_back_after_killed_dkr(dkr)


def test_a_signal_that_comes_during_the_fork_is_passed_on(dkr, start_dkr):
    """dkr stopped right after its fork, sent SIGTERM, then let go: the signal
    waited, blocked, and went to the container (whose PID 1 ignores it)."""
    script = "sleep 0.2; echo still here"
    calls = dkr_calls(dkr, "sh", "-c", script)
    for n in steps_after_the_fork(calls):
        process = start_dkr("run", "sh", "-c", script, env={"DKR_KILL_AFTER": f"{n}:SIGSTOP"})
        wait_until_stopped(process.pid)
        process.send_signal(signal.SIGTERM)
        process.send_signal(signal.SIGCONT)
        out, err = process.communicate(timeout=20)
        assert (process.returncode, out, err) == (0, "still here\n", ""), \
            f"stopped after call {n}, {calls[n - 1]}"


def wait_until_stopped(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline, f"dkr {pid} did not stop"
        time.sleep(0.01)


def test_the_third_interrupt_kills_a_container_that_ignores_them(start_dkr):
    # PID 1 ignores SIGINT, from before it says it is ready. (A plain `sh -c`
    # catches SIGINT until it runs its last command, and exits on it: on a
    # busy machine, an interrupt can come in that moment.)
    process = start_dkr("--trace", "run", "sh", "-c",
                        "trap '' INT TERM QUIT; echo ready; exec sleep 30")
    # The unblocking after the fork: from then on dkr passes each signal on
    # (before, they wait pending, and two pending SIGINTs are one).
    wait_for_trace(process, "rt_sigprocmask(SIG_SETMASK")
    wait_for_line(process, "ready")
    for _ in range(2):  # a moment apart, as keys are pressed: two pending SIGINTs are one
        process.send_signal(signal.SIGINT)
        time.sleep(0.2)
    assert process.poll() is None, "two interrupts ended the container"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 128 + signal.SIGKILL
    assert "dkr: 3 interrupts within 5 s: killing the container (SIGKILL)" in err.splitlines()


def test_interrupts_far_apart_do_not_add_up(monkeypatch):
    from dkr.signals import Forwarder

    clock = iter([0.0, 1.0, 7.0, 8.0, 9.0])
    monkeypatch.setattr("time.monotonic", lambda: next(clock))
    forwarder = Forwarder()
    assert [forwarder._forced() for _ in range(5)] == [False, False, False, False, True]
