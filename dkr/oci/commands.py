# chapter: 10
"""The runtime's commands, as runc takes them: what engines call.

    dkr create --bundle DIR [--pid-file F] [--console-socket S] [--preserve-fds N] ID
    dkr start ID          dkr state ID          dkr kill ID [SIGNAL]
    dkr exec [--process F] [--tty] [--detach] [--pid-file F] ID [COMMAND…]
    dkr pause ID          dkr resume ID         dkr delete [--force] ID
    dkr list [--format json] [-q]             dkr ps [--format json] [ID]
    dkr update [--resources F|-] [--memory N …] ID
    dkr spec [--bundle DIR]                     dkr features

and Docker's, on `dkr run`'s containers (dkr.manage):

    dkr ps [-a] [-q]      dkr stop [-t S] C…    dkr rm [-f] C…    dkr logs [-f] C

`run --bundle DIR ID` is create and start in one; the run parser is
`dkr run`'s own (see dkr.cli).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import TYPE_CHECKING

from dkr.errors import DkrError, shorten

if TYPE_CHECKING:  # argparse is loaded only to build parsers (see dkr.oci.quick)
    import argparse

    Parsers = dict[str, argparse.ArgumentParser]
# How long `delete --force` waits for a killed container's process to go.
KILL_WAIT = 10.0
# How Docker's commands (stop, rm, logs) take a container of `dkr run`.
CONTAINER_HELP = "an id, the start of one, or a --name"


def add_commands(commands: argparse._SubParsersAction) -> Parsers:
    """The runtime commands' parsers, added to dkr's."""
    import argparse

    parsers: Parsers = {}

    def command(name: str, handler, summary: str, description: str,
                takes_id: bool = True) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=summary, description=description)
        if takes_id:
            parser.add_argument("id", metavar="ID", help="the container's id")
        parser.set_defaults(handler=handler)
        parsers[name] = parser
        return parser

    create = command("create", create_command, "create a container from a bundle",
                     "Set up the container of the bundle's config.json and leave its "
                     "process waiting for `dkr start ID`, as the OCI runtime spec's "
                     "create does.")
    add_create_options(create)
    command("start", start_command, "start a created container",
            "Let the created container ID run its process.")
    from dkr.oci.enter import add_exec_options, exec_command

    add_exec_options(command(
        "exec", exec_command, "run one more process in a running container",
        "Run COMMAND (or the process of --process FILE) in the running "
        "container ID, in its namespaces and cgroup, as its config.json's "
        "process runs: the same user, capabilities and seccomp, unless the "
        "options change them. Options go before ID; what follows ID is "
        "the command."))
    command("state", state_command, "print a container's state as JSON",
            "Print the OCI state of ID: its status (created, running, stopped), "
            "pid, bundle and annotations.")
    kill = command("kill", kill_command, "send a signal to a container",
                   "Send SIGNAL (a name, such as TERM or SIGKILL, or a number; "
                   "default TERM) to the container's first process.")
    kill.add_argument("signal", nargs="?", default="TERM", metavar="SIGNAL")
    kill.add_argument("-a", "--all", action="store_true",
                      help="send it to every process of the container's cgroup")
    delete = command("delete", delete_command, "delete a container",
                     "Remove what create made for ID: its cgroup and state. A "
                     "container that has not stopped needs --force.")
    delete.add_argument("-f", "--force", action="store_true",
                        help="kill the container first (SIGKILL) if it still runs")
    command("pause", pause_command, "freeze every process of a container",
            "Freeze the processes of ID's cgroup (the freezer: freezer.state on "
            "cgroup v1, cgroup.freeze on v2) until `dkr resume ID`.")
    command("resume", resume_command, "thaw a paused container",
            "Thaw the processes of the paused container ID.")
    from dkr.oci.update import add_update_options, ps_command, update_command

    add_update_options(command(
        "update", update_command, "change a running container's limits",
        "Write new limits to the container's cgroup: linux.resources from "
        "--resources FILE (- for standard input), or one limit per flag."))
    ps = command("ps", ps_command, "a container's processes (with ID), or dkr run's "
                                         "containers",
                 "With ID (runc's ps, which docker top calls): the processes of the "
                 "container's cgroup, as ps(1) shows them, or their host pids as a "
                 "JSON array with --format json. Without ID (Docker's ps): the "
                 "containers, as dkr list.", takes_id=False)
    ps.add_argument("id", metavar="ID", nargs="?", help="the container's id")
    ps.add_argument("ps_options", nargs=argparse.REMAINDER, metavar="PS_OPTIONS",
                    help="options for ps(1) (default -ef)")
    ps.add_argument("-f", "--format", choices=("table", "json"), default="table")
    ps.add_argument("-q", "--quiet", action="store_true",
                    help="without ID: print only the ids")
    ps.add_argument("-a", "--all", action="store_true",
                    help="without ID: the ended containers too")
    stop = command("stop", stop_command, "stop dkr run's containers",
                   "Send SIGTERM to each container's command, then SIGKILL if it "
                   "has not ended within --time seconds, as `docker stop`; each name "
                   "is printed once its container has ended and been cleaned up.",
                   takes_id=False)
    stop.add_argument("-t", "--time", type=float, default=10, metavar="SECONDS",
                      help="how long to wait before SIGKILL (default 10)")
    stop.add_argument("containers", nargs="+", metavar="CONTAINER",
                      help=CONTAINER_HELP)
    rm = command("rm", rm_command, "remove dkr run's ended containers",
                 "Remove each ended container's record and log, as `docker rm` "
                 "(for a container of `dkr create`, see dkr delete).", takes_id=False)
    rm.add_argument("-f", "--force", action="store_true",
                    help="kill a running container first (SIGKILL)")
    rm.add_argument("containers", nargs="+", metavar="CONTAINER",
                    help=CONTAINER_HELP)
    logs = command("logs", logs_command, "print what a detached container wrote",
                   "Print the output (standard output and error, as written) of a "
                   "container that `dkr run -d` started.", takes_id=False)
    logs.add_argument("-f", "--follow", action="store_true",
                      help="go on printing until the container ends")
    logs.add_argument("container", metavar="CONTAINER",
                      help=CONTAINER_HELP)
    listing = command("list", list_command, "list the created containers",
                      "List the containers created under the state root.",
                      takes_id=False)
    listing.add_argument("-f", "--format", choices=("table", "json"), default="table")
    listing.add_argument("-q", "--quiet", action="store_true",
                         help="print only the ids")
    spec = command("spec", spec_command, "write a config.json to start from",
                   "Write a config.json for a bundle whose root file system is "
                   "./rootfs, running sh with a terminal.", takes_id=False)
    spec.add_argument("-b", "--bundle", default=".", metavar="DIR",
                      help="where to write it (default: here)")
    spec.add_argument("--rootless", action="store_true",
                      help="accepted, as runc's; dkr's template is the same")
    command("features", features_command, "print what this runtime supports",
            "Print the OCI features document: the spec versions, hooks, mount "
            "options, namespaces, capabilities and seccomp that dkr supports.",
            takes_id=False)
    return parsers


def add_create_options(parser: argparse.ArgumentParser) -> None:
    """create's options, which `run --bundle` takes too."""
    option = parser.add_argument
    option("-b", "--bundle", metavar="DIR",
           help="the bundle: the directory of config.json (default: here)")
    option("--pid-file", metavar="FILE",
           help="write the container's pid into FILE")
    option("--console-socket", metavar="SOCKET",
           help="with process.terminal: a unix socket to send the terminal's "
                "master end to (SCM_RIGHTS)")
    add_preserve_fds(parser, "the container")
    option("--no-pivot", action="store_true",
           help="accepted, as runc's; dkr always uses pivot_root")
    option("--no-new-keyring", action="store_true",
           help="accepted, as runc's; dkr makes no session keyring")


