# chapter: 7
"""Chapter 7: dkr's default seccomp profile, decision by decision.

dkr writes its profile itself, so it is checked against one it did not
write: Podman's default, /usr/share/containers/seccomp.json (Debian's
golang-github-containers-common), resolved for the same capabilities and
machine as Podman resolves it. For every x86_64 system call the two must
decide alike, except where DIFFERENCES says dkr differs, and why.
No root, no container.
"""

from __future__ import annotations

import json
import operator
import os
import re
from pathlib import Path
from typing import Callable

import pytest

from dkr import defaults
from dkr.config import Seccomp, SeccompArg
from dkr.errors import DkrError
from dkr.linux import syscall_table
from dkr.linux.capability_table import Cap
from dkr.linux.sched import CloneFlags
from dkr.seccomp import profile
from dkr.seccomp.profile import default_profile

PODMAN_PROFILE = Path("/usr/share/containers/seccomp.json")

Decision = tuple[str, int | None]  # an action, and its errno
ALLOW = ("SCMP_ACT_ALLOW", None)
EPERM = ("SCMP_ACT_ERRNO", 1)
ENOSYS = ("SCMP_ACT_ERRNO", 38)
CONDITIONAL = ("conditional", None)  # only rules with argument conditions name it

# Where dkr, given Docker's capabilities on x86_64, decides otherwise than
# Podman's profile: the names, dkr's decision, and why.
DIFFERENCES: list[tuple[tuple[str, ...], Decision, str]] = [
    (("keyctl", "add_key", "request_key"), EPERM,
     "the keyring is not namespaced; Podman allows keyctl, the others get ENOSYS"),
    (("mount", "umount2", "pivot_root", "fsopen", "fsconfig", "fsmount", "fspick",
      "move_mount", "open_tree", "mount_setattr", "unshare", "setns"), EPERM,
     "CAP_SYS_ADMIN's, as in Docker's profile (pivot_root too, which Docker "
     "refuses even then); Podman allows them and leaves the refusal to the "
     "kernel. For setns Podman has an EPERM rule, but its allow-list names "
     "setns first, and the first rule without conditions wins"),
    (("clone",), CONDITIONAL, "without namespace flags, as Docker; Podman: any"),
    (("clone3",), ENOSYS, "its flags are out of the filter's reach: clone instead"),
    (("socket",), CONDITIONAL,
     "not AF_ALG nor AF_VSOCK, as Docker; Podman checks only NETLINK_AUDIT, "
     "and not with CAP_AUDIT_WRITE, one of Docker's capabilities"),
    (("pidfd_getfd",), EPERM, "CAP_SYS_PTRACE's, as in Docker's profile"),
    (("get_mempolicy", "set_mempolicy", "mbind"), EPERM,
     "CAP_SYS_NICE's, as in Docker's profile"),
    (("reboot",), EPERM, "CAP_SYS_BOOT's, as in Docker's profile"),
    (("syslog",), EPERM, "CAP_SYSLOG's, as in Docker's profile"),
    (("futex_waitv",), ALLOW, "newer than Podman's file; Docker allows it"),
    (("quotactl_fd",), EPERM, "newer than Podman's file; gated as quotactl is"),
    (("set_mempolicy_home_node",), EPERM,
     "newer than Podman's file; gated as set_mempolicy is"),
]

# Real calls that are in none of the tables dkr has (x86_64, i386, x32 and
# aarch64, from linux-libc-dev 6.1): 32-bit ARM's and powerpc's own, and
# calls of later kernels.
ELSEWHERE = {
    "arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls",
    "send", "recv", "pciconfig_iobase", "pciconfig_read", "pciconfig_write",  # arm
    "sync_file_range2", "swapcontext",  # powerpc (the first an alias on arm)
    "cachestat",  # 6.5
    "fchmodat2", "map_shadow_stack",  # 6.6
    "futex_wake", "futex_wait", "futex_requeue",  # 6.7
    "statmount", "listmount", "lsm_get_self_attr", "lsm_set_self_attr",
    "lsm_list_modules",  # 6.8
    "mseal",  # 6.10
    "uretprobe",  # 6.11
    "setxattrat", "getxattrat", "listxattrat", "removexattrat",  # 6.13
}


# Podman's profile, resolved as Podman resolves it ---------------------------

