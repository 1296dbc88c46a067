# chapter: 3
"""Chapter 3's part of the bad-input corpus: -v, --read-only, and the
terminal options with dkr's stdio closed, full or odd. (The promises every
case checks are in conftest's `Case`.)"""

from __future__ import annotations

import re

import pytest

from conftest import NOT_IN_PATH, Case

HELP = r" \(see `python3 -m dkr run --help`\)"
BAD = r"dkr: bad volume '{}': "
PROC = BAD + r"dkr mounts nothing over /proc or below it, where it would stand in for the kernel's own files"
LOST = r"dkr: warning: the container's output from then on was lost: No space left on device"
LINES = ["sh", "-c", "seq 3000"]  # more than a terminal's buffer holds

CASES = [
    # -v HOST:CTR[:ro]
    Case(["run", "-v"], 125, r"dkr run: argument -v/--volume: expected one argument" + HELP),
    *[Case(["run", "-v", volume, "true"], 125, BAD.format(volume) + r"use -v HOST:CTR\[:ro\]")
      for volume in ("nocolon", ":/mnt", "/tmp:", "::", "/tmp:/mnt:rx", "/tmp:/mnt:ro:rw", "/tmp:/mnt:RO")],
    *[Case(["run", "-v", volume, "true"], 125, BAD.format(volume) + r"the container path must be absolute")
      for volume in ("/tmp:mnt", "/tmp:./mnt", "/tmp:~/mnt")],
    Case(["run", "-v", "/no/such/dir:/mnt", "true"], 125, r"dkr: no such host path for -v: /no/such/dir"),
    Case(["run", "-v", "relative/no/such:/mnt", "true"], 125, r"dkr: no such host path for -v: relative/no/such"),
    *[Case(["run", "-v", volume, "true"], 125, BAD.format(volume) + r"the container path must not be / \(give --rootfs\)")
      for volume in ("/tmp:/", "/tmp://", "/tmp:/mnt/..")],
    *[Case(["run", "-v", volume, "true"], 125, PROC.format(volume))
      for volume in ("/tmp:/proc", "/tmp:/proc/", "/tmp:/proc/sys", "/tmp:/proc/sys/kernel", "/tmp://proc",
                     "/tmp:/mnt/../proc", "/tmp:/proc/../proc/1", "/etc/hostname:/proc/cpuinfo:ro",
                     "/tmp:/proc:ro")],
    Case(["run", "-v", "/tmp:/mnt:ro", "-v", "/tmp:/mnt:ro", "true"], 0),
    Case(["run", "-v", "/tmp:/mnt:ro", "sh", "-c", "touch /mnt/dkr-test-x"], 1,
         r"touch: /mnt/dkr-test-x: Read-only file system"),
    Case(["run", "-v", "/tmp:/mnt:rw", "true"], 0),
    Case(["run", "-v", "/tmp/../tmp:/mnt/:ro", "true"], 0),
    Case(["run", "-v", "/etc/hostname:/mnt:ro", "true"], 125,
         r"dkr: container set-up: cannot mount /etc/hostname on /mnt: one is a directory and the other is not"),
    Case(["run", "-v", "/tmp:/etc/passwd:ro", "true"], 125,
         r"dkr: container set-up: cannot mount /tmp on /etc/passwd: one is a directory and the other is not"),
    Case(["run", "-v", "/tmp:/sys:ro", "true"], 0),
    Case(["run", "-v", "/tmp:/dev:ro", "sh", "-c", "test -c /dev/null || echo no devices made"], 0,
         out="no devices made\n"),
    Case(["run", "--volume", "/tmp:/mnt:ro", "--volume", "/etc:/mnt:ro", "ls", "/mnt/hostname"], 0,
         out="/mnt/hostname\n"),
    # --read-only
    Case(["run", "--read-only", "sh", "-c", "touch /dkr-test-x"], 1, r"touch: /dkr-test-x: Read-only file system"),
    Case(["run", "--read-only=yes", "true"], 125, r"dkr run: argument --read-only: ignored explicit argument 'yes'" + HELP),
    Case(["run", "--read-only", "-v", "/tmp:/mnt:ro", "sh", "-c", "echo ok > /dev/shm/x && cat /dev/shm/x"], 0,
         out="ok\n"),
    # -t and -i, with dkr's stdio as its caller left it
    *[Case(["run", option, "sh", "-c", "exit 3"], 3, start=start)
      for option in ("-t", "-it", "-ti", "--tty")
      for start in ("", "stdin closed", "stdout closed", "stdio closed", "stdin a directory")],
    Case(["run", "-i", "cat"], 0, out=""),
    Case(["run", "-it", "cat"], 0, start="stdin closed", out=""),
    Case(["run", "-t", *LINES], 0, start="stdin closed"),
    Case(["run", "-t", *LINES], 0, start="stdout closed"),
    Case(["run", "-t", *LINES], 0, LOST, start="stdout /dev/full"),
    Case(["run", "-t", *LINES], 0, start="stdio closed"),
    Case(["run", "-t", "true"], 0, start="SIGCHLD ignored"),
    Case(["run", "-t", "no-such-command"], 127,
         r"dkr: exec no-such-command: " + re.escape(NOT_IN_PATH), start="stdin closed"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)
