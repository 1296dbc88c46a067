# chapter: 1
"""The command line: parse, then import only what the command needs.

Start-up time matters (chapter 10's dkr races runc), so this module imports
almost nothing; each command's module is loaded when that command runs.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import NoReturn

from dkr import __version__
from dkr import OCI_VERSION  # chapter: 10
from dkr.errors import DKR, EXIT_DKR_FAILED, DkrError, describe, report

# The status of a dkr interrupted (Ctrl-C) before its container started: 128 + SIGINT.
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """argparse, with dkr's manners: a usage error is one line with a hint
    and exits 125 like every other dkr failure, and an option is never
    taken for another that it abbreviates (`--host` is not `--hostname`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        command = self.prog.removeprefix("dkr").strip()
        help_command = " ".join(filter(None, (DKR, command, "--help")))
        report(f"{message} (see `{help_command}`)", who=self.prog)
        raise SystemExit(EXIT_DKR_FAILED)


def build_parser(verb: str | None = None) -> tuple[Parser, dict[str, Parser]]:
    """The parser of dkr's command line, and each command's own parser.

    Given the `verb` about to run, `dkr run`'s many options (and the modules
    that make them) are added only if it is `run`: a runtime command that an
    engine calls many times a second pays for none of them."""
    parser = Parser(prog="dkr", description="A container runtime, built one kernel "
                                            "feature at a time.")
    parser.add_argument("--trace", action="store_true",
                        help="print every kernel call dkr makes, as it makes it")
    # chapter: 1-9 {
    # parser.add_argument("--version", action="version", version=f"dkr {__version__}")
    # }
    # chapter: 10 {
    parser.add_argument("--version", action=PrintVersion, nargs=0,
                        help="show dkr's version and the runtime spec's, and exit")
    add_runtime_flags(parser)
    parser.epilog = ("Two readings share two names. `run --bundle DIR ID` and `ps ID` "
                     "are runc's, as engines call them; `run IMAGE|COMMAND` and `ps` "
                     "without an ID are Docker's, as are stop, rm and logs, on dkr "
                     "run's containers (create to features: runc's).")
    # }
    # chapter: 1-9 {
    # commands = parser.add_subparsers(dest="verb", metavar="COMMAND",
    #                                  parser_class=Parser)
    # }
    # chapter: 10 {
    commands = parser.add_subparsers(dest="verb", metavar="COMMAND",
                                     parser_class=Parser, action=OnlyTheVerb, verb=verb)
    # }
    commands.required = True
    run = commands.add_parser(
        "run", help="run a command in a new container",
        # chapter: 1-9 {
        # description="Run COMMAND in a new container and wait for it.")
        # }
        # chapter: 10 {
        description="Run COMMAND in a new container and wait for it, as "
                    "`docker run` does. With --bundle DIR, the one word after the "
                    "options is a container id: run the bundle's container, as "
                    "`runc run` does.")
        # }
    if verb in (None, "run"):
        from dkr.run import add_arguments

        add_arguments(run)
    run.set_defaults(handler=_run)
    # chapter: 1-8 {
    # return parser, {"run": run}
    # }
    # chapter: 9-9 {
    # from dkr.image.commands import add_commands
    #
    # return parser, {"run": run, **add_commands(commands)}
    # }
    # chapter: 10 {
    from dkr.image.commands import add_commands
    from dkr.oci.commands import add_commands as add_runtime_commands

    return parser, {"run": run, **add_commands(commands),
                    **add_runtime_commands(commands)}
    # }


# chapter: 10 {
class PrintVersion(argparse.Action):
    """--version as runc prints it: lines that engines read (argparse's own
    action would join them into one)."""

    def __call__(self, parser, namespace, values, option_string=None) -> NoReturn:
        print(f"dkr version {__version__}\nspec: {OCI_VERSION}")
        raise SystemExit(0)


class OnlyTheVerb(argparse._SubParsersAction):
    """The commands, of which only the one about to run gets a parser.

    An engine calls `dkr start`, `state` and `delete` many times a second,
    and each would otherwise build twenty parsers (and look up a translation
    of all their help) to use one. Given the verb, every other command is
    still a choice, with a stand-in that drops what is added to it; `dkr
    --help`, with no verb, builds them all."""

    def __init__(self, *args, verb: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.verb = verb

    def add_parser(self, name: str, **kwargs):
        if self.verb in (None, name):
            return super().add_parser(name, **kwargs)
        self._name_parser_map[name] = UNBUILT  # the choices argparse checks
        return UNBUILT


class Unbuilt:
    """The parser of a command that is not about to run."""

    def add_argument(self, *args, **kwargs) -> None:
        pass

    def set_defaults(self, **kwargs) -> None:
        pass


UNBUILT = Unbuilt()


def add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    """runc's global flags, which engines put before every command."""
    flag = parser.add_argument
    flag("--root", metavar="DIR",
         help="where containers' state directories are (default: /run/dkr/containers, "
              "or $DKR_STATE)")
    flag("--log", metavar="FILE", help="also write errors to FILE")
    flag("--log-format", choices=("text", "json"), default="text",
         help="how --log writes them: text, or json lines as runc's")
    flag("--debug", action="store_true", help="accepted, as runc's")
    flag("--systemd-cgroup", action="store_true",
         help="accepted, as runc's: dkr drives cgroups through their file "
              "system, and reads a systemd cgroupsPath (slice:prefix:name) as a path")


# }
def _run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise DkrError(f"dkr run needs root: try `sudo {DKR} run …`")
    # chapter: 10 {
    if args.bundle is not None:
        from dkr.oci.commands import run_bundle

        return run_bundle(args)
    from dkr.manage import run as run_and_keep

    return run_and_keep(args)
    # }
    # chapter: 1-9 {
    # from dkr.container import run
    # from dkr.run import new_id, spec_from_args
    #
    # container_id = new_id()
    # }
    # chapter: 1-3 {
    # return run(spec_from_args(args, container_id))
    # }
    # chapter: 4-9 {
    # return run(container_id, spec_from_args(args, container_id))
    # }


def main(argv: list[str] | None = None) -> int:
    open_missing_stdio()
    verb = find_verb(sys.argv[1:] if argv is None else argv)
    parser, commands = build_parser(verb)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # options of a command that the command does not have
        commands[args.verb].error(f"unknown option {unknown[0]}")
    # chapter: 10 {
    if args.root:
        from pathlib import Path

        from dkr import state

        state.ROOT = Path(os.path.abspath(args.root))
    # }
    kill_after = os.environ.get("DKR_KILL_AFTER")
    if args.trace or kill_after:
        from dkr.linux import syscall

        if args.trace:
            syscall.add_tracer(syscall.PrintTracer(os.dup(2)))
        if kill_after and (switch := syscall.KillSwitch.parse(kill_after)):
            syscall.add_tracer(switch)
    try:
        return args.handler(args)
    except DkrError as error:
        report(str(error))
        log_error(args, str(error))  # chapter: 10
        return error.exit_code
    except OSError as error:
        hint = " (dkr needs root's capabilities: run it as root)"
        report(describe(error) + (hint if error.errno == errno.EPERM else ""))
        log_error(args, describe(error))  # chapter: 10
        return EXIT_DKR_FAILED
    except KeyboardInterrupt:  # Ctrl-C before the container started: nothing to say
        return EXIT_INTERRUPTED


# chapter: 10 {
def log_error(args: argparse.Namespace, message: str) -> None:
    """The error, also in --log's file: runc's JSON line, which Podman and
    containerd read to say why the runtime failed, or a text line."""
    if not args.log:
        return
    import json
    import time

    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if args.log_format == "json":
        line = json.dumps({"level": "error", "msg": message, "time": when})
    else:
        line = f"time={json.dumps(when)} level=error msg={json.dumps(message)}"
    try:
        with open(args.log, "a", encoding="utf-8") as file:
            file.write(line + "\n")
    except OSError as error:
        report(f"cannot write to the log {args.log}: {error.strerror}")


# }
# Global flags that take a value: the word after them is not the command.
VALUED_FLAGS: tuple[str, ...] = ()
VALUED_FLAGS += ("--root", "--log", "--log-format")  # chapter: 10


def find_verb(argv: list[str]) -> str | None:
    """The command word of `argv` (None if there is none, or --help comes
    first): the first word that is neither a global flag nor its value."""
    words = iter(argv)
    for word in words:
        if word in ("-h", "--help"):
            return None
        if word in VALUED_FLAGS:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def open_missing_stdio() -> None:
    """Give dkr /dev/null for any of standard input, output and error that
    its caller closed. Otherwise the next file dkr opens would take that
    number and be taken for it (and the container would write into it)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            from dkr.linux.unistd import OFlag, open_fd, set_inheritable

            # The lowest free number is fd: the ones below it are open. Like
            # the stdio it stands in for, it stays open across exec.
            set_inheritable(open_fd("/dev/null", OFlag.O_RDWR))
