# chapter: 7
"""Chapter 7: dkr's seccomp compiler, checked decision by decision.

Each compiled program runs in the tests' BPF interpreter (bpfvm) over every
syscall number of each ABI and sampled arguments, and must decide as the
profile says (`expected` reads the profile directly). Where Debian's
python3-seccomp is installed, libseccomp compiles the same profile, and
both programs must agree on every input.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess

import pytest

from bpfvm import check, run, seccomp_data, unpack
from dkr import defaults
from dkr.config import SeccompArg, Seccomp, SyscallRule
from dkr.errors import DkrError
from dkr.linux import syscall_table
from dkr.seccomp import bpf, compiler
from dkr.seccomp.profile import default_profile

ENOSYS = 38
ABIS = {  # profile name -> (arch value, table)
    "SCMP_ARCH_X86_64": (syscall_table.AUDIT_ARCH["x86_64"], syscall_table.X86_64),
    "SCMP_ARCH_X86": (syscall_table.AUDIT_ARCH["i386"], syscall_table.I386),
    "SCMP_ARCH_X32": (syscall_table.AUDIT_ARCH["x86_64"], syscall_table.X32),
}
HIGH = 1 << 32
ARG_SAMPLES = [(), (0,), (5,), (HIGH + 5,), (HIGH,), (2**64 - 1,), (0x10, 0, 9),
               (0, 0, 0, 0, 0, 0x8000000000000007), (0x7E020000,), (8,), (0x20008,)]


def rule(names, action="SCMP_ACT_ALLOW", *args, errno_ret=None):
    return SyscallRule(list(names), action, errno_ret,
                       [SeccompArg(*arg) if isinstance(arg, tuple) else arg for arg in args])


# Profiles that use every operator, both halves of 64-bit values, repeated
# argument indexes (any of them), several actions and a default-allow list.
PROFILES = {
    "allow-list": Seccomp("SCMP_ACT_ERRNO", ENOSYS, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], [], [
        rule(["read", "write", "close", "exit_group", "futex", "mmap", "brk"]),
        rule(["personality"], "SCMP_ACT_ALLOW", (0, 0, "SCMP_CMP_EQ")),
        rule(["personality"], "SCMP_ACT_ALLOW", (0, 8, "SCMP_CMP_EQ")),
        rule(["ioctl"], "SCMP_ACT_ALLOW", (1, HIGH + 5, "SCMP_CMP_LT")),
        rule(["fcntl"], "SCMP_ACT_ALLOW", (1, 5, "SCMP_CMP_LE"), (2, HIGH, "SCMP_CMP_GE")),
        rule(["lseek"], "SCMP_ACT_ALLOW", (0, 5, "SCMP_CMP_GT")),
        rule(["clone"], "SCMP_ACT_ALLOW", (0, 0x7E020000, "SCMP_CMP_MASKED_EQ", 0)),
        rule(["socket"], "SCMP_ACT_ERRNO", (0, 16, "SCMP_CMP_EQ"), (2, 9, "SCMP_CMP_EQ"),
             errno_ret=22),
        rule(["socket"], "SCMP_ACT_ALLOW", (2, 9, "SCMP_CMP_NE")),
        rule(["socket"], "SCMP_ACT_ALLOW", (0, 16, "SCMP_CMP_NE")),
        rule(["getpid"], "SCMP_ACT_ALLOW", (0, 1, "SCMP_CMP_EQ"), (0, 2, "SCMP_CMP_EQ")),
        rule(["kill"], "SCMP_ACT_KILL_PROCESS"), rule(["tkill"], "SCMP_ACT_TRAP"),
        rule(["getuid"], "SCMP_ACT_LOG"), rule(["mount"], "SCMP_ACT_ERRNO"),
        rule(["no_such_call"]),
    ]),
    "default-allow": Seccomp("SCMP_ACT_ALLOW", None, [], [], [
        rule(["keyctl", "add_key"], "SCMP_ACT_ERRNO", errno_ret=1),
        rule(["mount"], "SCMP_ACT_ERRNO", (2, 0, "SCMP_CMP_NE")),
        rule(["read"], "SCMP_ACT_ALLOW"),  # the default's own action: left out
    ]),
    "x32 too": Seccomp("SCMP_ACT_KILL", None, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"], [], [
        rule(["read", "write", "exit"]),
    ]),
}


def holds(arg: SeccompArg, args: tuple[int, ...], wide: bool = True) -> bool:
    """Whether an argument meets a condition; a 32-bit ABI's are 32 bits."""
    width = 2**64 - 1 if wide else 0xFFFFFFFF
    value = (tuple(args) + (0,) * 6)[arg.index] & width
    want, two = arg.value & width, arg.value_two & width
    return {"SCMP_CMP_EQ": value == want, "SCMP_CMP_NE": value != want,
            "SCMP_CMP_LT": value < want, "SCMP_CMP_LE": value <= want,
            "SCMP_CMP_GT": value > want, "SCMP_CMP_GE": value >= want,
            "SCMP_CMP_MASKED_EQ": value & want == two}[arg.op]


