# chapter: 7
"""Chapter 7's part of the bad-input corpus: --security-opt seccomp=…
(The promises every case checks are in conftest's `Case`.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Case

UNKNOWN = (r"dkr: unknown security option '{}': dkr takes "
           r"no-new-privileges\[:true\|false\], seccomp=unconfined\|PROFILE\.json")
PROFILES = Path("/tmp/dkr-bad-input-profiles")  # made by the fixture below
GOOD = {"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdirat", "mkdir"], "action": "SCMP_ACT_ERRNO"}]}
FILES = {
    "good.json": json.dumps(GOOD),
    "empty.json": "",
    "list.json": "[]",
    "binary.json": "\udcff",
    "no-action.json": json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                  "syscalls": [{"names": ["read"]}]}),
    "bad-op.json": json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}),
    "bad-index.json": json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
    "negative.json": json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}),
    "unknown-name.json": json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]}),
    "notify.json": json.dumps({"defaultAction": "SCMP_ACT_NOTIFY"}),
    "bad-flag.json": json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["FAST"]}),
}


def seccomp(name: str) -> list[str]:
    return ["run", "--security-opt", f"seccomp={PROFILES / name}", "true"]


CASES = [
    Case(["run", "--security-opt", "seccomp=", "true"], 125, UNKNOWN.format("seccomp=")),
    Case(["run", "--security-opt", "seccomp", "true"], 125, UNKNOWN.format("seccomp")),
    Case(["run", "--security-opt", "seccomp=unconfined", "true"], 0),
    Case(["run", "--privileged", "--security-opt", "seccomp=unconfined", "true"], 0),
    Case(["run", "--security-opt", "seccomp=/nonexistent.json", "true"], 125,
         r"dkr: cannot read the seccomp profile /nonexistent\.json: No such file or directory"),
    Case(["run", "--security-opt", f"seccomp={PROFILES}", "true"], 125,
         r"dkr: cannot read the seccomp profile .*: Is a directory"),
    Case(seccomp("good.json"), 0),
    Case(["run", "--security-opt", f"seccomp={PROFILES / 'good.json'}", "mkdir", "/tmp/x"], 1,
         r"mkdir: can't create directory '/tmp/x': Operation not permitted"),
    Case(seccomp("good.json"), 0, start="stdio closed"),
    *[Case(seccomp(name), 125, rf"dkr: the seccomp profile .*{name} is not JSON: .*")
      for name in ("empty.json", "binary.json")],
    Case(seccomp("list.json"), 125, r"dkr: .*list\.json: give a JSON object"),
    Case(seccomp("no-action.json"), 125, r"dkr: .*: syscalls\[0\]\.action: give a string"),
    Case(seccomp("bad-op.json"), 125, r"dkr: unknown seccomp operator 'SCMP_CMP_ABOUT': .*"),
    Case(seccomp("bad-index.json"), 125, r"dkr: seccomp argument index 9: give 0 to 5"),
    Case(seccomp("negative.json"), 125,
         r"dkr: .*: defaultErrnoRet: give a whole number, 0 or more"),
    Case(seccomp("unknown-name.json"), 0,  # as runc: left out, with a word
         r"dkr: warning: seccomp profile .*unknown-name\.json: no such syscall, left out: "
         r"no_such_call"),
    Case(seccomp("notify.json"), 125, r"dkr: seccomp action SCMP_ACT_NOTIFY needs a listener.*"),
    Case(seccomp("bad-flag.json"), 125, r"dkr: unknown seccomp flag 'FAST': give one of .*"),
]


@pytest.fixture(scope="module", autouse=True)
def profiles():
    PROFILES.mkdir(exist_ok=True)
    for name, text in FILES.items():
        (PROFILES / name).write_bytes(text.encode(errors="surrogateescape"))
    yield
    for name in FILES:
        (PROFILES / name).unlink()
    PROFILES.rmdir()


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)