def podman_rules(capabilities: list[str]) -> tuple[Decision, list[dict]]:
    """Podman's default action and the rules it hands the runtime for a
    container with `capabilities` on x86_64, as containers/common (and
    moby, whose code it shares) resolves includes and excludes:

    - `caps`: included if the bounding set has every one, excluded if it
      has any;
    - `arches`: matched against the engine's own architecture only, "amd64"
      on x86_64, not against the sub-architectures (x86, x32) the filter
      also decides; a rule for x86 alone would be left out;
    - `minKernel`: against the running kernel, as the engines do (this file
      has none; Docker's had one, 4.8 for ptrace).

    Checked once by hand: with the bounding set of a container Podman ran,
    this gives that container's config.json rules exactly."""
    if not PODMAN_PROFILE.exists():
        pytest.skip(f"no {PODMAN_PROFILE}: install golang-github-containers-common "
                    f"for Podman's default profile")
    document = json.loads(PODMAN_PROFILE.read_text())
    held = set(capabilities)

    def kept(rule: dict) -> bool:
        includes, excludes = rule.get("includes") or {}, rule.get("excludes") or {}
        if "amd64" in (excludes.get("arches") or []):
            return False
        if held & set(excludes.get("caps") or []):
            return False
        if "minKernel" in excludes and kernel() >= version(excludes["minKernel"]):
            return False
        if includes.get("arches") and "amd64" not in includes["arches"]:
            return False
        if "minKernel" in includes and kernel() < version(includes["minKernel"]):
            return False
        return set(includes.get("caps") or []) <= held

    default = (document["defaultAction"], document.get("defaultErrnoRet"))
    return default, [rule for rule in document["syscalls"] if kept(rule)]


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:2])


def kernel() -> tuple[int, ...]:
    return version(os.uname().release)


def decision(rules: list[tuple[list[str], str, int | None, bool]],
             default: Decision, name: str) -> Decision:
    """What a call of `name` gets, as libseccomp builds the filter under
    runc and crun: the first rule without conditions that names it (a later
    one, or one with conditions, adds nothing); CONDITIONAL if only rules
    with conditions name it; else the default. Rules are (names, action,
    errno, has conditions)."""
    conditional = False
    for names, action, errno_ret, has_args in rules:
        if name in names and not has_args:
            if action == "SCMP_ACT_ERRNO":
                return action, 1 if errno_ret is None else errno_ret
            return action, None
        conditional |= name in names
    return CONDITIONAL if conditional else default


def podman_decision(capabilities: list[str]) -> Callable[[str], Decision]:
    default, rules = podman_rules(capabilities)
    plain = [(rule["names"], rule["action"], rule.get("errnoRet"),
              bool(rule.get("args"))) for rule in rules]
    return lambda name: decision(plain, default, name)


def dkr_decision(seccomp: Seccomp) -> Callable[[str], Decision]:
    plain = [(rule.names, rule.action, rule.errno_ret, bool(rule.args))
             for rule in seccomp.syscalls]
    default = (seccomp.default_action, seccomp.default_errno_ret)
    return lambda name: decision(plain, default, name)


COMPARE = {"SCMP_CMP_EQ": operator.eq, "SCMP_CMP_NE": operator.ne,
           "SCMP_CMP_LT": operator.lt, "SCMP_CMP_LE": operator.le,
           "SCMP_CMP_GT": operator.gt, "SCMP_CMP_GE": operator.ge}


def holds(condition: SeccompArg, args: tuple[int, ...]) -> bool:
    """Whether the argument meets the condition, compared as an unsigned
    64-bit value, as the filter compares it."""
    value = args[condition.index] & (2**64 - 1)
    if condition.op == "SCMP_CMP_MASKED_EQ":
        return value & condition.value == condition.value_two
    return COMPARE[condition.op](value, condition.value)


def allows(seccomp: Seccomp, name: str, args: tuple[int, ...]) -> bool:
    """Whether a call with these arguments passes: the first rule naming
    `name` whose conditions all hold decides."""
    args = args + (0,) * (6 - len(args))
    for rule in seccomp.syscalls:
        if name in rule.names and all(holds(arg, args) for arg in rule.args):
            return rule.action == "SCMP_ACT_ALLOW"
    return seccomp.default_action == "SCMP_ACT_ALLOW"


DOCKER_CAPS = list(defaults.CAPABILITIES)
ALL_CAPS = [cap.name for cap in Cap]


# The comparison --------------------------------------------------------------