def add_preserve_fds(parser: argparse.ArgumentParser, whom: str) -> None:
    """--preserve-fds N, for create, `run --bundle` and exec."""
    parser.add_argument("--preserve-fds", type=_count, default=0, metavar="N",
                        help=f"pass the descriptors 3 to 3+N-1 on to {whom}")


def _count(text: str) -> int:
    if not text.isdigit():
        import argparse

        raise argparse.ArgumentTypeError(f"give a number, 0 or more, not {text!r}")
    return int(text)


def need_root(verb: str) -> None:
    if os.geteuid() != 0:
        raise DkrError(f"dkr {verb} needs root: try `sudo python3 -m dkr {verb} …`")


def create_command(args: argparse.Namespace) -> int:
    need_root("create")
    create_container(args, args.id)
    return 0


def create_container(args: argparse.Namespace, container_id: str) -> int:
    """`dkr create`: set the bundle's container up, leave it waiting; its pid."""
    from dkr import state
    from dkr.container import create
    from dkr.errors import CleanUp
    from dkr.linux.signal import kill
    from dkr.oci import bundle, console, record

    record.check_id(container_id)
    spec = bundle.load(args.bundle or ".")
    spec.process.preserve_fds = args.preserve_fds
    if spec.process.terminal and not args.console_socket:
        raise DkrError("config.json asks for a terminal (process.terminal): give "
                       "--console-socket, where dkr sends it")
    with CleanUp() as host:
        container = create(container_id, spec, host, lambda pid: None, detach=True)
        try:
            directory = container.state_directory
            if container.console is not None:
                console.send(args.console_socket, container.console)
            record.Record(
                id=container_id, pid=container.pid,
                process=record.owner_of(container.pid), bundle=spec.bundle,
                created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                annotations=spec.annotations, cgroup=spec.linux.cgroups_path or "",
                poststart=record.hooks_json(spec.hooks.poststart),
                poststop=record.hooks_json(spec.hooks.poststop)).save(directory)
            if args.pid_file:
                write_pid_file(args.pid_file, container.pid)
            state.write_whole(directory / state.OWNER, f"{state.KEPT}\n")
        except BaseException:
            kill(container.pid, signal.SIGKILL)
            raise
        host.pop_all()  # all it made stays, for start, and delete
    return container.pid