def expected(profile: Seccomp, abi: str, nr: int, args: tuple[int, ...]) -> int:
    """The profile's decision, read from it directly: rules with conditions
    first, in order (conditions on one repeated index: any of them), then
    a rule without, then the default."""
    default = compiler.action_value(profile.default_action, profile.default_errno_ret, 1)
    listed = set(profile.architectures) | {"SCMP_ARCH_X86_64"}
    if abi not in listed:
        return compiler.BAD_ARCH
    table = ABIS[abi][1]
    names = {name for name, number in table.items() if number == nr}
    rules = [r for r in profile.syscalls if names & set(r.names)]
    value = lambda r: compiler.action_value(r.action, r.errno_ret, 1)  # noqa: E731
    wide = abi not in ("SCMP_ARCH_X86", "SCMP_ARCH_X32")
    for r in rules:
        indexes = {arg.index for arg in r.args}
        if len(r.args) > 1 and len(indexes) == 1:
            if any(holds(arg, args, wide) for arg in r.args):
                return value(r)
        elif r.args and all(holds(arg, args, wide) for arg in r.args):
            return value(r)
    plain = [r for r in rules if not r.args]
    return value(plain[0]) if plain else default


def numbers(table: dict[str, int]) -> list[int]:
    found = sorted(set(table.values()))
    base = found[0] & syscall_table.X32_SYSCALL_BIT
    return found + [base + 999, base + 0x3FFFFFF]


@pytest.mark.parametrize("name", PROFILES)
def test_every_decision_is_the_profile_s(name):
    profile = PROFILES[name]
    compiled = compiler.compile_profile(profile, "x86_64")
    program = unpack(bpf.pack(compiled.code))
    check(program)
    for abi, (arch, table) in ABIS.items():
        for nr, args in itertools.product(numbers(table), ARG_SAMPLES[:4]):
            got = run(program, seccomp_data(nr, arch, args)).value
            assert got == expected(profile, abi, nr, args), (abi, nr, args)
    table = syscall_table.X86_64
    arch = ABIS["SCMP_ARCH_X86_64"][0]
    for call, args in itertools.product(
            ["personality", "socket", "clone", "fcntl", "getpid", "mount", "ioctl", "lseek"],
            ARG_SAMPLES):
        got = run(program, seccomp_data(table[call], arch, args)).value
        assert got == expected(profile, "SCMP_ARCH_X86_64", table[call], args), (call, args)


def test_another_architecture_is_refused():
    program = unpack(bpf.pack(compiler.compile_profile(PROFILES["allow-list"], "x86_64").code))
    aarch64 = syscall_table.AUDIT_ARCH["aarch64"]
    assert run(program, seccomp_data(0, aarch64)).value == compiler.BAD_ARCH
    x32_read = syscall_table.X32["read"]
    x86_64 = syscall_table.AUDIT_ARCH["x86_64"]
    assert run(program, seccomp_data(x32_read, x86_64)).value == compiler.BAD_ARCH
    assert run(program, seccomp_data(-1, x86_64)).value == compiler.RET_ERRNO | ENOSYS


