# chapter: 1
"""The command line: parse, then import only what the command needs.

Start-up time matters (chapter 10's dkr races runc), so this module imports
almost nothing; the parsers (dkr.parser, with argparse) and each command's
module are loaded when that command runs.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import TYPE_CHECKING

from dkr.errors import DKR, EXIT_DKR_FAILED, DkrError, describe, report

if TYPE_CHECKING:
    import argparse

# The status of a dkr interrupted (Ctrl-C) before its container started: 128 + SIGINT.
EXIT_INTERRUPTED = 130


def run_command(args: argparse.Namespace) -> int:
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
    # chapter: 1-9 {
    # args = parse(argv)
    # }
    # chapter: 10 {
    from dkr.oci import quick  # the calls engines make most, without argparse

    args = quick.read(sys.argv[1:] if argv is None else argv) or parse(argv)
    # }
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


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, read by dkr.parser's parser of the command it names."""
    from dkr.parser import build_parser

    verb = find_verb(sys.argv[1:] if argv is None else argv)
    parser, commands = build_parser(verb)
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # options of a command that the command does not have
        commands[args.verb].error(f"unknown option {unknown[0]}")
    return args


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
