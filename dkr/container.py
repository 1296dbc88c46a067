# chapter: 1
"""A container's life, in the order the kernel needs it.

dkr forks the container's first process. The child enters its namespaces,
builds its root and execs the command; dkr forwards signals, relays the
terminal and waits. Each step is one chapter's feature, carried out by
that feature's module, so this file reads like the book's contents.
# chapter: 10 {

From chapter 10 on, the life has the OCI runtime spec's two halves:
`create` sets the container up to the point of exec and leaves it waiting
there; `start` lets it exec. `dkr run` does both, then waits; `dkr create`
returns in between and leaves the waiting process to its caller.
# }
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from dataclasses import dataclass
from pathlib import Path  # chapter: 4
from typing import Callable, NoReturn

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
from dkr import user_namespace  # chapter: 10
from dkr.channel import Channel, Message
from dkr.config import Process, Spec
from dkr.errors import (EXIT_CANNOT_INVOKE, EXIT_DKR_FAILED, EXIT_NOT_FOUND, CleanUp,
                        DkrError, describe, report, shorten)
from dkr.linux import prctl  # chapter: 2
from dkr.linux import syscall, unistd, wait
from dkr.linux.signal import kill
from dkr.oci import hooks, inside, lifecycle  # chapter: 10

# exec errors that mean "there is no such program", as Docker reports them (127).
NOT_THERE = (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG, errno.ELOOP)


@dataclass
class Container:
    """A container whose first process dkr has forked, as dkr holds it."""

    pid: int
    channel: Channel  # dkr's end
    state_directory: Path  # chapter: 4
    console: int | None = None  # chapter: 3


# chapter: 1-3 {
# def run(spec: Spec) -> int:
# }
# chapter: 4-9 {
# def run(container_id: str, spec: Spec) -> int:
# }
# chapter: 10 {
def run(container_id: str, spec: Spec,
        started: Callable[[int], None] = lambda pid: None) -> int:
# }
    """Run a container to its end; the exit code of its command.

    What the host gains for the container (its state directory and network
    from chapter 4 on, its cgroup from chapter 5) is entered into `host`, and removed
    again, last made first, when the container has ended, or when its
    set-up fails (without the clean-up hiding why it failed).
    # chapter: 10 {

    `started` hears the container's pid once its command has exec'd.
    # }
    """
    with signals.Forwarder() as forwarder, CleanUp() as host:
        # chapter: 1-3 {
        # container = create(spec, host, forwarder.forward_to)
        # }
        container = create(container_id, spec, host,  # chapter: 4
                           forwarder.forward_to)  # chapter: 4
        lifecycle.start(container.state_directory, container.pid)  # chapter: 10
        # chapter: 1-9 {
        # return _dkr_side(container)
        # }
        return _dkr_side(container, started)  # chapter: 10


# chapter: 1-3 {
# def create(spec: Spec, host: CleanUp, forked: Callable[[int], None]) -> Container:
# }
# chapter: 4-9 {
# def create(container_id: str, spec: Spec, host: CleanUp,
#            forked: Callable[[int], None]) -> Container:
# }
# chapter: 10 {
def create(container_id: str, spec: Spec, host: CleanUp,
           forked: Callable[[int], None], detach: bool = False) -> Container:
# }
    """Make what the host keeps for the container, entered into `host`, and
    fork the container's first process, which sets itself up; `forked`
    hears its pid first.
    # chapter: 10 {

    Returns once the process is set up and waits to exec, for `start`. With
    `detach` (`dkr create`), this dkr will be gone by then: the process must
    not die with it, and its caller, a subreaper, becomes its parent.
    # }
    """
    dkr_end, container_end = Channel.pair()
    state_directory = state.claim(container_id)  # chapter: 4
    host.callback(state.remove, state_directory)  # chapter: 4
    if layer := overlay.writable_layer(spec.root, container_id):  # chapter: 8
        host.callback(overlay.remove, layer)  # chapter: 8
    cgroup = cgroups.limits(spec, state_directory)  # chapter: 5
    host.callback(cgroups.close, cgroup, spec)  # chapter: 5
    seccomp.prepare(spec)  # chapter: 7
    hooks.prepare(spec)  # chapter: 10
    exec_fifo = lifecycle.make_exec_fifo(state_directory)  # chapter: 10
    pid = namespaces.fork_container(spec)
    if pid == 0:
        dkr_end.close()
        # chapter: 1-9 {
        # _container_side(spec, container_end)
        # }
        _container_side(spec, container_end, exec_fifo, detach)  # chapter: 10
    container_end.close()
    unistd.close(exec_fifo)  # chapter: 10
    forked(pid)
    # chapter: 1-3 {
    # container = Container(pid, dkr_end)
    # }
    container = Container(pid, dkr_end, state_directory)  # chapter: 4
    host_network = host.enter_context(  # chapter: 4
        network.HostSide(spec, pid, container_id, state_directory))  # chapter: 4
    dkr_end.answer("ready", host_network.connect)  # chapter: 4
    # chapter: 10 {
    dkr_end.answer("hooks", lambda: hooks.run_on_host(spec, container_id, pid))
    dkr_end.answer("user", lambda: user_namespace.map_ids(spec, pid))
    _watch(container, lambda: _follow_set_up(container, until="created"))
    # }
    return container


# chapter: 1-9 {
# def _container_side(spec: Spec, channel: Channel) -> NoReturn:
# }
def _container_side(spec: Spec, channel: Channel, exec_fifo: int,  # chapter: 10
                    detach: bool) -> NoReturn:  # chapter: 10
    """In the child, from fork to exec.

    It never returns into dkr's code, whatever happens: what dkr made on
    the host is dkr's to remove, and the child would remove it from under
    a running container.
    """
    try:
        syscall.set_trace_label("container")
        cgroups.join(spec)  # chapter: 5
        # chapter: 2-9 {
        # _die_with_dkr(channel)
        # }
        if not detach:  # chapter: 10
            _die_with_dkr(channel)  # chapter: 10
        prctl.set_dumpable(False)  # chapter: 6
        namespaces.join_given(spec)  # chapter: 10
        # chapter: 10 {
        if spec.new_namespace("user"):
            user_namespace.become_root(spec, channel)  # dkr sets its limits
        else:
            inside.set_limits(spec.process)
        # }
        namespaces.unshare_the_rest(spec)
        network.set_up_inside(spec, channel)  # chapter: 4
        hook_state = hooks.run_before_mounts(spec, channel)  # chapter: 10
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
        _drop_privileges(spec)  # chapter: 6
        # chapter: 6-9 {
        # unistd.close_on_exec_from(3)
        # }
        unistd.close_on_exec_from(3 + spec.process.preserve_fds)  # chapter: 10
        # chapter: 10 {
        channel.send("created")
        lifecycle.wait_for_start(exec_fifo)
        hooks.run(spec.hooks.start_container, hook_state, "startContainer")
        # }
        signals.reset_for_exec()
        _exec(spec.process, channel)
    except BaseException as error:  # whatever happens, it goes back to dkr
        _fail(channel, EXIT_DKR_FAILED, f"container set-up: {describe(error)}")
    finally:
        os._exit(EXIT_DKR_FAILED)


# chapter: 10 {
def exec_in(spec: Spec, state_directory: Path, forked: Callable[[int], None]) -> int:
    """Run one more process in a running container (`dkr exec`), to its
    end; its exit status. `spec` names each of the container's namespaces
    by path, and its cgroup; `forked` hears the process's pid."""
    with signals.Forwarder() as forwarder:
        def both(pid: int) -> None:
            forwarder.forward_to(pid)
            forked(pid)

        return _dkr_side(_enter(spec, state_directory, both))