def test_every_x86_64_call_is_decided_as_podman_decides_it():
    ours = dkr_decision(default_profile(DOCKER_CAPS, "x86_64"))
    podmans = podman_decision(DOCKER_CAPS)
    documented = {name for names, _, _ in DIFFERENCES for name in names}
    differing = [f"{name}: dkr {ours(name)}, Podman {podmans(name)}"
                 for name in sorted(set(syscall_table.X86_64) - documented)
                 if ours(name) != podmans(name)]
    assert not differing, "\n".join(differing)


@pytest.mark.parametrize("names, ours, why", DIFFERENCES,
                         ids=[names[0] for names, _, _ in DIFFERENCES])
def test_each_difference_from_podman_is_real_and_as_documented(names, ours, why):
    dkr = dkr_decision(default_profile(DOCKER_CAPS, "x86_64"))
    podman = podman_decision(DOCKER_CAPS)
    for name in names:
        assert name in syscall_table.X86_64, f"{name} is not an x86_64 call"
        assert dkr(name) == ours, f"{name}: {why}"
        assert podman(name) != ours, f"{name} no longer differs from Podman's"


def test_both_check_personality_arguments():
    ours = dkr_decision(default_profile(DOCKER_CAPS, "x86_64"))
    assert ours("personality") == podman_decision(DOCKER_CAPS)("personality") \
        == CONDITIONAL


# The profile on its own ------------------------------------------------------

def test_unknown_calls_get_enosys_and_x86_64_decides_three_abis():
    seccomp = default_profile(DOCKER_CAPS, "x86_64")
    assert (seccomp.default_action, seccomp.default_errno_ret) == ENOSYS
    assert seccomp.architectures == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                     "SCMP_ARCH_X32"]
    decide = dkr_decision(seccomp)
    assert decide("io_uring_setup") == ENOSYS
    assert decide("arch_prctl") == decide("modify_ldt") == ALLOW
    assert decide("set_tls") == ENOSYS


def test_aarch64_gets_its_abis_and_the_arm_calls():
    seccomp = default_profile(DOCKER_CAPS, "aarch64")
    assert seccomp.architectures == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    decide = dkr_decision(seccomp)
    assert all(decide(name) == ALLOW for name in profile.ARCH_ALLOWED["aarch64"])
    assert decide("arch_prctl") == decide("modify_ldt") == ENOSYS


def test_machine_defaults_to_this_one_and_an_unknown_one_is_an_error():
    if os.uname().machine in profile.MACHINES:
        assert default_profile(DOCKER_CAPS) == default_profile(DOCKER_CAPS,
                                                               os.uname().machine)
    with pytest.raises(DkrError, match="x86_64 and aarch64"):
        default_profile(DOCKER_CAPS, "riscv64")


def test_calls_refused_on_purpose_get_eperm():
    decide = dkr_decision(default_profile(ALL_CAPS, "x86_64"))
    for names in profile.REFUSED.values():
        assert all(decide(name) == EPERM for name in names)
    assert decide("kexec_load") == decide("userfaultfd") == EPERM


@pytest.mark.parametrize("capabilities", [[], DOCKER_CAPS,
                                          DOCKER_CAPS + ["CAP_SYS_ADMIN"], ALL_CAPS],
                         ids=["none", "docker", "sys_admin", "all"])
def test_the_keyring_is_closed_whatever_the_capabilities(capabilities):
    decide = dkr_decision(default_profile(capabilities, "x86_64"))
    assert [decide(name) for name in ("keyctl", "add_key", "request_key")] \
        == [EPERM] * 3


def test_cap_sys_admin_opens_mounts_and_namespaces():
    without = dkr_decision(default_profile(DOCKER_CAPS, "x86_64"))
    with_it = dkr_decision(default_profile(DOCKER_CAPS + ["CAP_SYS_ADMIN"], "x86_64"))
    for name in ("mount", "umount2", "unshare", "setns", "sethostname", "bpf"):
        assert (without(name), with_it(name)) == (EPERM, ALLOW), name
    assert (without("clone"), with_it("clone")) == (CONDITIONAL, ALLOW)
    assert (without("clone3"), with_it("clone3")) == (ENOSYS, ALLOW)
    assert with_it("reboot") == with_it("init_module") == EPERM


