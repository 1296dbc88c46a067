# chapter: 4
"""Chapter 4's part of the bad-input corpus: --net and -p. (The promises
every case checks are in conftest's `Case`.)"""

from __future__ import annotations

import pytest

from conftest import Case

HELP = r" \(see `python3 -m dkr run --help`\)"
MODE = r"dkr: unknown network mode '{}': use --net bridge, none or host"
MAPPING = r"dkr: bad port mapping '{}': "

CASES = [
    Case(["run", "--net"], 125, r"dkr run: argument --net/--network: expected one argument" + HELP),
    *[Case(["run", "--net", mode, "true"], 125, MODE.format(mode))
      for mode in ("", "wifi", "BRIDGE", "container:x", "bridge ", "none,host")],
    Case(["run", "--net", "\udcff", "true"], 125, MODE.format(r"\\udcff")),  # repr() shows the byte so
    Case(["run", "--network", "none", "true"], 0),
    Case(["run", "--net", "none", "--net", "host", "true"], 0),
    Case(["run", "--ne", "none", "true"], 125, r"dkr run: unknown option --ne" + HELP),
    Case(["run", "-p"], 125, r"dkr run: argument -p/--publish: expected one argument" + HELP),
    *[Case(["run", "-p", mapping, "true"], 125, MAPPING.format(mapping) + r"use -p HOSTPORT:CTRPORT")
      for mapping in ("", "80", "x:80", "80:x", "\u0668\u0660:80", " 8080:80", "8080:80 ", "8080-8081:80",
                      "::1:8080:80", "8080:", ":80", "8080::80", "8080:80/")],
    Case(["run", "-p", "8080:80\n", "true"], 125, MAPPING.format(r"8080:80\\n") + r"use -p HOSTPORT:CTRPORT"),
    *[Case(["run", "-p", mapping, "true"], 125, MAPPING.format(mapping) + r"ports are numbers from 1 to 65535")
      for mapping in ("0:80", "80:0", "65536:80", "80:65536", "99999999999999999999:80")],
    *[Case(["run", "-p", mapping, "true"], 125, MAPPING.format(mapping) + r"dkr publishes TCP ports only")
      for mapping in ("8080:80/udp", "8080:80/sctp", "127.0.0.1:8080:80/udp")],
    *[Case(["run", "-p", mapping, "true"], 125, MAPPING.format(mapping) + ip + r" is not an IPv4 address")
      for mapping, ip in (("1.2.3:8080:80", "1.2.3"), ("999.1.1.1:8080:80", "999.1.1.1"),
                          ("8080:80:90", "8080"), ("1.2.3.4.5:8080:80", "1.2.3.4.5"))],
    Case(["run", "-p", "192.0.2.99:8080:80", "true"], 125,
         r"dkr: the host has no address 192.0.2.99 to publish -p 192.0.2.99:8080:80 on"),
    *[Case(["run", "--net", mode, "-p", "8080:80", "true"], 125,
           rf"dkr: -p needs --net bridge: with --net {mode} there is no container port to publish")
      for mode in ("none", "host")],
    Case(["run", "--net", "none", "--hostname", "box", "cat", "/etc/hostname"], 0, out="box\n"),
    Case(["run", "--net", "host", "--hostname", "box", "cat", "/etc/hostname"], 0, out="box\n"),
    Case(["run", "--net", "none", "true"], 0, start="stdio closed"),
    Case(["run", "true"], 0, start="stdio closed"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)