def write_pid_file(path: str, pid: int) -> None:
    """The pid, written whole (as runc: no newline), where the engine reads it."""
    from pathlib import Path

    from dkr.state import write_whole

    write_whole(Path(os.path.abspath(path)), str(pid), mode=0o644)


def run_bundle(args: argparse.Namespace) -> int:
    """`dkr run --bundle DIR ID`, as `runc run`: create and start; without
    --detach, wait for the container and delete it, its command's status."""
    from dkr.run import command_words

    command = command_words(args)
    if len(command) != 1:
        raise DkrError("dkr run --bundle DIR takes one word after its options: "
                       "the container's id")
    container_id = command[0]
    if args.detach:
        create_container(args, container_id)
        start_container(container_id)
        return 0
    from dkr.container import run
    from dkr.oci import bundle, record

    spec = bundle.load(args.bundle)
    spec.process.preserve_fds = args.preserve_fds
    return run(record.check_id(container_id), spec)


def start_command(args: argparse.Namespace) -> int:
    need_root("start")
    start_container(args.id)
    return 0


def start_container(container_id: str) -> None:
    """Let the created container go, then run the poststart hooks."""
    from dkr.oci import lifecycle, record

    with record.opened(container_id) as (directory, container):
        status = container.status(directory)
        if status != "created":
            raise DkrError(f"cannot start container {container_id}: it is {status}")
        lifecycle.start(directory, container.pid)
        if not container.poststart:  # most containers: no hooks module to load
            return
        from dkr.oci import hooks

        # The state as start left it: a short command may have ended already,
        # and the hook is told of the process it follows (as crun tells it).
        started = {**container.oci_state(directory), "status": "running",
                   "pid": container.pid}
        hooks.run(record.hooks_of(container.poststart), json.dumps(started),
                  "poststart", warn_only=True)


def state_command(args: argparse.Namespace) -> int:
    from dkr.oci import record

    with record.opened(args.id) as (directory, container):
        print(json.dumps(container.oci_state(directory), indent=2))
    return 0


def parse_signal(text: str) -> signal.Signals:
    """TERM, SIGTERM, sigterm or 15."""
    try:
        if text.isdigit():
            return signal.Signals(int(text))
        name = text.upper()
        return signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]
    except (KeyError, ValueError):
        raise DkrError(f"unknown signal {shorten(text)!r}: give a name such as TERM "
                       f"or KILL, or a number") from None