@pytest.mark.parametrize("cap, name", [
    ("CAP_BPF", "bpf"), ("CAP_PERFMON", "perf_event_open"), ("CAP_SYSLOG", "syslog"),
    ("CAP_SYS_TIME", "clock_settime"), ("CAP_SYS_PTRACE", "kcmp"),
    ("CAP_SYS_MODULE", "finit_module"), ("CAP_SYS_PACCT", "acct"),
    ("CAP_SYS_RAWIO", "iopl"), ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_TTY_CONFIG", "vhangup"), ("CAP_SYS_NICE", "mbind"),
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"), ("CAP_SYS_CHROOT", "chroot"),
])
def test_each_capability_opens_its_calls_only(cap, name):
    others = [c for c in DOCKER_CAPS if c != cap]
    assert dkr_decision(default_profile(others, "x86_64"))(name) == EPERM
    assert dkr_decision(default_profile(others + [cap], "x86_64"))(name) == ALLOW
    assert dkr_decision(default_profile(others + [cap], "x86_64"))("mount") == EPERM


def test_all_capabilities_open_every_gated_call():
    decide = dkr_decision(default_profile(ALL_CAPS, "x86_64"))
    gated = [name for gate in profile.GATED for name in gate.names]
    assert [name for name in gated if decide(name) != ALLOW] == []
    assert decide("clone") == decide("clone3") == ALLOW


def test_clone_makes_no_namespace_without_cap_sys_admin():
    seccomp = default_profile(DOCKER_CAPS, "x86_64")
    thread = 0x3D0F00  # glibc's pthread_create: CLONE_VM | CLONE_THREAD | ...
    assert allows(seccomp, "clone", (thread,))
    assert allows(seccomp, "clone", (0x11 | 0x01200000,))  # fork(): SIGCHLD, tid
    for flag in CloneFlags:
        assert not allows(seccomp, "clone", (0x11 | flag,)), flag
    assert profile.NAMESPACE_FLAGS == 0x7E020000  # Docker's mask


def test_personality_only_with_dockers_values():
    seccomp = default_profile(DOCKER_CAPS, "x86_64")
    for value in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF):
        assert allows(seccomp, "personality", (value,)), hex(value)
    for value in (0x0400000, 0x1, 0x1_00000000, -1):  # READ_IMPLIES_EXEC, SVR4…
        assert not allows(seccomp, "personality", (value,)), hex(value)


def test_socket_is_refused_for_af_alg_and_af_vsock_only():
    seccomp = default_profile(DOCKER_CAPS, "x86_64")
    for family in (1, 2, 10, 16, 17, 37, 39, 41, 44, 45):  # unix, inet, netlink…
        assert allows(seccomp, "socket", (family, 1, 0)), family
    for family in (38, 40, 0x1_00000026, 0x1_00000028, 46, 2**64 - 1):
        assert not allows(seccomp, "socket", (family, 1, 0)), hex(family)


# Properties a compiler may rely on -------------------------------------------

@pytest.mark.parametrize("capabilities", [DOCKER_CAPS, ALL_CAPS], ids=["docker", "all"])
@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_order_of_the_rules_does_not_matter(capabilities, machine):
    """A name is in one rule without conditions, or only in rules with
    conditions that all allow; no rule compares one argument twice; every
    value fits in 64 bits."""
    seccomp = default_profile(capabilities, machine)
    plain: list[str] = []
    conditional: dict[str, set[str]] = {}
    for rule in seccomp.syscalls:
        if not rule.args:
            plain += rule.names
            continue
        for name in rule.names:
            conditional.setdefault(name, set()).add(rule.action)
        assert len({arg.index for arg in rule.args}) == len(rule.args)
        for arg in rule.args:
            assert 0 <= arg.value < 2**64 and 0 <= arg.value_two < 2**64
            assert 0 <= arg.index < 6
    assert sorted(plain) == sorted(set(plain)), "a name in two rules"
    assert not set(plain) & set(conditional)
    assert all(actions == {"SCMP_ACT_ALLOW"} for actions in conditional.values())


def test_groups_do_not_overlap_and_name_real_calls():
    allowed = [name for names in profile.ALLOWED.values() for name in names]
    refused = [name for names in profile.REFUSED.values() for name in names]
    gated = [name for gate in profile.GATED for name in gate.names]
    arch = [name for names in profile.ARCH_ALLOWED.values() for name in names]
    checked = ["personality", "socket", "clone", "clone3"]
    every = allowed + refused + gated + arch + checked
    assert len(every) == len(set(every)), "a name in two groups"
    known = {name for table in (syscall_table.X86_64, syscall_table.I386,
                                syscall_table.X32, syscall_table.AARCH64)
             for name in table}
    assert sorted(set(every) - known - ELSEWHERE) == []
    assert not ELSEWHERE & known, "a name of ELSEWHERE is in a table now"