def test_names_no_abi_has_are_reported_not_compiled():
    compiled = compiler.compile_profile(PROFILES["allow-list"], "x86_64")
    assert compiled.skipped == ("no_such_call",)


def test_a_long_program_gets_far_jumps_that_land():
    # Every name of the table, each with its own condition: far more than
    # 255 instructions between the tree's first test and its last leaf.
    table = syscall_table.X86_64
    profile = Seccomp("SCMP_ACT_ERRNO", ENOSYS, [], [], [
        rule([name], "SCMP_ACT_ALLOW", (0, number, "SCMP_CMP_EQ"))
        for name, number in table.items()])
    program = unpack(bpf.pack(compiler.compile_profile(profile, "x86_64").code))
    check(program)
    assert len(program) > 1000
    arch = ABIS["SCMP_ARCH_X86_64"][0]
    for name, number in list(table.items())[::7]:
        assert run(program, seccomp_data(number, arch, (number,))).value == compiler.RET_ALLOW
        assert run(program, seccomp_data(number, arch, (number + 1,))).value == (
            compiler.RET_ERRNO | ENOSYS)


@pytest.mark.parametrize("profile, message", [
    (Seccomp("SCMP_ACT_BOGUS"), "unknown seccomp action 'SCMP_ACT_BOGUS'"),
    (Seccomp("SCMP_ACT_ALLOW", syscalls=[rule(["read"], "SCMP_ACT_NOTIFY")]), "NOTIFY"),
    (Seccomp("SCMP_ACT_ALLOW", syscalls=[rule(["read"], "SCMP_ACT_ERRNO", (6, 0, "SCMP_CMP_EQ"))]),
     "argument index 6"),
    (Seccomp("SCMP_ACT_ALLOW", syscalls=[rule(["read"], "SCMP_ACT_ERRNO", (0, 0, "SCMP_CMP_XX"))]),
     "unknown seccomp operator"),
    (Seccomp("SCMP_ACT_ALLOW", architectures=["x86"]), "unknown seccomp architecture 'x86'"),
])
def test_a_bad_profile_is_one_clear_error(profile, message):
    with pytest.raises(DkrError, match=message):
        compiler.compile_profile(profile, "x86_64")


# The default profile ------------------------------------------------------

def default_program(capabilities=defaults.CAPABILITIES):
    profile = default_profile(list(capabilities), "x86_64")
    return profile, unpack(bpf.pack(compiler.compile_profile(profile, "x86_64").code))


def test_the_default_profile_decides_as_it_says():
    profile, program = default_program()
    check(program)
    for abi in profile.architectures:
        arch, table = ABIS[abi]
        for nr, args in itertools.product(numbers(table), ARG_SAMPLES[:3]):
            got = run(program, seccomp_data(nr, arch, args)).value
            assert got == expected(profile, abi, nr, args), (abi, nr, args)


def test_the_default_program_is_small_and_its_paths_short():
    profile, program = default_program()
    arch, table = ABIS["SCMP_ARCH_X86_64"]
    allowed = [number for name, number in table.items()
               if run(program, seccomp_data(number, arch)).value == compiler.RET_ALLOW]
    longest = max(run(program, seccomp_data(number, arch)).steps for number in allowed)
    # libseccomp makes a linear chain of about 1,200 instructions for three
    # ABIs; scripts/seccomp-figures measures both.
    assert len(program) < 1000, len(program)
    assert longest <= 20, longest


# libseccomp, compiling the same profile -----------------------------------

