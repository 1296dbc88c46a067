# chapter: 1
"""The command line: parse, then import only what the command needs.

Start-up time matters (chapter 10's dkr races runc), so this module imports
almost nothing; each command's module is loaded when that command runs.
"""

from __future__ import annotations

import argparse
import errno
import os
from typing import NoReturn

from dkr import __version__
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


def build_parser() -> tuple[Parser, dict[str, Parser]]:
    """The parser of dkr's command line, and each command's own parser."""
    parser = Parser(prog="dkr", description="A container runtime, built one kernel "
                                            "feature at a time.")
    parser.add_argument("--trace", action="store_true",
                        help="print every kernel call dkr makes, as it makes it")
    parser.add_argument("--version", action="version", version=f"dkr {__version__}")
    commands = parser.add_subparsers(dest="verb", metavar="COMMAND",
                                     parser_class=Parser)
    commands.required = True
    run = commands.add_parser(
        "run", help="run a command in a new container",
        description="Run COMMAND in a new container and wait for it.")
    from dkr.run import add_arguments

    add_arguments(run)
    run.set_defaults(handler=_run)
    # chapter: 1-8 {
    # return parser, {"run": run}
    # }
    # chapter: 9 {
    from dkr.image.commands import add_commands

    return parser, {"run": run, **add_commands(commands)}
    # }


def _run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise DkrError(f"dkr run needs root: try `sudo {DKR} run …`")
    from dkr.container import run
    from dkr.run import new_id, spec_from_args

    container_id = new_id()
    # chapter: 1-3 {
    # return run(spec_from_args(args, container_id))
    # }
    return run(container_id, spec_from_args(args, container_id))  # chapter: 4


def main(argv: list[str] | None = None) -> int:
    open_missing_stdio()
    parser, commands = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # options of a command that the command does not have
        commands[args.verb].error(f"unknown option {unknown[0]}")
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
        return error.exit_code
    except OSError as error:
        hint = " (dkr needs root's capabilities: run it as root)"
        report(describe(error) + (hint if error.errno == errno.EPERM else ""))
        return EXIT_DKR_FAILED
    except KeyboardInterrupt:  # Ctrl-C before the container started: nothing to say
        return EXIT_INTERRUPTED


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