def start_in(spec: Spec, state_directory: Path,
             hand_over: Callable[[int], None]) -> int:
    """Start one more process in a running container and leave it there
    (`dkr exec --detach`); its pid, once it has exec'd. Its terminal, if it
    has one, goes to `hand_over` first. dkr is gone soon after: the
    process must not die with it, and its caller, a subreaper, becomes
    its parent."""
    process = _enter(spec, state_directory, lambda pid: None, detach=True)

    def follow() -> Message | None:
        failure = _follow_set_up(process, until="exec")
        if failure is None and process.console is not None:
            master, process.console = process.console, None
            hand_over(master)
        return failure or _follow_set_up(process)

    _watch(process, follow)
    return process.pid


def _enter(spec: Spec, state_directory: Path, forked: Callable[[int], None],
           detach: bool = False) -> Container:
    """Fork the process of `exec_in` or `start_in`: it joins the container's
    namespaces and cgroup and execs `spec.process`, with its user, limits,
    capabilities and seccomp. The container has the rest already: its
    mounts, hostname and network are not made again.

    dkr turns dumpable off before it forks: the child is born into the
    container's PID namespace, where the container's processes could
    otherwise open its /proc/PID/exe, the host's Python, before it has
    dropped anything (CVE-2019-5736's way in)."""
    dkr_end, process_end = Channel.pair()
    seccomp.prepare(spec)
    prctl.set_dumpable(False)
    pid = namespaces.fork_container(spec)
    if pid == 0:
        dkr_end.close()
        _joining_side(spec, process_end, detach)
    process_end.close()
    forked(pid)
    return Container(pid, dkr_end, state_directory)


