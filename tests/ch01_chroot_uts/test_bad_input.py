# chapter: 1
"""Chapter 1's part of the bad-input corpus: dkr's command line, `dkr run`'s
first options, odd commands, and dkr started with its stdio closed or odd.
(The promises every case checks are in conftest's `Case`.)"""

from __future__ import annotations

import re

import pytest

from conftest import NOT_IN_PATH, Case

HELP = r" \(see `python3 -m dkr run --help`\)"
TOP_HELP = r" \(see `python3 -m dkr --help`\)"
NOT_FOUND = r"dkr: exec {}: " + re.escape(NOT_IN_PATH)
NOT_UTF8 = "\udcff\udcfe"  # the bytes ff fe, as Python hands them over from argv
LONG = "x" * 120_000

CASES = [
    # dkr's own command line
    Case([], 125, r"dkr: the following arguments are required: COMMAND" + TOP_HELP),
    Case(["bogus"], 125, r"dkr: argument COMMAND: invalid choice: 'bogus' "
                         r"\(choose from '?run'?(, '?[a-z]+'?)*\)" + TOP_HELP),
    Case(["--bogus", "run", "true"], 125, r"dkr run: unknown option --bogus" + HELP),
    Case(["--tra", "run", "true"], 125, r"dkr run: unknown option --tra" + HELP),
    # chapter: 1-9 {
    # Case(["--version"], 0, out="dkr 0.3.0\n"),
    # }
    Case(["--version"], 0, out="dkr version 0.3.0\nspec: 1.0.2\n"),  # chapter: 10
    Case(["--help"], 0),
    Case(["run", "--help"], 0),
    Case(["run", "-h"], 0),
    Case(["--trace"], 125, r"dkr: the following arguments are required: COMMAND" + TOP_HELP),
    Case(["run", "--trace", "true"], 125, r"dkr run: unknown option --trace" + HELP),
    # the command
    Case(["run"], 125, r"dkr: no command given: try `python3 -m dkr run /bin/sh`"),
    Case(["run", "--"], 125, r"dkr: no command given: try `python3 -m dkr run /bin/sh`"),
    Case(["run", "--", "true"], 0),
    Case(["run", "--", "sh", "-c", "exit 3"], 3),
    Case(["run", "--hostname", "h", "--", "sh", "-c", "exit 3"], 3),
    Case(["run", "sh", "-c", "echo $1", "sh", "--", "-x"], 0, out="--\n"),  # a later -- is the command's
    Case(["run", "true", "--bogus"], 0),
    Case(["run", ""], 127, NOT_FOUND.format('""')),
    Case(["run", "no-such-command"], 127, NOT_FOUND.format("no-such-command")),
    Case(["run", "alpine", "sh"], 127, NOT_FOUND.format("alpine")),
    Case(["run", "/no/such/file"], 127, r"dkr: exec /no/such/file: no such file or directory"),
    Case(["run", "/etc/passwd/x"], 127, r"dkr: exec /etc/passwd/x: no such file or directory"),
    Case(["run", "/etc/passwd"], 126, r"dkr: exec /etc/passwd: permission denied"),
    Case(["run", "/etc"], 126, r"dkr: exec /etc: permission denied"),
    Case(["run", "/"], 126, r"dkr: exec /: permission denied"),
    Case(["run", LONG], 127, NOT_FOUND.format("x{197}\\.\\.\\.")),
    Case(["run", "/" + LONG], 127, r"dkr: exec /x{196}\.\.\.: no such file or directory"),
    Case(["run", NOT_UTF8], 127, NOT_FOUND.format(NOT_UTF8)),
    Case(["run", "/bin/" + NOT_UTF8], 127, r"dkr: exec /bin/\udcff\udcfe: no such file or directory"),
    Case(["run", "a\nb"], 127, NOT_FOUND.format(r"a\\nb")),
    Case(["run", "sh", "-c", "echo " + "y" * 100_000 + " | wc -c"], 0, out="100001\n"),
    Case(["run", "sh", "-c", 'echo "$1"', "sh", NOT_UTF8], 0, out=NOT_UTF8 + "\n"),
    Case(["run", "sh", "-c", "exit 255"], 255),
    Case(["run", "sh", "-c", "sh -c 'kill -KILL $$'; exit $?"], 137, "Killed"),
    # --rootfs
    Case(["run", "--rootfs"], 125, r"dkr run: argument --rootfs: expected one argument" + HELP),
    Case(["run", "--rootfs", "/no/such/dir", "true"], 125, r"dkr: no such rootfs: /no/such/dir"),
    Case(["run", "--rootfs", "", "true"], 125, r"dkr: no such rootfs: "),
    Case(["run", "--rootfs", NOT_UTF8, "true"], 125, "dkr: no such rootfs: " + NOT_UTF8),
    Case(["run", "--rootfs", "/etc/passwd", "true"], 125,
         r"dkr: not a directory: /etc/passwd \(--rootfs takes a root file system's directory\)"),
    Case(["run", "--rootfs", "/" + LONG, "true"], 125, r"dkr: no such rootfs: /x{196}\.\.\."),
    Case(["run", "--root", "/tmp", "true"], 125, r"dkr run: unknown option --root" + HELP),
    # --hostname
    Case(["run", "--hostname"], 125, r"dkr run: argument --hostname: expected one argument" + HELP),
    Case(["run", "--hostname", "", "true"], 0),
    Case(["run", "--hostname", "box.example-1_a", "hostname"], 0, out="box.example-1_a\n"),
    Case(["run", "--hostname", "a" * 64, "hostname"], 0, out="a" * 64 + "\n"),
    *[Case(["run", "--hostname", name, "true"], 125,
           r"dkr: bad hostname '.*': use at most 64 letters, digits, '\.', '-' and '_', "
           r"starting with a letter or digit")
      for name in ("a" * 65, "\udcff", "a b", "a/b", "_a", ".a", "a\nb", "ä", "a:b", "a\tb")],
    Case(["run", "--hostname", "-x", "true"], 125, r"dkr run: argument --hostname: expected one argument" + HELP),
    Case(["run", "--hostn", "box", "true"], 125, r"dkr run: unknown option --hostn" + HELP),
    # -e
    Case(["run", "-e"], 125, r"dkr run: argument -e/--env: expected one argument" + HELP),
    *[Case(["run", "-e", item, "true"], 125,
           r"dkr: bad environment variable '.*': give -e KEY=VALUE or -e KEY") for item in ("", "=x", "=")],
    Case(["run", "-e", "DKR_TEST_UNSET", "sh", "-c", "echo ${DKR_TEST_UNSET-unset}"], 0, out="unset\n"),
    Case(["run", "-e", "A=" + NOT_UTF8, "sh", "-c", 'echo "$A"'], 0, out=NOT_UTF8 + "\n"),
    Case(["run", "-e", "A=b=c", "-e", "B=", "sh", "-c", 'echo "$A,$B"'], 0, out="b=c,\n"),
    Case(["run", "-e", "A B=c", "env"], 0),
    # -w
    Case(["run", "-w"], 125, r"dkr run: argument -w/--workdir: expected one argument" + HELP),
    *[Case(["run", "-w", workdir, "true"], 125,
           r"dkr: bad working directory '.*': give an absolute path, such as -w /tmp")
      for workdir in ("", "tmp", "./tmp", NOT_UTF8)],
    Case(["run", "-w", "/no/such", "true"], 125,
         r"dkr: container set-up: chdir: No such file or directory: /no/such"),
    Case(["run", "-w", "/" + NOT_UTF8, "true"], 125,
         "dkr: container set-up: chdir: No such file or directory: /" + NOT_UTF8),
    Case(["run", "-w", "/etc/passwd", "true"], 125,
         r"dkr: container set-up: chdir: Not a directory: /etc/passwd"),
    Case(["run", "-w", "/" + LONG, "true"], 125,
         r"dkr: container set-up: chdir: File name too long: /x{196}\.\.\."),
    Case(["run", "-w", "/tmp/../etc", "pwd"], 0, out="/etc\n"),
    # --rm, accepted as in Docker
    Case(["run", "--rm", "true"], 0),
    Case(["run", "--rm=yes", "true"], 125, r"dkr run: argument --rm: ignored explicit argument 'yes'" + HELP),
    # dkr's stdio and signals, as its caller left them
    *[Case(["run", "sh", "-c", "echo out; exit 4"], 4, start=start)
      for start in ("stdin closed", "stderr closed", "stdio closed", "SIGCHLD ignored",
                    "SIGHUP, SIGPIPE ignored", "stdin a directory")],
    Case(["run", "sh", "-c", "echo out; exit 4"], 4, start="stdout closed"),
    Case(["run", "cat"], 0, start="stdin closed", out=""),
    Case(["run", "cat"], 0, start="stdin a directory", out=""),
    Case(["run", "sh", "-c", "echo out"], 1, r"sh: write error: No space left on device",
         start="stdout /dev/full"),
    Case(["run", "no-such-command"], 127, NOT_FOUND.format("no-such-command"), start="stdin closed"),
    Case(["run", "no-such-command"], 127, start="stdio closed"),
    Case(["--trace", "run", "true"], 0, start="stderr closed"),
    Case(["bogus"], 125, start="stdio closed"),
    Case(["run", "--rootfs", "/no/such/dir", "true"], 125, r"dkr: no such rootfs: /no/such/dir",
         start="stdout closed"),
    Case(["run", "true"], 0, launcher=True),
    Case(["run", "sh", "-c", "exit 3"], 3, launcher=True),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)
