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
from typing import NoReturn

from dkr import capabilities  # chapter: 6
from dkr import cgroups  # chapter: 5
from dkr import namespaces
from dkr import mounts  # chapter: 2
from dkr import network  # chapter: 4
from dkr import overlay  # chapter: 8
from dkr.seccomp import apply as seccomp  # chapter: 7
from dkr import signals
from dkr import state  # chapter: 4
from dkr import terminal  # chapter: 3
from dkr import users  # chapter: 6
from dkr.channel import Channel, Message
from dkr.config import Process, Spec
from dkr.errors import (EXIT_CANNOT_INVOKE, EXIT_DKR_FAILED, EXIT_NOT_FOUND, CleanUp,
                        DkrError, describe, shorten)
from dkr.linux import prctl  # chapter: 2
from dkr.linux import syscall, unistd, wait
from dkr.linux.signal import kill

# exec errors that mean "there is no such program", as Docker reports them (127).
NOT_THERE = (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP)


# chapter: 1-3 {
# def run(spec: Spec) -> int:
# }
def run(container_id: str, spec: Spec) -> int:  # chapter: 4
    """Run a container to its end; the exit code of its command.

    What the host gains for the container (its state directory and network
    from chapter 4 on, its cgroup from chapter 5) is entered into `host`, and removed
    again, last made first, when the container has ended, or when its
    set-up fails (without the clean-up hiding why it failed).
    """
    dkr_end, container_end = Channel.pair()
    with signals.Forwarder() as forwarder, CleanUp() as host:
        state_directory = host.enter_context(state.claimed(container_id))  # chapter: 4
        layer = overlay.writable_layer(spec.root, container_id)  # chapter: 8
        host.enter_context(layer)  # chapter: 8
        host.enter_context(cgroups.limits(spec, state_directory))  # chapter: 5
        seccomp.prepare(spec)  # chapter: 7
        pid = namespaces.fork_container(spec)
        if pid == 0:
            dkr_end.close()
            _container_side(spec, container_end)
        container_end.close()
        forwarder.forward_to(pid)
        host_network = host.enter_context(  # chapter: 4
            network.HostSide(spec, pid, container_id, state_directory))  # chapter: 4
        dkr_end.answer("ready", host_network.connect)  # chapter: 4
        return _dkr_side(pid, dkr_end)


def _container_side(spec: Spec, channel: Channel) -> NoReturn:
    """In the child, from fork to exec.

    It never returns into dkr's code, whatever happens: what dkr made on
    the host is dkr's to remove, and the child would remove it from under
    a running container.
    """
    try:
        syscall.set_trace_label("container")
        cgroups.join(spec)  # chapter: 5
        _die_with_dkr(channel)  # chapter: 2
        prctl.set_dumpable(False)  # chapter: 6
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
        users.resolve(spec.process)  # chapter: 6
        unistd.chdir(spec.process.cwd)
        # chapter: 6 {
        capabilities.drop_bounding(spec.process.capabilities)
        if not spec.process.no_new_privileges:  # chapter: 7
            seccomp.install(spec)  # chapter: 7
        users.switch_to(spec.process.user)
        capabilities.set_sets(spec.process.capabilities)
        if spec.process.no_new_privileges:
            prctl.set_no_new_privs()
            seccomp.install(spec)  # chapter: 7
        _check_working_directory(spec.process.cwd)
        unistd.close_on_exec_from(3)
        # }
        signals.reset_for_exec()
        _exec(spec.process, channel)
    except BaseException as error:  # whatever happens, it goes back to dkr
        _fail(channel, EXIT_DKR_FAILED, f"container set-up: {describe(error)}")
    finally:
        os._exit(EXIT_DKR_FAILED)


# chapter: 2 {
def _die_with_dkr(channel: Channel) -> None:
    """Have the kernel kill the container when dkr dies, and check that dkr
    has not died already: between fork and prctl nothing would notice.

    getppid() cannot tell (the parent of PID 1 is outside its namespace,
    so it is 0); the channel can: dkr's end closes when dkr dies.
    """
    prctl.set_pdeathsig(signal.SIGKILL)
    if channel.peer_closed():
        os._exit(EXIT_DKR_FAILED)
# }


# chapter: 6 {
def _check_working_directory(cwd: str) -> None:
    """Refuse a working directory outside the container's root.

    A directory fd that dkr's caller left open is still open here, and
    `-w /proc/self/fd/N` would chdir through it to the host's file system
    (CVE-2024-21626, "Leaky Vessels"). The kernel can tell: such a
    directory has no path from the container's root."""
    try:
        where = unistd.getcwd()
    except FileNotFoundError:  # glibc's answer for "(unreachable)"
        where = "(unreachable)"
    if where.startswith("(unreachable)"):
        raise DkrError(f"the working directory {shorten(cwd)!r} is outside the "
                       f"container's root file system: give a directory in it")
# }


def _exec(process: Process, channel: Channel) -> NoReturn:
    """Replace the child with the command; tell dkr why if that fails."""
    command = process.args[0]
    shown = shorten(command) if command else '""'
    try:
        unistd.execvpe(command, process.args, process.environ())
    except OSError as error:
        if error.errno in NOT_THERE and "/" in command:
            _fail(channel, EXIT_NOT_FOUND, f"exec {shown}: no such file or directory")
        # chapter: 1-8 {
        # if error.errno in NOT_THERE:
        #     _fail(channel, EXIT_NOT_FOUND,
        #           f"exec {shown}: executable file not found in $PATH (dkr runs a "
        #           f"command of its root file system, not an image: images arrive in "
        #           f"chapter 9)")
        # }
        if error.errno in NOT_THERE:  # chapter: 9
            _fail(channel, EXIT_NOT_FOUND,  # chapter: 9
                  f"exec {shown}: executable file not found in $PATH")  # chapter: 9
        why = os.strerror(error.errno or 0).lower()
        _fail(channel, EXIT_CANNOT_INVOKE, f"exec {shown}: {why}")
    raise AssertionError("execvpe returned")


def _fail(channel: Channel, code: int, message: str) -> NoReturn:
    """Report a failure to dkr and end the child with `code`."""
    with contextlib.suppress(OSError):  # dkr is gone: nobody to tell
        channel.send("failed", f"{code}\n{message}")
    os._exit(code)


def _dkr_side(pid: int, channel: Channel) -> int:
    """In dkr: follow the set-up, relay the terminal, wait for the end."""
    try:
        failure = _follow_set_up(channel)
    except BaseException:  # dkr cannot see this container through: end it
        with contextlib.suppress(ProcessLookupError):
            kill(pid, signal.SIGKILL)
        raise
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