LIBSECCOMP = """
import json, sys, seccomp
profile = json.load(sys.stdin)
ACTIONS = {"SCMP_ACT_ALLOW": lambda e: seccomp.ALLOW, "SCMP_ACT_ERRNO": seccomp.ERRNO,
           "SCMP_ACT_KILL": lambda e: seccomp.KILL, "SCMP_ACT_KILL_THREAD": lambda e: seccomp.KILL,
           "SCMP_ACT_KILL_PROCESS": lambda e: seccomp.KILL_PROCESS,
           "SCMP_ACT_TRAP": lambda e: seccomp.TRAP, "SCMP_ACT_LOG": lambda e: seccomp.LOG}
OPS = {"SCMP_CMP_EQ": seccomp.EQ, "SCMP_CMP_NE": seccomp.NE, "SCMP_CMP_LT": seccomp.LT,
       "SCMP_CMP_LE": seccomp.LE, "SCMP_CMP_GT": seccomp.GT, "SCMP_CMP_GE": seccomp.GE,
       "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ}
ARCHES = {"SCMP_ARCH_X86": seccomp.Arch.X86, "SCMP_ARCH_X32": seccomp.Arch.X32}
action = lambda name, errno: ACTIONS[name](errno if errno is not None else 1)
f = seccomp.SyscallFilter(action(profile["default"], profile["default_errno"]))
for arch in profile["arches"]:
    if arch in ARCHES:
        f.add_arch(ARCHES[arch])
for rule in profile["rules"]:
    for name in rule["names"]:
        try:
            f.add_rule(action(rule["action"], rule["errno"]), name,
                       *[seccomp.Arg(a["index"], OPS[a["op"]], a["value"], a["value_two"])
                         for a in rule["args"]])
        except (RuntimeError, ValueError, OSError):
            pass  # a name libseccomp does not know, or the default's own action
with open(sys.argv[1], "wb") as out:
    f.export_bpf(out)
"""


def libseccomp_rules(profile: Seccomp) -> list[dict]:
    """The profile's rules as the libseccomp script takes them: a rule whose
    conditions repeat one argument becomes one rule per condition (any of
    them), as runc hands them to libseccomp."""
    rules = []
    for r in profile.syscalls:
        indexes = [a.index for a in r.args]
        split = len(indexes) > 1 and len(set(indexes)) == 1
        for args in ([[a] for a in r.args] if split else [r.args]):
            rules.append({"names": r.names, "action": r.action, "errno": r.errno_ret,
                          "args": [vars(a) for a in args]})
    return rules


def libseccomp_program(profile: Seccomp, tmp_path) -> list:
    python = "/usr/bin/python3"
    if not os.path.exists(python) or subprocess.run(
            [python, "-c", "import seccomp"], capture_output=True).returncode != 0:
        pytest.skip("no libseccomp bindings (Debian: apt install python3-seccomp)")
    data = {"default": profile.default_action, "default_errno": profile.default_errno_ret,
            "arches": profile.architectures, "rules": libseccomp_rules(profile)}
    out = tmp_path / "libseccomp.bpf"
    subprocess.run([python, "-c", LIBSECCOMP, str(out)], input=json.dumps(data), text=True,
                   check=True)
    return unpack(out.read_bytes())


@pytest.mark.parametrize("name", ["allow-list", "default-allow", "the default"])
def test_libseccomp_decides_the_same(name, tmp_path):
    if name == "the default":
        profile, program = default_program()
    else:
        profile = PROFILES[name]
        program = unpack(bpf.pack(compiler.compile_profile(profile, "x86_64").code))
    theirs = libseccomp_program(profile, tmp_path)
    abis = ["SCMP_ARCH_X86_64", *[abi for abi in profile.architectures if abi in ABIS]]
    for abi in dict.fromkeys(abis):
        arch, table = ABIS[abi]
        for nr, args in itertools.product(sorted(set(table.values())), ARG_SAMPLES):
            data = seccomp_data(nr, arch, args)
            assert run(program, data).value == run(theirs, data).value, (abi, nr, args)