def kill_command(args: argparse.Namespace) -> int:
    need_root("kill")
    from dkr.linux.signal import kill_if_there
    from dkr.oci import record

    sig = parse_signal(args.signal)
    with record.opened(args.id) as (_, container):
        if container.stopped():  # created, running or paused: it takes signals
            raise DkrError(f"container {args.id} is not running")
        if args.all and container.cgroup:
            from dkr.cgroups import open_cgroup

            for pid in open_cgroup(container.cgroup).pids():
                kill_if_there(pid, sig)
        else:
            kill_if_there(container.pid, sig)
    return 0


def pause_command(args: argparse.Namespace) -> int:
    return _freeze(args.id, True)


def resume_command(args: argparse.Namespace) -> int:
    return _freeze(args.id, False)


def _freeze(container_id: str, frozen: bool) -> int:
    need_root("pause" if frozen else "resume")
    from dkr.cgroups import open_cgroup
    from dkr.oci import record

    with record.opened(container_id) as (directory, container):
        status = container.status(directory)
        wanted = "running" if frozen else "paused"
        if status != wanted:
            raise DkrError(f"cannot {'pause' if frozen else 'resume'} container "
                           f"{container_id}: it is {status}")
        open_cgroup(container.cgroup).freeze(frozen)
    return 0


def delete_command(args: argparse.Namespace) -> int:
    need_root("delete")
    from dkr import state
    from dkr.linux.signal import kill_if_there
    from dkr.oci import record

    directory = record.directory_of(args.id)
    if not directory.is_dir():
        raise DkrError(f"container {args.id} does not exist")
    with state.locked(directory):
        container = record.load(directory)
        status = container.status(directory)
        if status != "stopped":
            if not args.force:
                raise DkrError(f"cannot delete container {args.id}: it is {status} "
                               f"(stop it first, or give --force)")
            kill_if_there(container.pid, signal.SIGKILL)
            if status == "paused":  # a frozen process dies only once thawed
                from dkr.cgroups import open_cgroup

                open_cgroup(container.cgroup).freeze(False)
            _wait_gone(container.pid)
        if container.poststop:
            from dkr.oci import hooks

            stopped = {**container.oci_state(directory), "status": "stopped"}
            hooks.run(record.hooks_of(container.poststop), json.dumps(stopped),
                      "poststop", warn_only=True)
        state.take_back(directory)
    return 0


def _wait_gone(pid: int) -> None:
    """Wait until the process `pid` has exited (it is not dkr's child)."""
    from dkr.linux.wait import ended_within

    if not ended_within(pid, KILL_WAIT):
        raise DkrError(f"the container's process {pid} did not end within "
                       f"{KILL_WAIT:g} s of SIGKILL")


def list_command(args: argparse.Namespace) -> int:
    from dkr.oci import record

    states = [container.oci_state(directory)
              for directory, container in record.all_records()]
    if args.quiet:
        print("".join(f"{item['id']}\n" for item in states), end="")
    elif args.format == "json":
        print(json.dumps(states))
    else:
        from dkr.listing import print_table

        print_table([("ID", "PID", "STATUS", "BUNDLE", "CREATED")]
                    + [(item["id"], str(item["pid"]), item["status"], item["bundle"],
                        item["created"]) for item in states])
    return 0


def stop_command(args: argparse.Namespace) -> int:
    need_root("stop")
    from dkr.manage import stop

    return stop(args)


def rm_command(args: argparse.Namespace) -> int:
    need_root("rm")
    from dkr.manage import rm

    return rm(args)


def logs_command(args: argparse.Namespace) -> int:
    need_root("logs")
    from dkr.manage import logs

    return logs(args)


def spec_command(args: argparse.Namespace) -> int:
    from dkr.oci.template import config_template

    path = os.path.join(args.bundle, "config.json")
    if os.path.exists(path):
        raise DkrError(f"{shorten(path)} exists already: remove it first")
    with open(path, "x", encoding="utf-8") as file:
        json.dump(config_template(), file, indent=2)
        file.write("\n")
    return 0


def features_command(args: argparse.Namespace) -> int:
    from dkr.oci.template import features

    json.dump(features(), sys.stdout, indent=2)
    print()
    return 0
