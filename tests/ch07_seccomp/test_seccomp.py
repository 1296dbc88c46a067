# chapter: 7
"""Chapter 7: real containers under dkr's filter.

Denied calls return the profile's errno, allowed ones work, argument
filters act, and `seccomp=unconfined` takes the filter away.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import SYS_ADMIN, container_status as status, run_probe


def test_a_default_container_runs_under_one_filter(dkr):
    fields = status(dkr)
    assert fields["Seccomp"].strip() == "2"  # SECCOMP_MODE_FILTER
    assert fields["Seccomp_filters"].strip() == "1"


def test_unconfined_and_privileged_have_no_filter(dkr):
    assert status(dkr, "--security-opt", "seccomp=unconfined")["Seccomp"].strip() == "0"
    assert status(dkr, "--privileged")["Seccomp"].strip() == "0"


@pytest.mark.parametrize("call", ["keyctl", "add_key"])
def test_the_kernel_keyring_is_out_of_reach(dkr, probe, call):
    # Keyrings are not namespaced: the host root's keys are the container root's.
    assert run_probe(dkr, probe, call) == "EPERM"
    assert run_probe(dkr, probe, call, "--security-opt", "seccomp=unconfined") == "ok"


def test_syslog_is_refused_whatever_the_host_allows(dkr, probe):
    # Even where kernel.dmesg_restrict is 0 and no capability is asked.
    assert run_probe(dkr, probe, "syslog") == "EPERM"


def test_a_new_user_namespace_is_refused_without_sys_admin(dkr):
    # The kernel lets any process make one; Docker's profile does not.
    refused = dkr("run", "unshare", "-U", "true")
    assert refused.returncode != 0 and "Operation not permitted" in refused.stderr
    allowed = dkr("run", "--security-opt", "seccomp=unconfined", "unshare", "-U", "true")
    assert allowed.returncode == 0, allowed.stderr


@pytest.mark.parametrize("value, answer", [("8", "ok"), ("0", "ok"), ("0x400000", "ENOSYS")])
def test_personality_is_filtered_by_its_argument(dkr, probe, value, answer):
    # PER_LINUX32 (8) and PER_LINUX (0) are allowed; READ_IMPLIES_EXEC is not,
    # and gets the profile's default answer.
    assert run_probe(dkr, probe, "personality", args=(value,)) == answer


def test_sys_admin_opens_what_it_guards(dkr):
    result = dkr("run", *SYS_ADMIN, "sh", "-c", "mount -t tmpfs none /mnt && echo mounted")
    assert result.stdout == "mounted\n", result.stderr


def profile_file(tmp_path: Path, profile: dict) -> str:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    return str(path)


def test_a_profile_of_one_s_own_decides(dkr, tmp_path):
    path = profile_file(tmp_path, {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 13},
                     {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]})
    result = dkr("run", "--security-opt", f"seccomp={path}", "sh", "-c",
                 "mkdir /tmp/x; echo $PPID; ls / >/dev/null && echo listed")
    assert "Permission denied" in result.stderr  # errnoRet 13: EACCES
    assert result.stdout.splitlines()[-1] == "listed"


def test_a_filter_holds_under_no_new_privileges_and_another_user(dkr, probe):
    options = ("--security-opt", "no-new-privileges", "--user", "nobody")
    assert run_probe(dkr, probe, "keyctl", *options) == "EPERM"
    fields = status(dkr, *options)
    assert fields["Seccomp"].strip() == "2" and fields["NoNewPrivs"].strip() == "1"


@pytest.mark.parametrize("profile, message", [
    ("not json", "is not JSON"),
    ({"syscalls": []}, "defaultAction: give a string"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]},
     r"syscalls\[0\]\.action: give a string"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_EQ"}]}]},
     r"syscalls\[0\]\.args\[0\]\.value: give a whole number"),
    ({"defaultAction": "SCMP_ACT_NOPE"}, "unknown seccomp action 'SCMP_ACT_NOPE'"),
])
def test_a_bad_profile_is_one_clear_line(dkr, tmp_path, profile, message):
    path = tmp_path / "profile.json"
    path.write_text(profile if isinstance(profile, str) else json.dumps(profile))
    result = dkr("run", "--security-opt", f"seccomp={path}", "true")
    assert result.returncode == 125
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert re.search(message, result.stderr), result.stderr


def test_a_missing_profile_says_so(dkr, tmp_path):
    result = dkr("run", "--security-opt", f"seccomp={tmp_path}/none.json", "true")
    assert result.returncode == 125
    assert "cannot read the seccomp profile" in result.stderr
    assert "No such file or directory" in result.stderr


def test_the_trace_shows_the_install_and_its_size(dkr):
    result = dkr("--trace", "run", "true")
    lines = [line for line in result.stderr.splitlines() if "seccomp(" in line]
    assert len(lines) == 1 and lines[0].startswith("container[1] "), result.stderr
    assert "instructions" in lines[0] and lines[0].endswith("= 0")
