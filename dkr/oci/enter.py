# chapter: 10
"""`dkr exec`: one more process in a running container.

This is how `podman exec` and `docker exec` reach the runtime: conmon or
containerd's shim writes the process to run as a JSON file, config.json's
`process` object on its own, and calls `dkr exec --process FILE --detach
--pid-file F ID`. A person types `dkr exec ID COMMAND…`, and the process
is then the container's own from config.json, with the command and the
options given (`--env`, `--cwd`, `--user`, `--tty`), as in runc.

The new process is made as the container's first one was, less the
parts the container has already: it joins each of the container's
namespaces through /proc/PID/ns and its cgroup, sets its limits, user,
capabilities and seccomp from the same spec, and execs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from dkr.errors import DkrError

if TYPE_CHECKING:
    from dkr.config import Process, Spec


def add_exec_options(parser: argparse.ArgumentParser) -> None:
    from dkr.oci.commands import add_preserve_fds

    option = parser.add_argument
    option("command", nargs=argparse.REMAINDER, metavar="COMMAND",
           help="what to run (without --process): the command and its arguments")
    option("-p", "--process", metavar="FILE",
           help="the process to run, as a JSON file: config.json's process object")
    option("-t", "--tty", action="store_true",
           help="give the process a terminal (with --detach, sent to --console-socket)")
    option("--console-socket", metavar="SOCKET",
           help="with a terminal: a unix socket to send its master end to")
    option("-d", "--detach", action="store_true",
           help="return once the process runs, and leave it to the caller")
    option("--pid-file", metavar="FILE", help="write the process's pid into FILE")
    option("--cwd", metavar="DIR", help="the working directory in the container")
    option("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
           help="one more environment variable (repeatable)")
    option("-u", "--user", metavar="UID[:GID]", help="the numeric user (and group)")
    option("-g", "--additional-gids", action="append", type=int, default=[],
           metavar="GID", help="one more supplementary group (repeatable)")
    option("-c", "--cap", action="append", default=[], metavar="CAP",
           help="one more capability, such as CAP_NET_ADMIN (repeatable)")
    option("--no-new-privs", action="store_true",
           help="set no_new_privs: no exec can gain privileges")
    add_preserve_fds(parser, "the process")


def exec_command(args: argparse.Namespace) -> int:
    """`dkr exec`: the process's exit status; with --detach, 0 once it runs."""
    from dkr import container
    from dkr.namespaces import of_process
    from dkr.oci import console, record
    from dkr.oci.commands import need_root, write_pid_file

    need_root("exec")
    _check_options(args)
    spec, container_pid, cgroup = _container_spec(args.id)
    spec.process = _process_of(args, spec.process)
    spec.linux.cgroups_path = cgroup
    of_process(spec, container_pid)
    directory = record.directory_of(args.id)

    def forked(pid: int) -> None:
        if args.pid_file:
            write_pid_file(args.pid_file, pid)

    if not args.detach:
        return container.exec_in(spec, directory, forked)
    forked(container.start_in(
        spec, directory, lambda master: console.send(args.console_socket, master)))
    return 0


def _check_options(args: argparse.Namespace) -> None:
    if args.process and args.command:
        raise DkrError("dkr exec: give the command or --process FILE, not both")
    if not args.process and not args.command:
        raise DkrError("dkr exec: give the command to run after the id "
                       "(or --process FILE)")


def _container_spec(container_id: str) -> tuple[Spec, int, str]:
    """The running container's spec (from its bundle), pid and cgroup."""
    from dkr.oci import bundle, record

    with record.opened(container_id) as (directory, container):
        status = container.status(directory)
        if status != "running":
            raise DkrError(f"cannot exec in container {container_id}: it is {status}")
        return bundle.load(container.bundle), container.pid, container.cgroup


def _process_of(args: argparse.Namespace, container: Process) -> Process:
    """The process to run: --process's, or the container's own with the
    command and the options given (runc's rules)."""
    if args.process:
        from dkr.oci.bundle import load_process

        process = load_process(args.process)
        process.terminal = process.terminal or args.tty
    else:
        process = container
        process.args = args.command
        process.terminal = args.tty
        if args.cwd:
            process.cwd = args.cwd
    process.env = process.env + args.env
    if args.user:
        process.user.uid, process.user.gid = _ids(args.user)
    process.user.additional_gids += args.additional_gids
    if args.cap:
        _add_capabilities(process, args.cap)
    if args.no_new_privs:
        process.no_new_privileges = True
    process.preserve_fds = args.preserve_fds
    if process.terminal and args.detach and not args.console_socket:
        raise DkrError("dkr exec --detach with a terminal: give --console-socket, "
                       "where dkr sends it")
    return process


def _ids(text: str) -> tuple[int, int]:
    uid, _, gid = text.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        raise DkrError(f"--user {text!r}: give UID or UID:GID, as numbers")
    return int(uid), int(gid or 0)


def _add_capabilities(process: Process, names: list[str]) -> None:
    """--cap: into the bounding, effective and permitted sets, and the
    ambient one where the process has inheritable ones (runc's rule)."""
    from dkr.capabilities import every_name
    from dkr.config import Capabilities

    for name in names:
        if name.upper() not in every_name():
            raise DkrError(f"--cap {name!r}: no such capability (give one such "
                           f"as CAP_NET_ADMIN)")
    sets = process.capabilities or Capabilities()
    for name in (name.upper() for name in names):
        sets.bounding.append(name)
        sets.effective.append(name)
        sets.permitted.append(name)
        if sets.inheritable:
            sets.ambient.append(name)
    process.capabilities = sets
