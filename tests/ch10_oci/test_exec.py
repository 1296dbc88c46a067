# chapter: 10
"""Chapter 10: `dkr exec`, one more process in a running container, as a
person types it and as conmon and containerd's shim call it."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from bundles import caller, read_all, receive_terminal, write_bundle  # noqa: F401

# What the exec'd processes are compared on: the kernel's view of a process's confinement.
CONFINEMENT = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
# mkdir(2) refused by the bundle's seccomp filter, to see that exec's process has it too.
NO_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 1}]}


@pytest.fixture
def running(caller, rootfs, tmp_path):
    """A started container, `box`, whose first process sleeps; its pid."""
    def confined(config: dict) -> None:
        config["hostname"] = "box"
        config["linux"]["seccomp"] = NO_MKDIR

    bundle = write_bundle(tmp_path / "b", rootfs, ["sleep", "60"], confined)
    pid = caller.create(bundle, "box")
    caller("start", "box")
    return pid


def namespaces_of(pid: int | str) -> dict[str, str]:
    return {kind: os.readlink(f"/proc/{pid}/ns/{kind}")
            for kind in ("pid", "mnt", "net", "ipc", "uts", "cgroup")}


def status_of(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in
            (line.partition(":") for line in lines) if key in CONFINEMENT}


def test_exec_runs_in_the_containers_namespaces(caller, running):
    script = ("hostname; echo $$; "
              "for n in pid mnt net ipc uts cgroup; do readlink /proc/self/ns/$n; done")
    done = caller("exec", "box", "sh", "-c", script)
    lines = done.stdout.split()
    assert lines[0] == "box"
    assert int(lines[1]) > 1  # a pid of the container's namespace: its first is 1
    assert lines[2:] == list(namespaces_of(running).values())


def test_exec_returns_the_commands_status(caller, running):
    assert caller("exec", "box", "sh", "-c", "exit 5", check=False).returncode == 5
    missing = caller("exec", "box", "no-such-program", check=False)
    assert missing.returncode == 127
    assert "executable file not found" in missing.stderr


def test_exec_is_as_confined_as_the_container(caller, running):
    """The process has the container's capabilities, no_new_privs and
    seccomp: the filter's mkdir refusal holds, and a mount, which needs
    CAP_SYS_ADMIN, fails."""
    script = ("grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status; "
              "mkdir /made 2>&1; mount -t tmpfs none /mnt 2>&1; true")
    done = caller("exec", "box", "sh", "-c", script)
    lines = done.stdout.splitlines()
    seen = {key: value.strip() for key, _, value in
            (line.partition(":") for line in lines) if key in CONFINEMENT}
    assert seen == status_of(running)
    assert seen["Seccomp"] == "2" and seen["NoNewPrivs"] == "1"
    assert any("Operation not permitted" in line and "mkdir" in line for line in lines)
    mount = [line for line in lines if line.startswith("mount:")]
    assert mount and ("denied" in mount[0] or "not permitted" in mount[0])


def test_the_process_is_not_dumpable_when_it_enters(caller, running):
    """Its /proc/PID/exe is the host's Python until exec (CVE-2019-5736):
    dumpable is off before the fork that puts it in the container's PID
    namespace, not after."""
    lines = caller("--trace", "exec", "box", "true").stderr.splitlines()
    dkr = [line.split(" ", 1)[1] for line in lines if line.startswith("dkr[")]
    dumpable = dkr.index("prctl(PR_SET_DUMPABLE, 0) = 0")
    entered = next(n for n, line in enumerate(dkr) if "CLONE_NEWPID" in line)
    assert dumpable < entered, lines


def test_exec_passes_on_no_descriptor_of_its_caller(caller, running):
    """A descriptor of the host's that the engine left open (containerd's
    shim leaves its socket at fd 3) must not reach the container."""
    read, write = os.pipe()
    try:
        done = caller("exec", "box", "ls", "/proc/self/fd", pass_fds=(read, write))
    finally:
        os.close(read)
        os.close(write)
    assert done.stdout.split() == ["0", "1", "2", "3"]  # 3: ls's own directory


def test_exec_takes_the_process_from_a_file(caller, running, tmp_path):
    process = {"args": ["sh", "-c", "id -u; id -g; pwd; echo $GREETING"],
               "cwd": "/tmp", "env": ["PATH=/bin:/usr/bin", "GREETING=hello"],
               "user": {"uid": 65534, "gid": 65534}}
    path = tmp_path / "process.json"
    path.write_text(json.dumps(process))
    done = caller("exec", "--process", str(path), "box")
    assert done.stdout.split() == ["65534", "65534", "/tmp", "hello"]


def test_the_options_change_the_containers_process(caller, running):
    done = caller("exec", "--cwd", "/etc", "--env", "EXTRA=1", "--user", "1000:1000",
                  "box", "sh", "-c", "pwd; echo $EXTRA; id -u; id -g")
    assert done.stdout.split() == ["/etc", "1", "1000", "1000"]
    added = caller("exec", "--cap", "CAP_SYS_ADMIN", "box", "grep", "CapEff",
                   "/proc/self/status")
    CAP_SYS_ADMIN = 21
    assert int(added.stdout.split()[1], 16) & (1 << CAP_SYS_ADMIN)


def test_a_detached_exec_is_left_to_its_caller(caller, running, tmp_path):
    """As conmon calls it: dkr returns once the process runs, with its pid
    written; the caller, a subreaper, becomes its parent and reaps it."""
    pid_file = tmp_path / "exec.pid"
    caller("exec", "--detach", "--pid-file", str(pid_file), "box",
           "sh", "-c", "sleep 0.5; exit 4")
    pid = int(pid_file.read_text())
    assert namespaces_of(pid) == namespaces_of(running)
    assert Path(f"/proc/{pid}/cgroup").read_text() == \
        Path(f"/proc/{running}/cgroup").read_text()
    assert caller.wait(pid) == 4


def test_a_detached_exec_sends_its_terminal(caller, running, tmp_path):
    sock = tmp_path / "console.sock"
    thread, received = receive_terminal(sock)
    pid_file = tmp_path / "exec.pid"
    caller("exec", "--detach", "--tty", "--console-socket", str(sock),
           "--pid-file", str(pid_file), "box", "sh", "-c", "tty; [ -t 0 ] && echo tty")
    thread.join(timeout=10)
    message, fds, _, _ = received[0]
    output = read_all(fds[0]).decode()
    os.close(fds[0])
    assert caller.wait(int(pid_file.read_text())) == 0
    assert output.split()[1:] == ["tty"] and output.startswith("/dev/pts/")


def test_a_detached_terminal_needs_a_console_socket(caller, running):
    done = caller("exec", "--detach", "--tty", "box", "sh", check=False)
    assert done.returncode == 125 and "--console-socket" in done.stderr


def test_exec_needs_a_running_container(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"])
    pid = caller.create(bundle, "idle")
    created = caller("exec", "idle", "true", check=False)
    assert created.returncode == 125 and "it is created" in created.stderr
    caller("start", "idle")
    assert caller.wait(pid) == 0
    stopped = caller("exec", "idle", "true", check=False)
    assert stopped.returncode == 125 and "it is stopped" in stopped.stderr
    missing = caller("exec", "nothing", "true", check=False)
    assert missing.returncode == 125 and "does not exist" in missing.stderr


def test_exec_takes_a_command_or_a_process_file(caller, running, tmp_path):
    neither = caller("exec", "box", check=False)
    assert neither.returncode == 125 and "give the command" in neither.stderr
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"args": ["true"], "cwd": "/"}))
    both = caller("exec", "--process", str(path), "box", "true", check=False)
    assert both.returncode == 125 and "not both" in both.stderr
    path.write_text(json.dumps({"args": "true", "cwd": "/"}))
    malformed = caller("exec", "--process", str(path), "box", check=False)
    assert malformed.returncode == 125 and "p.json: args" in malformed.stderr


def test_a_signal_to_exec_reaches_its_process(caller, running):
    """Foreground `dkr exec` forwards signals, as `dkr run` does."""
    import subprocess
    import sys
    import time

    from conftest import TREE

    command = subprocess.Popen(
        [sys.executable, "-m", "dkr", "--root", str(caller.state_root), "exec", "box",
         "sh", "-c", "trap 'exit 9' TERM; echo ready; while :; do sleep 0.1; done"],
        cwd=TREE, env=caller.env, stdout=subprocess.PIPE, text=True)
    assert command.stdout.readline() == "ready\n"
    time.sleep(0.1)
    command.send_signal(signal.SIGTERM)
    assert command.wait(timeout=10) == 9
    command.stdout.close()
