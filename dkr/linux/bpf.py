# chapter: 6
"""bpf(2): load an eBPF program and attach it to a cgroup.

On cgroup v2 the kernel asks a program, not a list, which devices a
cgroup's processes may use: a BPF_PROG_TYPE_CGROUP_DEVICE program, run at
every mknod and open of a device node, that returns 1 to allow and 0 to
refuse. `Insn` is one eBPF instruction (bpf(2), the kernel's
Documentation/bpf/standardization/instruction-set.rst): 8 bytes, opcode,
two registers, a 16-bit offset and a 32-bit immediate.
"""

from __future__ import annotations

import ctypes
import enum
import struct
from typing import NamedTuple

from dkr.linux import syscalls
from dkr.linux.syscall import call, check, libc


class BpfCmd(enum.IntEnum):
    BPF_PROG_LOAD = 5
    BPF_PROG_ATTACH = 8


class ProgType(enum.IntEnum):
    BPF_PROG_TYPE_CGROUP_DEVICE = 15


class AttachType(enum.IntEnum):
    BPF_CGROUP_DEVICE = 6


BPF_F_ALLOW_MULTI = 2  # other programs (a parent's, the engine's) stay attached

# Opcodes: class | size/operation | source (bpf(2)'s "instruction set").
LDX_MEM_W = 0x61  # dst = *(u32 *)(src + off)
ALU32_AND_K = 0x54  # dst &= imm (32-bit)
ALU32_RSH_K = 0x74  # dst >>= imm (32-bit)
ALU32_MOV_K = 0xB4  # dst = imm (32-bit)
MOV64_X = 0xBF  # dst = src
JEQ_K = 0x15  # if dst == imm: pc += off
JNE_K = 0x55  # if dst != imm: pc += off
EXIT = 0x95  # return r0


class Insn(NamedTuple):
    """One eBPF instruction."""

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    def pack(self) -> bytes:
        registers = self.src << 4 | self.dst
        return struct.pack("<BBhi", self.code, registers, self.off, self.imm)


class _ProgLoad(ctypes.Structure):
    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32),
                ("insns", ctypes.c_uint64), ("license", ctypes.c_uint64),
                ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
                ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32),
                ("prog_flags", ctypes.c_uint32)]


class _ProgAttach(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_bpf_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32)]


def _bpf(cmd: BpfCmd, attr: ctypes.Structure) -> int:
    number, size = syscalls.number("bpf"), ctypes.sizeof(attr)
    return check(libc.syscall(number, int(cmd), ctypes.byref(attr), size))


def prog_load(prog_type: ProgType, program: list[Insn]) -> int:
    """Load `program`: a new fd for it. If the kernel's verifier refuses it,
    the error carries the verifier's log."""
    code = b"".join(insn.pack() for insn in program)
    buffer = ctypes.create_string_buffer(code)
    license = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(1 << 16)

    def invoke(prog_type: ProgType, count: int) -> int:
        attr = _ProgLoad(prog_type, count, ctypes.addressof(buffer),
                         ctypes.addressof(license), 1, len(log), ctypes.addressof(log))
        try:
            return _bpf(BpfCmd.BPF_PROG_LOAD, attr)
        except OSError as error:
            verifier = "; ".join(log.value.decode(errors="replace").split("\n")[:2])
            raise OSError(error.errno, f"{error.strerror}: {verifier}"
                          if verifier else error.strerror) from None

    return call("bpf(BPF_PROG_LOAD)", invoke, prog_type, len(program))


def prog_attach(cgroup_fd: int, prog_fd: int, attach_type: AttachType) -> None:
    """Attach a loaded program to the cgroup open at `cgroup_fd`; the cgroup
    keeps it (the fds may be closed) until the cgroup is removed."""
    attr = _ProgAttach(cgroup_fd, prog_fd, attach_type, BPF_F_ALLOW_MULTI)
    call("bpf(BPF_PROG_ATTACH)", lambda *_shown: _bpf(BpfCmd.BPF_PROG_ATTACH, attr),
         cgroup_fd, prog_fd, attach_type)
