# chapter: 2
"""Chapter 2's part of the bad-input corpus: the container starts clean (no
signal blocked or ignored, whatever dkr's caller left), and PID 1's own
signals. (The promises every case checks are in conftest's `Case`.)"""

from __future__ import annotations

import pytest

from conftest import Case, STARTS

CLEAN = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
# Not through a shell: busybox's sh ignores SIGQUIT, and its last command inherits that.
SIGNALS = ["run", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]

CASES = [
    *[Case(SIGNALS, 0, start=start, out=CLEAN)
      for start in STARTS if start not in ("stdout closed", "stdio closed", "stdout /dev/full")],
    Case(["run", "sh", "-c", "yes | head -1"], 0, out="y\n"),
    Case(["run", "sh", "-c", "yes | head -1"], 0, start="SIGHUP, SIGPIPE ignored", out="y\n"),
    Case(["run", "sh", "-c", "kill -KILL 1; echo PID 1 lives on"], 0, out="PID 1 lives on\n"),
    Case(["run", "sh", "-c", "kill -TERM 1; echo PID 1 lives on"], 0, out="PID 1 lives on\n"),
    Case(["run", "sh", "-c", "trap 'exit 9' USR1; kill -USR1 1; sleep 5"], 9),
    Case(["run", "sh", "-c", "echo $$"], 0, start="SIGCHLD ignored", out="1\n"),
    Case(["run", "sh", "-c", "sleep 100 & exit 5"], 5),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)
