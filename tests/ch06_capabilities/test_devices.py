# chapter: 6
"""Chapter 6: the device controller, and the container's own /sys/fs/cgroup.

The container keeps CAP_MKNOD, so it can make a node for the host's disk;
its cgroup must keep it from opening it: v1's device list, or, on v2, the
eBPF program dkr compiles. CI runs this file on the host (v1) and in a VM
with cgroup v2 only, so both are proven on real kernels (--net none: the
VM's kernel has no bridge).
"""

from __future__ import annotations

import itertools
import struct

import pytest

from dkr import defaults
from dkr.cgroups import devices
from dkr.config import DeviceRule
from dkr.linux import bpf

DEFAULT = list(defaults.DEVICE_RULES)


def decide(rules: list[DeviceRule], kind: str, major: int, minor: int, asked: str) -> bool:
    """What the rules mean, said plainly: the last rule that matches decides."""
    for rule in reversed(rules):
        if rule.type not in ("a", kind) or rule.major not in (None, major):
            continue
        if rule.minor not in (None, minor):
            continue
        if rule.allow and set(asked) <= set(rule.access):
            return True
        if not rule.allow and set(asked) & set(rule.access):
            return False
    return False


def run_program(program: list[bpf.Insn], context: tuple[int, int, int]) -> int:
    """The few eBPF instructions the device program uses, run as the kernel would."""
    memory = struct.pack("<III", *context)
    registers = [0] * 11
    pc = 0
    while True:
        insn = program[pc]
        pc += 1
        if insn.code == bpf.LDX_MEM_W:
            registers[insn.dst] = struct.unpack_from("<I", memory, insn.off)[0]
        elif insn.code == bpf.MOV64_X:
            registers[insn.dst] = registers[insn.src]
        elif insn.code == bpf.ALU32_AND_K:
            registers[insn.dst] = registers[insn.dst] & insn.imm & 0xFFFFFFFF
        elif insn.code == bpf.ALU32_RSH_K:
            registers[insn.dst] = (registers[insn.dst] & 0xFFFFFFFF) >> insn.imm
        elif insn.code == bpf.ALU32_MOV_K:
            registers[insn.dst] = insn.imm & 0xFFFFFFFF
        elif insn.code in (bpf.JNE_K, bpf.JEQ_K):
            equal = registers[insn.dst] == insn.imm & 0xFFFFFFFFFFFFFFFF
            if equal == (insn.code == bpf.JEQ_K):
                pc += insn.off
        elif insn.code == bpf.EXIT:
            return registers[0]
        else:
            raise AssertionError(f"an instruction the test does not know: {insn}")


RULE_SETS = {
    "docker's": DEFAULT,
    "everything": [DeviceRule(allow=True)],
    "a denial after allows": [*DEFAULT, DeviceRule(False, "c", 1, 3, "w")],
    "block devices only": [DeviceRule(False), DeviceRule(True, "b", None, None, "rw")],
}
REQUESTS = list(itertools.product(
    "bc", (1, 5, 8, 10, 136, 254), (0, 1, 2, 3, 5, 7, 200), ("m", "r", "w", "rw", "rwm")))


@pytest.mark.parametrize("name", RULE_SETS)
def test_the_program_decides_as_the_rules_say(name):
    rules = RULE_SETS[name]
    program = devices.program(rules)
    for kind, major, minor, asked in REQUESTS:
        access = sum(devices.ACCESS[letter] for letter in asked)
        context = (access << 16 | devices.TYPES[kind], major, minor)
        assert run_program(program, context) == decide(rules, kind, major, minor, asked), (
            kind, major, minor, asked)


def test_every_jump_lands_inside_the_program():
    for rules in RULE_SETS.values():
        program = devices.program(rules)
        for index, insn in enumerate(program):
            if insn.code in (bpf.JNE_K, bpf.JEQ_K):
                assert 0 <= index + 1 + insn.off < len(program)
        assert program[-1].code == bpf.EXIT


def test_v1_lines_start_from_nothing():
    lines = devices.v1_lines(DEFAULT)
    assert lines[0] == ("devices.deny", "a")
    assert ("devices.allow", "c *:* m") in lines and ("devices.allow", "c 136:* rwm") in lines
    assert ("devices.allow", "c 1:3 rwm") in lines


# Devices of the host's that its root can open (here and in the v2 VM; the
# host's own disk may be closed even to it): a block and a character device.
HOST_DEVICES = {"loop0": ("b", 7, 0), "fuse": ("c", 10, 229)}
OPEN_BOTH = "; ".join(
    f"mknod /tmp/{name} {kind} {major} {minor} && echo made {name}; "
    f"(exec 3<> /tmp/{name}) && echo opened {name}; rm /tmp/{name}"
    for name, (kind, major, minor) in HOST_DEVICES.items())


def test_host_devices_can_be_made_but_not_opened(dkr):
    result = dkr("run", "--net", "none", "sh", "-c", OPEN_BOTH)
    assert result.stdout == "made loop0\nmade fuse\n", result.stderr
    assert result.stderr.count("Operation not permitted") == 2, result.stderr


def test_privileged_may_open_the_host_s_devices(dkr):
    # The cgroup lets the open through; a kernel without the driver may still
    # say there is no such device (ENXIO, ENODEV), but not EPERM.
    result = dkr("run", "--net", "none", "--privileged", "sh", "-c", OPEN_BOTH)
    assert result.stdout.startswith("made loop0\n") and "made fuse\n" in result.stdout
    assert "Operation not permitted" not in result.stderr, result.stderr


def test_the_container_s_own_devices_work(dkr):
    result = dkr("run", "--net", "none", "sh", "-c",
                 "head -c 4 /dev/zero | wc -c; head -c 4 /dev/urandom | wc -c; "
                 "echo x > /dev/null && echo null; echo x > /dev/full || echo full")
    assert result.stdout.split() == ["4", "4", "null", "full"], result.stderr


def test_sys_fs_cgroup_shows_the_container_s_own_limit_read_only(dkr):
    result = dkr("run", "--net", "none", "-m", "64m", "sh", "-c",
                 "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes"
                 " 2>/dev/null; echo x > /sys/fs/cgroup/cgroup.procs "
                 "|| echo x > /sys/fs/cgroup/memory/cgroup.procs || echo refused")
    assert result.stdout.split()[0] == str(64 << 20), result.stdout
    assert result.stdout.split()[-1] == "refused"
    assert "Read-only file system" in result.stderr
