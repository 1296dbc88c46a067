# chapter: 10
"""Chapter 10's part of the bad-input corpus: the runtime commands given
what they cannot use. (The promises every case checks are in conftest's
`Case`.)"""

from __future__ import annotations

import pytest

from conftest import Case

COUNT = r"argument --preserve-fds: give a number, 0 or more, not '{}' \(see .*\)"
CASES = [
    Case(["create", "--preserve-fds", "-1", "c"], 125, r"dkr create: " + COUNT.format("-1")),
    Case(["run", "--bundle", ".", "--preserve-fds", "x", "c"], 125,
         r"dkr run: " + COUNT.format("x")),
    Case(["exec", "--preserve-fds", "-3", "c", "true"], 125, r"dkr exec: " + COUNT.format("-3")),
    Case(["exec", "no-such-container"], 125,
         r"dkr: dkr exec: give the command to run after the id \(or --process FILE\)"),
    Case(["exec", "--process", "/p.json", "no-such-container", "true"], 125,
         r"dkr: dkr exec: give the command or --process FILE, not both"),
    Case(["exec", "no-such-container", "true"], 125,
         r"dkr: container no-such-container does not exist"),
    Case(["exec", "-g", "staff", "c", "true"], 125,
         r"dkr exec: argument -g/--additional-gids: invalid int value: 'staff' \(see .*\)"),
    Case(["update", "no-such-container"], 125,
         r"dkr: dkr update: give --resources FILE \(or -\) or a limit such as --memory BYTES"),
    Case(["update", "--memory", "lots", "c"], 125,
         r"dkr update: argument --memory: invalid int value: 'lots' \(see .*\)"),
    Case(["update", "--resources", "/nonexistent.json", "c"], 125,
         r"dkr: cannot read /nonexistent\.json: No such file or directory"),
    Case(["update", "--resources", "/etc/passwd", "c"], 125,
         r"dkr: /etc/passwd is not JSON: .*"),
    Case(["update", "--memory", "64", "no-such-container"], 125,
         r"dkr: container no-such-container does not exist"),
    Case(["ps", "no-such-container"], 125, r"dkr: container no-such-container does not exist"),
    Case(["ps", "--format", "yaml"], 125,
         r"dkr ps: argument -f/--format: invalid choice: 'yaml' .*"),
    Case(["stop"], 125, r"dkr stop: the following arguments are required: CONTAINER .*"),
    Case(["stop", "-t", "soon", "c"], 125,
         r"dkr stop: argument -t/--time: invalid float value: 'soon' \(see .*\)"),
    Case(["rm", "no-such-container"], 1, r"dkr: no such container: no-such-container"),
    Case(["logs", "no-such-container"], 1, r"dkr: no such container: no-such-container"),
    Case(["run", "--name", "bad/name", "true"], 125,
         r"dkr: bad container name 'bad/name': use letters, digits and _ \. - .*"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)
