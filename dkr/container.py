# chapter: 1
"""A container's life, in the order the kernel needs it.

dkr forks the container's first process. The child enters its namespaces,
builds its root and execs the command; dkr forwards signals, relays the
terminal and waits. Each step is one chapter's feature, carried out by
that feature's module, so this file reads like the book's contents.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from typing import Iterator, NoReturn

from dkr import cgroups  # chapter: 5
from dkr import namespaces
from dkr import mounts  # chapter: 2
from dkr import network  # chapter: 4
from dkr import terminal  # chapter: 3
from dkr.channel import Channel, Message
from dkr.config import Process, Spec
from dkr.errors import EXIT_CANNOT_INVOKE, EXIT_DKR_FAILED, EXIT_NOT_FOUND, DkrError, describe
from dkr.linux import prctl  # chapter: 2
from dkr.linux import syscall, unistd, wait
from dkr.linux.signal import kill, sigaction

# What dkr passes on to the container when it receives it.
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2)


def run(spec: Spec) -> int:
    """Run a container to its end; the exit code of its command.

    What the host gains for the container (from chapter 4 on: its network,
    then its cgroup) is entered into `host`, and removed again, last made
    first, when the container has ended.
    """
    dkr_end, container_end = Channel.pair()
    with contextlib.ExitStack() as host:
        host.enter_context(cgroups.limits(spec))  # chapter: 5
        pid = namespaces.fork_container(spec)
        if pid == 0:
            dkr_end.close()
            _container_side(spec, container_end)
        container_end.close()
        host_network = host.enter_context(network.HostSide(spec, pid))  # chapter: 4
        dkr_end.answer("ready", host_network.connect)  # chapter: 4
        return _dkr_side(pid, dkr_end)


def _container_side(spec: Spec, channel: Channel) -> NoReturn:
    """In the child, from fork to exec. It never returns into dkr's code."""
    syscall.set_trace_label("container")
    try:
        cgroups.join(spec)  # chapter: 5
        prctl.set_pdeathsig(signal.SIGKILL)  # chapter: 2
        namespaces.unshare_the_rest(spec)
        network.set_up_inside(spec, channel)  # chapter: 4
        if spec.hostname:
            unistd.sethostname(spec.hostname)
        mounts.set_up(spec)  # chapter: 2
        # chapter: 1-2 {
        # unistd.chroot(spec.root.path)
        # }
        if spec.process.terminal:  # chapter: 3
            terminal.attach_console(channel)  # chapter: 3
        unistd.chdir(spec.process.cwd)
        _exec(spec.process, channel)
    except BaseException as error:  # whatever happens, it goes back to dkr
        _fail(channel, EXIT_DKR_FAILED, f"container set-up: {_explain(error)}")


def _exec(process: Process, channel: Channel) -> NoReturn:
    """Replace the child with the command; tell dkr why if that fails."""
    command = process.args[0]
    try:
        unistd.execvpe(command, process.args, process.environ())
    except OSError as error:
        if error.errno == errno.ENOENT:
            why = "no such file or directory" if "/" in command else "executable file not found in $PATH"
            _fail(channel, EXIT_NOT_FOUND, f"exec {command}: {why}")
        _fail(channel, EXIT_CANNOT_INVOKE, f"exec {command}: {os.strerror(error.errno or 0).lower()}")
    raise AssertionError("execvpe returned")


def _fail(channel: Channel, code: int, message: str) -> NoReturn:
    """Report a failure to dkr and end the child with `code`."""
    channel.send("failed", f"{code}\n{message}")
    os._exit(code)


def _dkr_side(pid: int, channel: Channel) -> int:
    """In dkr: follow the set-up, relay the terminal, wait for the end."""
    with _signals_forwarded_to(pid):
        try:
            failure = _follow_set_up(channel)
        finally:
            channel.close()
            _, status = wait.waitpid(pid)
    if failure:
        code, _, message = failure.text.partition("\n")
        raise DkrError(message, int(code))
    return wait.exit_code(status)


def _follow_set_up(channel: Channel) -> Message | None:
    """Read the child's messages until its exec closes the channel.

    Returns the child's failure report, if any. With a terminal, relays it
    until the container is gone."""
    console = None  # chapter: 3
    while (message := channel.receive()) is not None:
        if message.kind == "failed":
            return message
        if message.kind in channel.replies:  # chapter: 4
            channel.send("go", channel.replies[message.kind]())  # chapter: 4
        # chapter: 3 {
        if message.kind == "console":
            console = message.fds[0]
            terminal.copy_window_size(console)
            channel.send("go")
        # }
    # chapter: 3 {
    if console is not None:
        terminal.relay(console)
        os.close(console)
    # }
    return None


@contextlib.contextmanager
def _signals_forwarded_to(pid: int) -> Iterator[None]:
    """Pass the signals dkr receives on to the container's first process."""

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            kill(pid, signal.Signals(signum))

    previous = {sig: sigaction(sig, forward) for sig in FORWARDED_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            sigaction(sig, handler)


def _explain(error: Exception) -> str:
    if isinstance(error, OSError):
        return describe(error)
    return str(error) or type(error).__name__
