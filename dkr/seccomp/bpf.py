# chapter: 7
"""Classic BPF, the language of seccomp filters, and an assembler for it.

A filter is a list of instructions (struct sock_filter: a 16-bit opcode,
two 8-bit jump offsets, a 32-bit constant) that the kernel runs over a
`struct seccomp_data` at every system call: the call's number at offset 0,
the ABI (`arch`) at 4, and the six arguments, 64 bits each, from 16 on.
Jumps go forward only, and a conditional jump reaches at most 255
instructions ahead; `assemble` lays the program out and, where a target is
farther, jumps to a nearby `ja` (whose offset is 32 bits) instead.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Opcodes (linux/filter.h, linux/bpf_common.h).
LD_W_ABS = 0x20  # A = the 32-bit word at offset k of seccomp_data
AND_K = 0x54  # A &= k
JA = 0x05  # jump k ahead
JEQ_K = 0x15  # A == k ?
JGT_K = 0x25  # A > k ?
JGE_K = 0x35  # A >= k ?
JSET_K = 0x45  # A & k != 0 ?
RET_K = 0x06  # return k: the decision

MAX_INSTRUCTIONS = 4096  # BPF_MAXINSNS: the kernel refuses longer filters
MAX_SHORT_JUMP = 255


@dataclass(frozen=True)
class Instruction:
    """One instruction as the kernel takes it."""

    code: int
    jt: int = 0
    jf: int = 0
    k: int = 0

    def pack(self) -> bytes:
        return struct.pack("<HBBI", self.code, self.jt, self.jf, self.k & 0xFFFFFFFF)


@dataclass(frozen=True)
class Label:
    """A place in a program, to jump to."""

    name: str


@dataclass(frozen=True)
class Op:
    """A non-jump instruction before assembly."""

    code: int
    k: int = 0


@dataclass(frozen=True)
class Jump:
    """A conditional jump (`code` one of the J*_K) to `true` or `false`."""

    code: int
    k: int
    true: Label
    false: Label


@dataclass(frozen=True)
class Goto:
    """An unconditional jump."""

    target: Label


Item = Label | Op | Jump | Goto


class Program:
    """A program being written: instructions and labels, in order."""

    def __init__(self) -> None:
        self.items: list[Item] = []
        self._labels = 0

    def label(self, hint: str = "L") -> Label:
        """A new label, not yet placed."""
        self._labels += 1
        return Label(f"{hint}{self._labels}")

    def place(self, label: Label) -> None:
        self.items.append(label)

    def load(self, offset: int) -> None:
        self.items.append(Op(LD_W_ABS, offset))

    def mask(self, value: int) -> None:
        self.items.append(Op(AND_K, value))

    def ret(self, value: int) -> None:
        self.items.append(Op(RET_K, value))

    def jump(self, code: int, k: int, true: Label, false: Label) -> None:
        self.items.append(Jump(code, k & 0xFFFFFFFF, true, false))

    def goto(self, target: Label) -> None:
        self.items.append(Goto(target))


def assemble(program: Program) -> list[Instruction]:
    """Lay the program out: labels become offsets. A conditional jump whose
    target is more than 255 instructions ahead goes through a `ja` placed
    right after it; each such `ja` moves what follows, so the layout is
    repeated until nothing more needs one."""
    far: set[int] = set()  # indexes (into items) of jumps that need help
    while True:
        places, size = _layout(program.items, far)
        more = {index for index, item in enumerate(program.items)
                if isinstance(item, Jump) and index not in far
                and _needs_help(item, places, size[index])}
        if not more:
            break
        far |= more
    code: list[Instruction] = []
    for index, item in enumerate(program.items):
        at = size[index]
        if isinstance(item, Op):
            code.append(Instruction(item.code, k=item.k))
        elif isinstance(item, Goto):
            code.append(Instruction(JA, k=places[item.target] - at - 1))
        elif isinstance(item, Jump) and index in far:
            # jt: the ja just after (0); jf: the one after it (1)
            code.append(Instruction(item.code, 0, 1, item.k))
            code.append(Instruction(JA, k=places[item.true] - at - 2))
            code.append(Instruction(JA, k=places[item.false] - at - 3))
        elif isinstance(item, Jump):
            code.append(Instruction(item.code, places[item.true] - at - 1,
                                    places[item.false] - at - 1, item.k))
    if len(code) > MAX_INSTRUCTIONS:
        raise ValueError(f"the filter has {len(code)} instructions; the kernel takes "
                         f"at most {MAX_INSTRUCTIONS}")
    return code


def _layout(items: list[Item], far: set[int]) -> tuple[dict[Label, int], list[int]]:
    """Each label's position, and each item's, with `far` jumps three long."""
    places: dict[Label, int] = {}
    starts = []
    at = 0
    for index, item in enumerate(items):
        starts.append(at)
        if isinstance(item, Label):
            places[item] = at
        else:
            at += 3 if index in far else 1
    return places, starts


def _needs_help(jump: Jump, places: dict[Label, int], at: int) -> bool:
    for target in (jump.true, jump.false):
        distance = places[target] - at - 1
        if distance < 0:
            raise ValueError(f"jump backwards to {target.name}: BPF jumps only forward")
        if distance > MAX_SHORT_JUMP:
            return True
    return False


def pack(code: list[Instruction]) -> bytes:
    """The program as the bytes of a struct sock_filter array."""
    return b"".join(instruction.pack() for instruction in code)
