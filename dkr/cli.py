# chapter: 1
"""The command line: parse, then import only what the command needs.

Start-up time matters (chapter 10's dkr races runc), so this module imports
almost nothing; each command's module is loaded when that command runs.
"""

from __future__ import annotations

import argparse
import os
import sys

from dkr import __version__
from dkr.errors import EXIT_DKR_FAILED, DkrError, describe


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits 125 like every other dkr failure."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_DKR_FAILED, f"{self.prog}: {message}\n")


def build_parser() -> Parser:
    parser = Parser(prog="dkr", description="A container runtime, built one kernel feature at a time.")
    parser.add_argument("--trace", action="store_true",
                        help="print every kernel call dkr makes, as it makes it")
    parser.add_argument("--version", action="version", version=f"dkr {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    run = commands.add_parser("run", help="run a command in a new container",
                              description="Run COMMAND in a new container and wait for it.")
    from dkr.run import add_arguments

    add_arguments(run)
    run.set_defaults(handler=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise DkrError("dkr run needs root: try `sudo python3 -m dkr run …`")
    from dkr.container import run
    from dkr.run import spec_from_args

    return run(spec_from_args(args))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.trace:
        from dkr.linux import syscall

        syscall.set_tracer(syscall.PrintTracer(os.dup(2)))
    try:
        return args.handler(args)
    except DkrError as error:
        print(f"dkr: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        print(f"dkr: {describe(error)}", file=sys.stderr)
        return EXIT_DKR_FAILED
