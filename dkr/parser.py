# chapter: 1
"""dkr's parser of its command line: argparse, with dkr's manners.

Built for one command at a time (from chapter 10 on, only the parser of
the command about to run), and imported only when a command line is to
be read: argparse, and the modules it loads, are most of what a short
dkr command would otherwise spend on starting.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from dkr import __version__
from dkr import OCI_VERSION  # chapter: 10
from dkr.cli import run_command
from dkr.errors import DKR, EXIT_DKR_FAILED, report


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
    run.set_defaults(handler=run_command)
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
