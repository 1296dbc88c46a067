# chapter: 10
"""The calls engines make most, read without argparse.

conmon and containerd's shim call `create`, `start`, `state`, `kill` and
`delete` once or more for every container, each a new dkr, and argparse
with what it loads (gettext, shutil, locale) is a sixth of such a call.
Their grammar is small: runc's global flags, the command, its options,
the id (and kill's signal). `read` reads that grammar and nothing else,
into what dkr.parser's parser would give; for anything else (`--help`, a
mistake, another command) it gives None, and argparse reads the command
line, with its help and its errors. The tests hold the two readings
equal, word list by word list.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

# runc's global flags that take a value, and those that do not (with --trace).
VALUED = {"--root": "root", "--log": "log", "--log-format": "log_format"}
SWITCHES = {"--debug": "debug", "--systemd-cgroup": "systemd_cgroup",
            "--trace": "trace"}
LOG_FORMATS = ("text", "json")
# Each command read here: its switches, its options that take a value, and
# its words after them.
CREATE_OPTIONS = {"-b": "bundle", "--bundle": "bundle", "--pid-file": "pid_file",
                  "--console-socket": "console_socket",
                  "--preserve-fds": "preserve_fds"}
COMMANDS: dict[str, tuple[dict[str, str], dict[str, str], tuple[str, ...]]] = {
    "create": ({"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring"},
               CREATE_OPTIONS, ("id",)),
    "state": ({}, {}, ("id",)),
    "start": ({}, {}, ("id",)),
    "kill": ({"-a": "all", "--all": "all"}, {}, ("id", "signal")),
    "delete": ({"-f": "force", "--force": "force"}, {}, ("id",)),
}
KILL_DEFAULT = "TERM"


def read(argv: list[str]) -> SimpleNamespace | None:
    """`argv` as the parser would read it, if it is one of COMMANDS in
    their plain form; None otherwise."""
    values: dict[str, object] = {"root": None, "log": None, "log_format": "text",
                                 "version": None,
                                 **{name: False for name in SWITCHES.values()}}
    words = iter(argv)
    try:
        verb = _options(words, SWITCHES, VALUED, values)
        if verb not in COMMANDS or values["log_format"] not in LOG_FORMATS:
            return None
        switches, options, names = COMMANDS[verb]
        values.update({name: False for name in switches.values()})
        values.update({name: None for name in options.values()})
        given = []
        while (word := _options(words, switches, options, values)) is not None:
            if word.startswith("-"):  # --help, another option, or "--": argparse's
                return None
            given.append(word)
    except NotPlain:
        return None
    if verb == "kill" and len(given) == 1:
        given.append(KILL_DEFAULT)
    if len(given) != len(names):
        return None
    if "preserve_fds" in values:  # create's: a number, as the parser makes it
        count = str(values["preserve_fds"] or "0")
        if not count.isdigit():
            return None  # the parser says what is wrong with it
        values["preserve_fds"] = int(count)
    from dkr.oci import commands

    values.update(zip(names, given))
    return SimpleNamespace(**values, verb=verb,
                           handler=getattr(commands, f"{verb}_command"))


class NotPlain(Exception):
    """A command line outside the grammar read here."""


def _options(words: Iterator[str], switches: dict[str, str], valued: dict[str, str],
             values: dict[str, object]) -> str | None:
    """Read switches and valued options (`--log F` or `--log=F`) off `words`
    into `values`; the first other word (None when there is none)."""
    for word in words:
        option, equals, value = word.partition("=")
        if word in switches:
            values[switches[word]] = True
        elif option in valued:
            given = value if equals else next(words, None)
            if given is None:
                raise NotPlain(option)
            values[valued[option]] = given
        else:
            return word
    return None
