# chapter: 3
"""Chapter 3: with a terminal, the container gets its own, as with `docker run -it`."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from conftest import TREE, container_pid, dkr_command, dkr_env, with_test_rootfs


class Terminal:
    """dkr run on the slave side of a fresh pty, driven from its master side."""

    def __init__(self, args: list[str], env: dict[str, str], rows: int = 24, columns: int = 80):
        self.master, slave = os.openpty()
        self.resize(rows, columns, slave)
        self.settings_before = termios.tcgetattr(slave)
        self.slave = slave
        self.process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, cwd=TREE,
                                        env=env, start_new_session=True,
                                        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        self.output = b""

    def resize(self, rows: int, columns: int, fd: int | None = None) -> None:
        fcntl.ioctl(self.slave if fd is None else fd, termios.TIOCSWINSZ,
                    struct.pack("HHHH", rows, columns, 0, 0))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def expect(self, text: str, timeout: float = 15) -> str:
        """Read until `text` has appeared; the output so far."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.output:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"no {text!r} on the terminal; it shows {self.output!r}")
            try:
                self.output += os.read(self.master, 4096)
            except OSError:
                break
        return self.output.decode(errors="replace")

    def prompt(self) -> None:
        """Wait for the shell's prompt."""
        self.expect("# ")

    def wait(self) -> int:
        return self.process.wait(timeout=20)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal(root, data_dir, rootfs):
    opened: list[Terminal] = []

    def open_terminal(*args: str, **kwargs) -> Terminal:
        opened.append(Terminal(dkr_command(*with_test_rootfs(args, rootfs)), dkr_env(data_dir),
                               **kwargs))
        return opened[-1]

    yield open_terminal
    for term in opened:
        term.close()


def test_shell_gets_its_own_terminal(terminal):
    term = terminal("run", "sh", rows=33, columns=101)
    term.prompt()
    term.type("echo tty=$(tty) size=$(stty size) pid=$$\n")
    term.expect("tty=/dev/pts/0 size=33 101 pid=1")
    term.type("exit 3\n")
    assert term.wait() == 3


def test_ctrl_c_interrupts_the_foreground_job(terminal):
    term = terminal("run", "sh")
    term.prompt()
    term.type("sleep 30\n")
    time.sleep(0.5)
    term.type("\x03")
    term.type("echo alive\n")
    term.expect("alive\r\n", timeout=10)  # long before sleep 30 could end
    term.type("exit\n")
    assert term.wait() == 0


def test_job_control_works(terminal):
    term = terminal("run", "sh")
    term.prompt()
    term.type("sleep 30 &\n")
    term.type("jobs\n")
    term.expect("Running")
    term.type("kill %1; exit\n")
    assert term.wait() == 0


def test_window_size_follows_the_host(terminal):
    term = terminal("run", "sh", "-c", 'trap "stty size" WINCH; echo ready; while :; do sleep 0.05; done')
    term.expect("ready")
    term.resize(50, 132)  # the kernel sends dkr SIGWINCH, as on a real resize
    term.expect("50 132")
    os.kill(container_pid(term.process), signal.SIGKILL)  # the container, so that dkr cleans up
    term.wait()


def test_host_terminal_is_restored(terminal):
    term = terminal("run", "sh", "-c", "stty -a | head -1; exit 0")
    assert term.wait() == 0
    assert termios.tcgetattr(term.slave) == term.settings_before


def test_no_terminal_without_one(dkr):
    result = dkr("run", "sh", "-c", "tty; echo status=$?")
    assert "not a tty" in result.stdout
    assert result.stdout.strip().endswith("status=1")


def test_tty_option_gives_a_terminal_to_piped_input(dkr):
    result = dkr("run", "-t", "sh", "-c", "tty", input="")
    assert result.stdout.strip() == "/dev/pts/0"


def test_dkr_ends_when_the_reader_of_the_terminals_output_has_gone(root, data_dir, rootfs):
    """`dkr run -t yes | head -1`: once the pipe's reader is gone, dkr hangs the
    container's terminal up (as SIGPIPE ends a pipeline) instead of waiting on it."""
    process = subprocess.Popen(dkr_command("run", "--rootfs", str(rootfs), "-t", "yes"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=TREE, env=dkr_env(data_dir))
    assert process.stdout.read(4) == b"y\r\ny"
    process.stdout.close()
    assert process.wait(timeout=20) == 1  # yes's own status: it could write no more
    assert process.stderr.read() == b""
