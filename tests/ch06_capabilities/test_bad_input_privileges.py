# chapter: 6
"""Chapter 6's part of the bad-input corpus: capabilities, users, security
options. (The promises every case checks are in conftest's `Case`.)"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import Case, dkr_command, dkr_env, with_test_rootfs, TREE

HELP = r" \(see `python3 -m dkr run --help`\)"
UNKNOWN_CAP = (r"dkr: unknown capability '{}': give a name of capabilities\(7\), such as "
               r"NET_ADMIN or CAP_NET_ADMIN, or ALL")
BAD_USER = (r"dkr: bad user '{}': give USER or USER:GROUP, each a name or a number, "
            r"such as --user 1000:1000")
SET_UP = r"dkr: container set-up: "


def run(*options: str) -> list[str]:
    return ["run", *options, "true"]


CASES = [
    *[Case(["run", option], 125, rf"dkr run: argument {option}: expected one argument" + HELP)
      for option in ("--cap-add", "--cap-drop", "--group-add", "--security-opt")],
    Case(["run", "-u"], 125, r"dkr run: argument -u/--user: expected one argument" + HELP),
    # --cap-add, --cap-drop
    *[Case(run(option, name), 125, UNKNOWN_CAP.format(shown))
      for option in ("--cap-add", "--cap-drop")
      for name, shown in (("CAP_TEST", "CAP_TEST"), ("", ""), ("NET ADMIN", "NET ADMIN"),
                          ("CAP_", "CAP_"), ("21", "21"), ("\udcff", r"\\udcff"))],
    *[Case(run(*options), 0) for options in (
        ("--cap-add", "net_admin"), ("--cap-drop", "ALL"), ("--cap-add", "ALL"),
        ("--cap-drop", "all", "--cap-add", "CAP_CHOWN"), ("--cap-drop", "CHOWN", "--cap-add", "CHOWN"),
        ("--privileged",), ("--privileged", "--cap-drop", "ALL"))],
    # --user, --group-add
    *[Case(run("--user", user), 125, BAD_USER.format(shown))
      for user, shown in (("", ""), (":0", ":0"), ("0:", "0:"), ("a:b:c", "a:b:c"),
                          ("a b", "a b"), ("0::0", "0::0"))],
    *[Case(run(option, value), 125, rf"dkr: bad id {value}: ids go up to 4294967294")
      for option, value in (("--user", "4294967295"), ("--user", "99999999999999999999"),
                            ("--group-add", "4294967295"))],
    Case(run("--user", "0:4294967295"), 125, r"dkr: bad id 4294967295: ids go up to 4294967294"),
    Case(run("--user", "nosuch"), 125,
         SET_UP + r"--user 'nosuch': no such user in the container's /etc/passwd "
                  r"\(give a uid, such as --user 1000\)"),
    Case(run("--user", "0:nosuch"), 125,
         SET_UP + r"--user group 'nosuch': no such group in the container's /etc/group"),
    Case(run("--group-add", "nosuch"), 125,
         SET_UP + r"--group-add 'nosuch': no such group in the container's /etc/group"),
    *[Case(run("--user", user), 0) for user in (
        "0", "root", "nobody", "1000", "1000:1000", "nobody:tty", "65534:nogroup", "4294967294")],
    Case(run("--group-add", "tty", "--group-add", "5", "--group-add", "0"), 0),
    Case(["run", "--user", "nobody", "-w", "/root", "true"], 0),  # chdir as root, then the switch
    Case(["run", "--user", "nobody", "sh", "-c", "echo x > /etc/passwd"], 1,
         r"sh: can't create /etc/passwd: Permission denied"),
    # --security-opt
    *[Case(run("--security-opt", option), 125,
           rf"dkr: unknown security option '{shown}': dkr takes no-new-privileges.*")
      for option, shown in (("", ""), ("apparmor=unconfined", "apparmor=unconfined"),
                            ("no-new-privileges:maybe", "no-new-privileges:maybe"),
                            ("no-new-privileges=", "no-new-privileges="),
                            ("label:disable", "label:disable"))],
    *[Case(run("--security-opt", option), 0) for option in (
        "no-new-privileges", "no-new-privileges:true", "no-new-privileges=false")],
    Case(run("--user", "nobody", "--security-opt", "no-new-privileges"), 0, start="stdio closed"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)


def test_a_capability_dkr_itself_lacks_is_one_clear_line(root, data_dir, rootfs):
    # dkr started without CAP_SYS_TIME in its bounding set (setpriv): it
    # cannot give the container what it does not have.
    if not shutil.which("setpriv"):
        pytest.skip("no setpriv (util-linux) to start dkr with fewer capabilities")

    def without_sys_time(*args: str) -> subprocess.CompletedProcess:
        command = ["setpriv", "--bounding-set", "-sys_time", "--inh-caps", "-all",
                   *dkr_command(*with_test_rootfs(args, rootfs))]
        return subprocess.run(command, capture_output=True, text=True, cwd=TREE,
                              env=dkr_env(data_dir), stdin=subprocess.DEVNULL, timeout=60)

    result = without_sys_time("run", "--cap-add", "SYS_TIME", "true")
    assert result.returncode == 125
    assert result.stderr == (
        "dkr: container set-up: dkr itself lacks CAP_SYS_TIME, so the container cannot "
        "have it: run dkr with it, or drop it (--cap-drop)\n")
    everything = without_sys_time("run", "--privileged", "true")
    assert everything.returncode == 0, everything.stderr  # ALL: what dkr has