def _joining_side(spec: Spec, channel: Channel, detach: bool) -> NoReturn:
    """In the child of `dkr exec`: the steps of `_container_side` that a
    process joining a running container takes, in the same order. It
    says `exec` just before its exec, for a detached `dkr exec` to return."""
    try:
        syscall.set_trace_label("exec")
        cgroups.join(spec)  # by the host's paths, before the mount namespace
        if not detach:
            _die_with_dkr(channel)
        inside.set_limits(spec.process)  # while it has the host's CAP_SYS_RESOURCE
        namespaces.join_given(spec)
        if spec.process.terminal:
            terminal.attach_console(channel)
        users.resolve(spec.process)
        unistd.chdir(spec.process.cwd)
        _drop_privileges(spec)
        unistd.close_on_exec_from(3 + spec.process.preserve_fds)
        channel.send("exec")
        signals.reset_for_exec()
        _exec(spec.process, channel)
    except BaseException as error:  # as in _container_side
        _fail(channel, EXIT_DKR_FAILED, f"exec set-up: {describe(error)}")
    finally:
        os._exit(EXIT_DKR_FAILED)
# }


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
def _drop_privileges(spec: Spec) -> None:
    """The last steps before exec: from root with every capability to the
    spec's user with the spec's capabilities, in the one order that works.

    The bounding set shrinks while the process still holds
    CAP_SETPCAP; the sets are set after the switch of user, which would
    clear them.
    """
    process = spec.process
    # First, while every call is allowed: a bundle's seccomp filter may refuse getcwd.
    _check_working_directory(process.cwd)
    capabilities.drop_bounding(process.capabilities)
    if not process.no_new_privileges:  # chapter: 7
        seccomp.install(spec)  # chapter: 7
    users.switch_to(process.user)
    capabilities.set_sets(process.capabilities)
    if process.no_new_privileges:
        prctl.set_no_new_privs()
        seccomp.install(spec)  # chapter: 7


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
    try:
        channel.send("failed", f"{code}\n{message}")
    except OSError:  # dkr is gone: the container's own stderr is left
        report(message)
    os._exit(code)


# chapter: 1-9 {
# def _dkr_side(container: Container) -> int:
# }
# chapter: 10 {
def _dkr_side(container: Container,
              started: Callable[[int], None] = lambda pid: None) -> int:
# }
    """In dkr: follow the set-up, relay the terminal, wait for the end."""
    _watch(container, lambda: _follow_set_up(container))
    started(container.pid)  # chapter: 10
    if container.console is not None:  # chapter: 3
        _watch(container, lambda: _relay(container))  # chapter: 3
    _, status = wait.waitpid(container.pid)
    return wait.exit_code(status)


def _watch(container: Container, follow: Callable[[], Message | None]) -> None:
    """Run `follow`; if it fails, or the child reports a failure, end the
    child (it has ended itself if it reported) and raise the failure. The
    channel is closed once the set-up is over, either way."""
    try:
        failure = follow()
    except BaseException:  # dkr cannot see this container through: end it
        with contextlib.suppress(ProcessLookupError):
            kill(container.pid, signal.SIGKILL)
        container.channel.close()
        wait.waitpid(container.pid)
        raise
    if failure:
        container.channel.close()
        wait.waitpid(container.pid)
        code, _, message = failure.text.partition("\n")
        raise DkrError(message, int(code))


def _follow_set_up(container: Container, until: str = "") -> Message | None:
    """Read the child's messages until its exec closes the channel
    # chapter: 10 {
    (or, with `until`, until it sends that message)
    # }
    and return its failure report, if any."""
    channel = container.channel
    while (message := channel.receive()) is not None:
        if message.kind == "failed":
            return message
        if message.kind in channel.replies:  # chapter: 4
            channel.send("go", channel.replies[message.kind]())  # chapter: 4
        if message.kind == until:  # chapter: 10
            return None  # chapter: 10
        # chapter: 3 {
        if message.kind == "console":
            container.console = message.fds[0]
            terminal.copy_window_size(container.console)
            channel.send("go")
        # }
    channel.close()
    return None


# chapter: 3 {
def _relay(container: Container) -> None:
    """Relay the container's terminal and dkr's until the container is gone."""
    assert container.console is not None
    terminal.relay(container.console)
    os.close(container.console)
# }
