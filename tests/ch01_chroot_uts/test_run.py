# chapter: 1
"""Chapter 1: a command runs inside a root file system, with its own hostname."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import NOT_IN_PATH, SYS_ADMIN, dkr_command, dkr_env
from dkr import cli
from dkr.owners import owner_id
from dkr.rootfs import build_rootfs


def test_command_runs_in_the_rootfs(dkr, rootfs: Path):
    (rootfs / "root" / "only-in-the-rootfs").write_text("hello from the rootfs\n")
    result = dkr("run", "cat", "/root/only-in-the-rootfs")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from the rootfs\n"


def test_host_files_are_out_of_reach(dkr):
    result = dkr("run", "ls", "/work")
    assert result.returncode != 0


def test_hostname_is_the_containers_own(dkr):
    host_before = socket.gethostname()
    result = dkr("run", *SYS_ADMIN, "--hostname", "box", "sh", "-c",
                 "hostname; hostname changed; hostname")
    assert result.stdout.split() == ["box", "changed"]
    assert socket.gethostname() == host_before


def test_default_hostname_is_a_fresh_id(dkr):
    names = {dkr("run", "hostname").stdout.strip() for _ in range(2)}
    assert len(names) == 2
    assert all(len(name) == 12 and int(name, 16) >= 0 for name in names)


def test_environment_and_workdir(dkr):
    result = dkr("run", "-e", "GREETING=hi", "-w", "/tmp", "sh", "-c", 'echo "$GREETING $(pwd)"')
    assert result.stdout == "hi /tmp\n"


@pytest.mark.parametrize(
    ("command", "status"),
    [("exit 0", 0), ("exit 7", 7), ("exit 255", 255), ("true", 0), ("false", 1)],
)
def test_exit_status_is_the_commands(dkr, command: str, status: int):
    assert dkr("run", "sh", "-c", command).returncode == status


def test_stdin_and_stdout_pass_through(dkr):
    result = dkr("run", "sh", "-c", "tr a-z A-Z", input="shout\n")
    assert result.stdout == "SHOUT\n"


def test_missing_command_exits_127(dkr):
    result = dkr("run", "no-such-command")
    assert result.returncode == 127
    assert result.stderr == f"dkr: exec no-such-command: {NOT_IN_PATH}\n"


def test_command_that_is_not_executable_exits_126(dkr):
    result = dkr("run", "/etc/passwd")
    assert result.returncode == 126
    assert result.stderr == "dkr: exec /etc/passwd: permission denied\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--rootfs", "/no/such/dir", "true"], "dkr: no such rootfs: /no/such/dir\n"),
        (["run", "--rootfs", "/etc/passwd", "true"],
         "dkr: not a directory: /etc/passwd (--rootfs takes a root file system's directory)\n"),
        (["run"], "dkr: no command given: try `python3 -m dkr run /bin/sh`\n"),
    ],
)
def test_bad_input_is_one_clear_line(dkr, args: list[str], message: str):
    result = dkr(*args)
    assert result.returncode == 125
    assert result.stderr == message


def test_unknown_option_is_one_line_naming_the_command(dkr):
    result = dkr("run", "--no-such-option", "true")
    assert result.returncode == 125
    assert result.stderr == ("dkr run: unknown option --no-such-option "
                             "(see `python3 -m dkr run --help`)\n")


def test_not_root_says_to_use_sudo(monkeypatch, capfd):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert cli.main(["run", "true"]) == 125
    assert capfd.readouterr().err == "dkr: dkr run needs root: try `sudo python3 -m dkr run …`\n"


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["run", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "--rootfs" in out and "--hostname" in out


def test_trace_shows_the_kernel_calls(dkr):
    result = dkr("--trace", "run", "--hostname", "traced", "true")
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert any("unshare(" in line and "CLONE_NEWUTS" in line for line in lines)
    assert any(line.startswith("container[") and 'sethostname("traced") = 0' in line for line in lines)
    assert any(line.startswith("dkr[") and "fork() = " in line for line in lines)
    assert any('execvpe("true"' in line for line in lines)


def test_default_rootfs_is_built_on_first_use(dkr, data_dir: Path):
    result = dkr("run", "sh", "-c", "echo built", default_rootfs=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "built\n"
    assert [path.name for path in (data_dir / "rootfs").iterdir()] == ["default-4"]


def test_rootfs_from_host_programs(dkr, tmp_path: Path):
    """Without busybox, the root is built from host programs and their libraries."""
    root = tmp_path / "root"
    build_rootfs(root, busybox=None)
    result = dkr("run", "--rootfs", str(root), "sh", "-c", "ls / && cat /etc/passwd | head -1")
    assert result.returncode == 0, result.stderr
    assert "usr" in result.stdout.split()
    assert "root:x:0:0" in result.stdout


def test_a_half_built_default_rootfs_is_removed_by_the_next_dkr(dkr, tmp_path: Path):
    """A dkr killed while it builds the default rootfs leaves its staging
    directory; the next dkr that builds removes it (and not a live one's)."""
    data = tmp_path / "data"
    first = subprocess.Popen(dkr_command("run", "true"), env={**dkr_env(data)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 20
    while not list((data / "rootfs").glob(".build-*")):
        assert time.monotonic() < deadline and first.poll() is None, "dkr built no rootfs"
        time.sleep(0.005)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    staged = list((data / "rootfs").glob(".build-*"))
    assert staged, "the killed dkr left nothing to take back"
    live = data / "rootfs" / f".build-{os.getpid()}-{owner_id(os.getpid()).split()[1]}-x"
    live.mkdir()
    assert dkr("run", "true", default_rootfs=True, env=dkr_env(data)).returncode == 0
    assert sorted(path.name for path in (data / "rootfs").iterdir()) == sorted(["default-4", live.name])
    live.rmdir()


def test_a_trace_whose_reader_has_gone_ends_but_dkr_goes_on(root, data_dir, rootfs):
    """`dkr --trace run … 2>&1 | head`: once the trace's pipe is closed, dkr
    stops tracing and sees the container through (and cleans up after it)."""
    process = subprocess.Popen(dkr_command("--trace", "run", "--rootfs", str(rootfs), "sh", "-c",
                                           "sleep 0.3; exit 3"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=dkr_env(data_dir))
    assert process.stderr.readline().startswith(b"dkr[")
    process.stderr.close()
    assert process.wait(timeout=30) == 3


def test_sethostname_says_when_the_kernel_refuses(root):
    """A name the kernel refuses (longer than 64 bytes) is an OSError naming
    the call, not a silent -1: in a UTS namespace of the test's own."""
    script = ("import os, sys\nfrom dkr.linux import sched, unistd\n"
              "sched.unshare(sched.CloneFlags.CLONE_NEWUTS)\n"
              "try:\n    unistd.sethostname('x' * 65)\n"
              "except OSError as error:\n    print(error.errno, error)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=dkr_env(Path("/nonexistent")), timeout=30)
    assert result.stdout == "22 [Errno 22] sethostname: Invalid argument\n", result.stderr
