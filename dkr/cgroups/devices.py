# chapter: 6
"""Which devices a container may make and use: the device controller.

CAP_MKNOD is among Docker's default capabilities, so root in a container
can make a node for the host's disk (`mknod /sda b 8 0`); what stops it
from opening it is its cgroup, which allows only the devices of the
spec's rules (Docker's: the null, zero, random and terminal devices).
Cgroup v1 keeps the rules as a list, written line by line to
devices.deny and devices.allow; cgroup v2 has no such files, and asks an
eBPF program that dkr compiles from the same rules and attaches to the
container's cgroup.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dkr.linux import unistd
from dkr.linux.bpf import (ALU32_AND_K, ALU32_MOV_K, ALU32_RSH_K, EXIT, JEQ_K, JNE_K,
                           LDX_MEM_W, MOV64_X, AttachType, Insn, ProgType, prog_attach,
                           prog_load)
from dkr.linux.fs import write_file
from dkr.linux.unistd import OFlag

if TYPE_CHECKING:
    from dkr.config import DeviceRule

# struct bpf_cgroup_dev_ctx: access_type (access << 16 | type), major, minor.
TYPES = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE
R0, R1, R2, R3, R4, R5, R6 = range(7)  # r1: the context; r2-r5: its fields


def v1_lines(rules: list[DeviceRule]) -> list[tuple[str, str]]:
    """(file, line) pairs for cgroup v1, in order: `a` to devices.deny
    empties the list, each allow adds to it."""
    lines = []
    for rule in rules:
        number = f"{_star(rule.major)}:{_star(rule.minor)}"
        line = "a" if rule.type == "a" else f"{rule.type} {number} {rule.access}"
        lines.append(("devices.allow" if rule.allow else "devices.deny", line))
    return lines


def _star(number: int | None) -> str:
    return "*" if number is None else str(number)


def write_v1(directory: str, rules: list[DeviceRule]) -> None:
    """Set the container's device list in its v1 devices cgroup."""
    for name, line in v1_lines(rules):
        write_file(os.path.join(directory, name), line)


def program(rules: list[DeviceRule]) -> list[Insn]:
    """The eBPF program that decides as `rules` do: the last rule that
    matches a request decides it; nothing matched, nothing allowed.

    A request matches an allow rule if the rule allows every access asked
    for, and a deny rule if it refuses any. Each rule is one block that
    jumps over itself at the first field that does not match."""
    code = [
        Insn(LDX_MEM_W, R2, R1, 0),  # access_type
        Insn(MOV64_X, R3, R2),
        Insn(ALU32_AND_K, R2, imm=0xFFFF),  # r2: the type
        Insn(ALU32_RSH_K, R3, imm=16),  # r3: the access asked for
        Insn(LDX_MEM_W, R4, R1, 4),  # major
        Insn(LDX_MEM_W, R5, R1, 8),  # minor
    ]
    for rule in reversed(rules):
        block = _rule_block(rule)
        code += block
        if len(block) == 2:  # no test: it decides everything left (the verifier
            return code      # refuses code that can never run)
    return code + [Insn(ALU32_MOV_K, R0, imm=0), Insn(EXIT)]


def _rule_block(rule: DeviceRule) -> list[Insn]:
    """One rule: its tests, each a jump past the block when a field does not
    match, then "return allow"."""
    access = sum(ACCESS[letter] for letter in set(rule.access))
    # (instructions before the jump, its opcode, register, value)
    tests: list[tuple[list[Insn], int, int, int]] = []
    if rule.type != "a":
        tests.append(([], JNE_K, R2, TYPES[rule.type]))
    if access != 7:
        # r6 = what is asked beyond what an allow rule allows (must be
        # nothing), or what is asked of what a deny rule refuses (must be
        # something).
        mask = ~access & 7 if rule.allow else access
        jump = JNE_K if rule.allow else JEQ_K
        tests.append(([Insn(MOV64_X, R6, R3), Insn(ALU32_AND_K, R6, imm=mask)],
                      jump, R6, 0))
    if rule.major is not None:
        tests.append(([], JNE_K, R4, rule.major))
    if rule.minor is not None:
        tests.append(([], JNE_K, R5, rule.minor))
    length = sum(len(before) + 1 for before, *_ in tests) + 2
    block: list[Insn] = []
    for before, jump, register, value in tests:
        block += before
        block.append(Insn(jump, register, off=length - len(block) - 1, imm=value))
    return block + [Insn(ALU32_MOV_K, R0, imm=int(rule.allow)), Insn(EXIT)]


def attach_v2(directory: str, rules: list[DeviceRule]) -> None:
    """Load the rules' program and attach it to the v2 cgroup `directory`."""
    prog_fd = prog_load(ProgType.BPF_PROG_TYPE_CGROUP_DEVICE, program(rules))
    try:
        cgroup_fd = unistd.open_fd(directory, OFlag.O_DIRECTORY | OFlag.O_CLOEXEC)
        try:
            prog_attach(cgroup_fd, prog_fd, AttachType.BPF_CGROUP_DEVICE)
        finally:
            unistd.close(cgroup_fd)
    finally:
        unistd.close(prog_fd)
