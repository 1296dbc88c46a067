# chapter: 10
"""Chapter 10: the engines' most frequent calls, read without argparse
(dkr.oci.quick), read exactly as the parser reads them."""

from __future__ import annotations

import pytest

from dkr.cli import parse
from dkr.oci import quick

DOCKER = ["--root", "/run/docker/runtime-runc/moby", "--log", "/b/log.json",
          "--log-format", "json"]
# The calls engines make, as engine-invocations.md records them.
ENGINES_CALLS = [
    ["--log-format=json", "--log", "/u/oci-log", "create", "--bundle", "/b",
     "--pid-file", "/u/pidfile", "--console-socket", "/tmp/conmon-term.1", "--preserve-fds",
     "2", "abc"],
    ["start", "abc"], ["kill", "abc", "15"], ["kill", "abc", "9"],
    ["delete", "--force", "abc"], ["state", "abc"],
    [*DOCKER, "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "--no-pivot", "abc"],
    [*DOCKER, "start", "abc"], [*DOCKER, "kill", "abc", "15"], [*DOCKER, "delete", "abc"],
    [*DOCKER, "delete", "--force", "abc"], [*DOCKER, "state", "abc"],
    ["--systemd-cgroup", "--debug", "kill", "--all", "abc", "KILL"],
    ["--root=/r", "create", "-b", "/b", "--no-new-keyring", "abc"], ["kill", "abc"],
]
# Command lines that the parser must read: help, mistakes, other commands.
FOR_THE_PARSER = [
    [], ["--help"], ["state"], ["state", "a", "b"], ["state", "--help", "a"],
    ["start", "-h"], ["kill", "a", "TERM", "extra"], ["kill", "-s", "TERM", "a"],
    ["delete", "--forc", "a"], ["--root"], ["--log-format", "xml", "state", "a"],
    ["--root", "/r", "--version"], ["create", "--preserve-fds", "two", "a"],
    ["create", "--bundle"], ["create", "a", "--", "b"], ["exec", "a", "true"],
    ["run", "--bundle", "b", "a"], ["ps", "a"], ["list"], ["--trace", "pause", "a"],
    ["state", "--root", "/r", "a"],
]


@pytest.mark.parametrize("argv", ENGINES_CALLS, ids=" ".join)
def test_an_engines_call_is_read_as_the_parser_reads_it(argv):
    quickly = quick.read(argv)
    assert quickly is not None, "the engines' calls take the quick way"
    assert vars(quickly) == vars(parse(argv))


@pytest.mark.parametrize("argv", FOR_THE_PARSER, ids=" ".join)
def test_anything_else_is_left_to_the_parser(argv):
    assert quick.read(argv) is None
