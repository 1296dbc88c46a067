# chapter: 9
"""Chapter 9's part of the bad-input corpus: image names, platforms, and
image commands given what they cannot use. (The promises every case checks
are in conftest's `Case`.)"""

from __future__ import annotations

import pytest

from conftest import Case

FORMAT = r"dkr: invalid reference format"
CASES = [
    Case(["pull", "Busybox"], 125, FORMAT + r": repository name .* must be lowercase: \"Busybox\""),
    Case(["pull", ""], 125, r'dkr: repository name must have at least one component: ""'),
    Case(["pull", "busybox:"], 125, FORMAT + r".*"),
    Case(["pull", "busybox@sha256:abc"], 125,
         r'dkr: invalid checksum digest length \(sha256 has 64 hex digits, this has 3\): '
         r'"busybox@sha256:abc"'),
    Case(["pull", "a" * 64], 125, r"dkr: invalid repository name: cannot specify 64-byte "
                                  r"hexadecimal strings \(that is an image id\): .*"),
    Case(["pull", "x" * 300], 125, r"dkr: repository name must not be more than 255 "
                                   r'characters: "x{197}\.\.\."'),
    Case(["pull", "--platform", "linux", "busybox"], 125,
         r"dkr: bad platform 'linux': give OS/ARCH\[/VARIANT\], such as linux/amd64 or "
         r"linux/arm64/v8"),
    Case(["pull", "127.0.0.1:1/busybox"], 125,
         r"dkr: cannot connect to 127\.0\.0\.1:1: nothing answers there \(is the address "
         r"right\?\)"),
    Case(["pull"], 125, r"dkr pull: the following arguments are required: NAME .*"),
    Case(["rmi", "no-such-image"], 125, r"dkr: no such image: docker\.io/library/"
                                        r"no-such-image:latest"),
    Case(["load", "-i", "/nonexistent.tar"], 125,
         r"dkr: no such file or directory: /nonexistent\.tar"),
    Case(["load", "-i", "/etc/passwd"], 125,
         r"dkr: cannot read /etc/passwd as a `docker save` tar file or an OCI layout: .*"),
    Case(["load", "-i", "/etc"], 125, r"dkr: the OCI layout /etc has no index\.json: is it an "
                                      r"OCI layout\?"),
    Case(["images"], 0),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)
