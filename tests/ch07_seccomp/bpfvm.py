# chapter: 7
"""A classic-BPF interpreter for seccomp filters, as the kernel runs them.

The tests run dkr's programs (and libseccomp's, for the same profile) over
syscall numbers and arguments, and compare the decisions. It checks what the
kernel's checker would (every jump inside the program, a return at every
end), so a program that passes here loads there.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

LD_W_ABS, AND_K, JA, RET_K = 0x20, 0x54, 0x05, 0x06
JUMPS = {0x15: lambda a, k: a == k, 0x25: lambda a, k: a > k,
         0x35: lambda a, k: a >= k, 0x45: lambda a, k: a & k != 0}
# Also in libseccomp's output: A = X? no; A = M[k], M[k] = A, TAX, TXA.
LD_MEM, ST, TAX, TXA, LDX_MEM, STX = 0x60, 0x02, 0x07, 0x87, 0x61, 0x03


@dataclass(frozen=True)
class Run:
    """What a program decided, and how many instructions it took."""

    value: int
    steps: int


def unpack(code: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack_from("<HBBI", code, offset) for offset in range(0, len(code), 8)]


def seccomp_data(nr: int, arch: int, args: tuple[int, ...] = ()) -> bytes:
    args = tuple(args) + (0,) * (6 - len(args))
    return struct.pack("<IIQ6Q", nr & 0xFFFFFFFF, arch, 0, *(a & (2**64 - 1) for a in args))


def run(program: list[tuple[int, int, int, int]], data: bytes) -> Run:
    a = x = 0
    memory = [0] * 16
    pc = steps = 0
    while True:
        if pc >= len(program):
            raise AssertionError("ran off the end of the program")
        code, jt, jf, k = program[pc]
        steps += 1
        pc += 1
        if code == LD_W_ABS:
            a = struct.unpack_from("<I", data, k)[0]
        elif code == AND_K:
            a &= k
        elif code == JA:
            pc += k
        elif code in JUMPS:
            pc += jt if JUMPS[code](a, k) else jf
        elif code == RET_K:
            return Run(k, steps)
        elif code == LD_MEM:
            a = memory[k]
        elif code == ST:
            memory[k] = a
        elif code == TAX:
            x = a
        elif code == TXA:
            a = x
        elif code == LDX_MEM:
            x = memory[k]
        elif code == STX:
            memory[k] = x
        else:
            raise AssertionError(f"instruction {code:#x} at {pc - 1}: not in the interpreter")


def check(program: list[tuple[int, int, int, int]]) -> None:
    """What the kernel's checker refuses: a jump out, a last instruction
    that is not a return, more than 4096 instructions."""
    assert 0 < len(program) <= 4096, len(program)
    for index, (code, jt, jf, k) in enumerate(program):
        if code == JA:
            assert index + 1 + k < len(program), index
        elif code in JUMPS:
            assert index + 1 + max(jt, jf) < len(program), index
    assert program[-1][0] == RET_K
