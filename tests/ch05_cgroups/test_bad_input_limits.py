# chapter: 5
"""Chapter 5's part of the bad-input corpus: the limits. (The promises every
case checks are in conftest's `Case`.) --net none, as in all of chapter 5's
tests: CI runs them in a VM whose kernel has no bridge."""

from __future__ import annotations

import pytest

from conftest import Case

HELP = r" \(see `python3 -m dkr run --help`\)"
SIZE = r"dkr run: argument {}: bad size '{}': give a number and a unit, such as 64m" + HELP
NUMBER = r"dkr run: argument --cpus: bad number '{}': give one such as 0\.5" + HELP
WHOLE = r"dkr run: argument {}: bad number '{}': give a whole number, such as 10" + HELP
LIST = r"dkr run: argument {}: bad list '{}': give numbers and ranges, such as 0-1,3" + HELP


def run(*options: str) -> list[str]:
    return ["run", "--net", "none", *options, "true"]


CASES = [
    # --memory, --memory-swap, --memory-reservation
    *[Case(["run", option], 125, rf"dkr run: argument {name}: expected one argument" + HELP)
      for option, name in (("-m", "-m/--memory"), ("--memory-swap", "--memory-swap"),
                           ("--memory-reservation", "--memory-reservation"), ("--cpus", "--cpus"),
                           ("-c", "-c/--cpu-shares"), ("--cpuset-cpus", "--cpuset-cpus"),
                           ("--cpuset-mems", "--cpuset-mems"), ("--pids-limit", "--pids-limit"))],
    *[Case(run("-m", size), 125, SIZE.format("-m/--memory", size))
      for size in ("", "x", "64x", "-1", "1e9", "inf", "\u0666\u0664m", "64 mb b", "0x40m", "64m64")],
    Case(run("-m", "99999999t"), 125,
         r"dkr run: argument -m/--memory: bad size '99999999t': too large for the kernel's 64-bit limits" + HELP),
    *[Case(run("-m", size), 125, r"dkr: --memory must be at least 6m \(a number without a unit is bytes\)")
      for size in ("1m", "5m", "64", "64k")],
    *[Case(run("-m", size), 0) for size in ("0", "6m", "64M", "64mb", "64MiB", "64 m", "1.5g", " 64m")],
    Case(run("--memory-swap", "1g"), 125, r"dkr: --memory-swap needs --memory: give both"),
    Case(run("-m", "64m", "--memory-swap", "32m"), 125,
         r"dkr: the memory\+swap limit is below the memory limit: --memory-swap counts memory and swap "
         r"together, so make it at least --memory \(or -1\)"),
    Case(run("-m", "64m", "--memory-swap", "-2"), 125, SIZE.format("--memory-swap", "-2")),
    Case(run("-m", "64m", "--memory-swap", "-1"), 0),
    Case(run("-m", "64m", "--memory-reservation", "128m"), 125,
         r"dkr: --memory-reservation must not be above --memory"),
    Case(run("--memory-reservation", "32m"), 0),
    # --cpus, --cpu-shares
    *[Case(run("--cpus", number), 125, NUMBER.format(number))
      for number in ("", "abc", "inf", "nan", "1e-1", "-1", "\u0661", "0.5.5", "1,5")],
    *[Case(run("--cpus", number), 125, r"dkr: --cpus must be between 0\.01 and \d+, the CPUs this host has")
      for number in ("0", "0.001", "99", "0.0")],
    *[Case(run("--cpus", number), 0) for number in ("0.5", ".5", "1")],
    *[Case(run("-c", number), 125, WHOLE.format("-c/--cpu-shares", number)) for number in ("x", "1.5", "", "1_0")],
    *[Case(run("-c", number), 125, r"dkr: --cpu-shares must be between 2 and 262144 \(0: the default\)")
      for number in ("-5", "1", "999999")],
    *[Case(run("-c", number), 0) for number in ("0", "2", "512", "262144")],
    # --cpuset-cpus, --cpuset-mems
    *[Case(run(option, text), 125, LIST.format(option, text))
      for option in ("--cpuset-cpus", "--cpuset-mems") for text in ("a", "0-", "-1", "0,,1", "", "0 1")],
    Case(run("--cpuset-cpus", "99"), 125,  # v1 says ERANGE, v2 EINVAL
         r"dkr: cannot set cpuset\.cpus to 99 in .*: .* \(give CPUs this host has: "
         r"see `nproc` or /sys/devices/system/cpu/online\)"),
    Case(run("--cpuset-cpus", "1-0"), 125,
         r"dkr: cannot set cpuset\.cpus to 1-0 in .*: .* \(give CPUs this host has: "
         r"see `nproc` or /sys/devices/system/cpu/online\)"),
    Case(run("--cpuset-mems", "9"), 125,
         r"dkr: cannot set cpuset\.mems to 9 in .*: .* \(give memory nodes this host has: "
         r"see /sys/devices/system/node/online\)"),
    Case(run("--cpuset-cpus", "0", "--cpuset-mems", "0"), 0),
    # --pids-limit
    *[Case(run("--pids-limit", number), 125, WHOLE.format("--pids-limit", number)) for number in ("x", "1.5", "")],
    *[Case(run("--pids-limit", number), 0) for number in ("-1", "-5", "0", "1", "4194304")],
    Case(run("--pids-limit", "99999999999"), 125, r"dkr: --pids-limit must be at most 4194304 \(-1: unlimited\)"),
    Case(["run", "--net", "none", "--pids-limit", "3", "sh", "-c", "sleep 1 & sleep 1 & sleep 1 & wait"], 2,
         r"sh: can't fork: Resource temporarily unavailable"),
    Case(run("-m", "64m", "--pids-limit", "10"), 0, start="stdio closed"),
    Case(["run", "--net", "none", "-m", "32m", "tail", "/dev/zero"], 137, start="stderr closed"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_bad_input(case: Case, root, data_dir, rootfs):
    case.run(data_dir, rootfs)
