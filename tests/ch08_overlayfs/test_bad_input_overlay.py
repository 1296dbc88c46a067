# chapter: 8
"""Chapter 8's part of the bad-input corpus: --rootfs given more than once,
and roots that overlayfs cannot stack. (The promises every case checks are
in conftest's `Case`.)"""

from __future__ import annotations

import pytest

from conftest import Case

CASES = [
    Case(["run", "--rootfs", "/", "true"], 125,
         r"dkr: the root file system / holds the containers' layers \(.*/overlay\): give a "
         r"root file system that does not \(or set DKR_DATA\)"),
    Case(["run", "--rootfs", "/etc", "--rootfs", "/nonexistent", "true"], 125,
         r"dkr: no such rootfs: /nonexistent"),
    Case(["run", "--rootfs", "/etc", "--rootfs", "/etc/passwd", "true"], 125,
         r"dkr: not a directory: /etc/passwd \(--rootfs takes a root file system's directory\)"),
    Case(["run", "--rootfs", "/etc", "--rootfs", "", "true"], 125, r"dkr: no such rootfs: "),
    Case(["run", "--rootfs", "/etc", "--rootfs", "/etc", "true"], 125,
         r"dkr: the root file systems /etc and /etc overlap: overlayfs stacks directories "
         r"that do not hold one another"),
    Case(["run", "--rootfs", "/etc", "--rootfs", "/etc/ssl", "true"], 125,
         r"dkr: the root file systems /etc and /etc/ssl overlap: .*"),
    Case(["run", "--net", "none", "--rootfs", "/usr/share", "--rootfs", "/etc", "true"], 127,
         r"dkr: exec true: executable file not found in \$PATH.*"),
    Case(["run", "--rootfs"], 125,
         r"dkr run: argument --rootfs: expected one argument \(see `python3 -m dkr run --help`\)"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)
