# chapter: 7
"""From an OCI seccomp profile to a BPF program.

The program the kernel runs at each system call of the container:

1. The ABI first. The same number means another call in another ABI
   (x86_64's 0 is read, i386's 0 is restart_syscall), so each ABI the
   profile lists gets its own decisions, and a call from any other ABI is
   refused. On x86_64, x32 calls come with the x86_64 `arch` and bit 30 set
   in the number: they go to x32's decisions if the profile lists x32, and
   are refused if it does not.
2. Then the number, by a search tree: about ten comparisons to reach any of
   some 350 calls, where a chain would take up to 350.
3. For a call with argument conditions, its rules in order; each 64-bit
   argument is compared as two 32-bit halves, the high one first (in a
   32-bit ABI, i386 or x32, only the low one: the high half holds nothing
   the call reads, as libseccomp has it).

Rules whose action is the default's are left out, and so is every number
that has no rule: the tree's gaps return the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from dkr.config import SeccompArg, Seccomp, SyscallRule
from dkr.errors import DkrError
from dkr.linux import syscall_table
from dkr.seccomp.bpf import (JEQ_K, JGE_K, JGT_K, Instruction, Label, Program,
                             assemble)

# struct seccomp_data
NR, ARCH, ARGS = 0, 4, 16
# The filter's answers (linux/seccomp.h): the action in the high 16 bits.
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
ACTIONS = {
    "SCMP_ACT_KILL": RET_KILL_THREAD, "SCMP_ACT_KILL_THREAD": RET_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": RET_KILL_PROCESS, "SCMP_ACT_TRAP": RET_TRAP,
    "SCMP_ACT_ERRNO": RET_ERRNO, "SCMP_ACT_TRACE": RET_TRACE, "SCMP_ACT_LOG": RET_LOG,
    "SCMP_ACT_ALLOW": RET_ALLOW,
}
# What a call from an ABI the profile does not list gets, as with libseccomp.
BAD_ARCH = RET_KILL_THREAD
EPERM = 1
# The ABIs dkr compiles for: name in profiles -> (AUDIT_ARCH name, table).
ARCHITECTURES = {
    "SCMP_ARCH_X86_64": ("x86_64", "X86_64"),
    "SCMP_ARCH_X86": ("i386", "I386"),
    "SCMP_ARCH_X32": ("x86_64", "X32"),
    "SCMP_ARCH_AARCH64": ("aarch64", "AARCH64"),
}
# A machine's own ABI, always decided (os.uname()'s names).
NATIVE = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


@dataclass(frozen=True)
class Filter:
    """A compiled profile: the program, and what it was made of."""

    code: list[Instruction]
    skipped: tuple[str, ...]  # names no listed ABI has


def action_value(action: str, errno_ret: int | None, default_errno: int) -> int:
    """An action's return value, errno (or a tracer's data) in the low 16 bits."""
    if action == "SCMP_ACT_NOTIFY":
        raise DkrError("seccomp action SCMP_ACT_NOTIFY needs a listener, which dkr "
                       "does not offer: use another action")
    if action not in ACTIONS:
        raise DkrError(f"unknown seccomp action {action!r}: give one of "
                       f"{', '.join(sorted(ACTIONS))}")
    value = ACTIONS[action]
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value |= (errno_ret if errno_ret is not None else default_errno) & 0xFFFF
    return value


def compile_profile(profile: Seccomp, machine: str) -> Filter:
    """The program for `profile` on a host whose machine is `machine`."""
    default = action_value(profile.default_action, profile.default_errno_ret, EPERM)
    listed = _architectures(profile, machine)
    program = Program()
    program.load(ARCH)
    by_audit: dict[str, list[str]] = {}
    for name in listed:
        by_audit.setdefault(ARCHITECTURES[name][0], []).append(name)
    entries = {audit: program.label(audit) for audit in by_audit}
    for audit, label in entries.items():
        after = program.label("next_arch")
        program.jump(JEQ_K, syscall_table.AUDIT_ARCH[audit], label, after)
        program.place(after)
    program.ret(BAD_ARCH)
    named: set[str] = set()
    for audit, names in by_audit.items():
        program.place(entries[audit])
        program.load(NR)
        tables = {name: _table(name) for name in names}
        for table in tables.values():
            named |= {name for rule in profile.syscalls for name in rule.names
                      if name in table}
        _decide_abi(program, profile, tables, default, wide=audit != "i386")
    skipped = tuple(sorted({name for rule in profile.syscalls for name in rule.names}
                           - named))
    return Filter(assemble(program), skipped)


def _table(architecture: str) -> dict[str, int]:
    return getattr(syscall_table, ARCHITECTURES[architecture][1])


def _architectures(profile: Seccomp, machine: str) -> list[str]:
    """The profile's ABIs this host can run; its native one if none is listed."""
    if machine not in NATIVE:
        raise DkrError(f"dkr's seccomp filter does not know this machine ({machine})")
    unknown = [name for name in profile.architectures if name not in ARCHITECTURES
               and not name.startswith("SCMP_ARCH_")]
    if unknown:
        raise DkrError(f"unknown seccomp architecture {unknown[0]!r}: give names such "
                       f"as SCMP_ARCH_X86_64")
    runnable = [name for name in profile.architectures if name in ARCHITECTURES
                and ARCHITECTURES[name][0] in _same_machine(machine)]
    native = NATIVE[machine]
    return list(dict.fromkeys([native, *runnable]))


def _same_machine(machine: str) -> tuple[str, ...]:
    return ("x86_64", "i386") if machine == "x86_64" else (machine,)


def _decide_abi(program: Program, profile: Seccomp, tables: dict[str, dict[str, int]],
                default: int, wide: bool) -> None:
    """The decisions for one `arch` value: its number tables (x86_64 and
    x32 share one), the number in A."""
    if "SCMP_ARCH_X86_64" in tables or "SCMP_ARCH_X32" in tables:
        x32, native = program.label("x32"), program.label("x86_64")
        skipped, numbered = program.label("minus_1"), program.label("numbered")
        # -1: a tracer skipped the call; no ABI's number, so the default
        program.jump(JEQ_K, 0xFFFFFFFF, skipped, numbered)
        program.place(skipped)
        program.ret(default)
        program.place(numbered)
        program.jump(JGE_K, syscall_table.X32_SYSCALL_BIT, x32, native)
        program.place(native)
        _decide(program, profile, tables.get("SCMP_ARCH_X86_64", {}), default, wide)
        program.place(x32)
        if "SCMP_ARCH_X32" in tables:  # 32-bit arguments, as libseccomp has them
            _decide(program, profile, tables["SCMP_ARCH_X32"], default, wide=False)
        else:
            program.ret(BAD_ARCH)
        return
    for table in tables.values():
        _decide(program, profile, table, default, wide)


def _decide(program: Program, profile: Seccomp, table: dict[str, int],
            default: int, wide: bool) -> None:
    """A search tree over the numbers, the number in A."""
    rules: dict[int, list[SyscallRule]] = {}
    for rule in profile.syscalls:
        for name in rule.names:
            if name in table:
                rules.setdefault(table[name], []).append(rule)
    decisions = {number: _split(found) for number, found in rules.items()}
    _tree(program, segments(decisions, default), default, wide)


Leaf = int | list  # a return value, or a number's rules with conditions


def segments(decisions: dict[int, list[tuple[list[SeccompArg], int]]],
             default: int) -> list[tuple[int, Leaf]]:
    """The numbers 0 to 2**32 - 1 cut into runs that end the same way, as
    (first number, leaf): neighbours with the same answer share one run, the
    gaps between numbers that have rules answer the default, and each number
    with conditions is a run of its own."""
    starts: dict[int, Leaf] = {0: default}
    for number in sorted(decisions):
        rules = decisions[number]
        if all(value == default for _, value in rules):
            leaf: Leaf = default
        else:
            leaf = rules[0][1] if not rules[0][0] else rules
        starts[number] = leaf
        starts.setdefault(number + 1, default)  # unless the next number has rules
    runs: list[tuple[int, Leaf]] = []
    for first in sorted(starts):
        leaf = starts[first]
        same = runs and isinstance(leaf, int) and runs[-1][1] == leaf
        if first > 0xFFFFFFFF or same:  # beyond the last number, or the run goes on
            continue
        runs.append((first, leaf))
    return runs


def _split(rules: list[SyscallRule]) -> list[tuple[list[SeccompArg], int]]:
    """A number's rules as (conditions, value), conditional ones first, as
    libseccomp orders them. Conditions on one argument repeated in a rule
    mean any of them (runc's reading), so such a rule becomes one per
    condition."""
    conditional: list[tuple[list[SeccompArg], int]] = []
    plain: list[tuple[list[SeccompArg], int]] = []
    for rule in rules:
        value = action_value(rule.action, rule.errno_ret, EPERM)  # the spec's default
        indexes = [arg.index for arg in rule.args]
        if len(indexes) > 1 and len(set(indexes)) == 1:
            conditional += [([arg], value) for arg in rule.args]
        elif rule.args:
            conditional.append((list(rule.args), value))
        else:
            plain.append(([], value))
    return conditional + plain[:1]


def _tree(program: Program, runs: list[tuple[int, Leaf]], default: int,
          wide: bool) -> None:
    """A balanced tree of `jge` over the runs' first numbers: each test
    halves the runs left, so a run among n is found in about log2(n)
    tests; a leaf is a return, or a number's rules."""
    if len(runs) == 1:
        leaf = runs[0][1]
        if isinstance(leaf, list):
            _rules(program, leaf, default, wide)
        else:
            program.ret(leaf)
        return
    middle = len(runs) // 2
    low, high = program.label("low"), program.label("high")
    program.jump(JGE_K, runs[middle][0], high, low)
    program.place(low)
    _tree(program, runs[:middle], default, wide)
    program.place(high)
    _tree(program, runs[middle:], default, wide)


def _rules(program: Program, rules: list[tuple[list[SeccompArg], int]],
           default: int, wide: bool) -> None:
    """One number's rules in order: the first whose conditions all hold
    decides; none does: the default. A's number is lost once arguments are
    loaded, so every path ends here in a return."""
    for conditions, value in rules:
        if not conditions:
            program.ret(value)
            return
        fail = program.label("fail")
        for condition in conditions:
            passed = program.label("pass")
            compare(program, condition, passed, fail, wide)
            program.place(passed)
        program.ret(value)
        program.place(fail)
    program.ret(default)


def compare(program: Program, arg: SeccompArg, passed: Label, failed: Label,
            wide: bool = True) -> None:
    """Jump to `passed` if the argument meets `arg`, else to `failed`: for a
    64-bit argument (`wide`), the high halves first, then, if they are
    equal, the low ones; for a 32-bit one, the low halves alone."""
    if not 0 <= arg.index < 6:
        raise DkrError(f"seccomp argument index {arg.index}: give 0 to 5")
    low, high = ARGS + 8 * arg.index, ARGS + 8 * arg.index + 4
    width = 2**64 - 1 if wide else 0xFFFFFFFF
    value, two = arg.value & width, arg.value_two & width
    op = arg.op
    if op in ("SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_MASKED_EQ"):
        want = two if op == "SCMP_CMP_MASKED_EQ" else value
        equal, unequal = (passed, failed) if op != "SCMP_CMP_NE" else (failed, passed)
        halves_match = program.label("high_ok")
        halves = [(high, 32, halves_match)] if wide else []
        halves.append((low, 0, equal))
        for offset, shift, on_match in halves:
            program.load(offset)
            if op == "SCMP_CMP_MASKED_EQ":
                program.mask(value >> shift & 0xFFFFFFFF)
            program.jump(JEQ_K, want >> shift & 0xFFFFFFFF, on_match, unequal)
            if on_match is halves_match:
                program.place(halves_match)
        return
    comparisons = {"SCMP_CMP_GT": (JGT_K, False), "SCMP_CMP_GE": (JGE_K, False),
                   "SCMP_CMP_LE": (JGT_K, True), "SCMP_CMP_LT": (JGE_K, True)}
    if op not in comparisons:
        raise DkrError(f"unknown seccomp operator {op!r}: give one of SCMP_CMP_NE, "
                       f"_LT, _LE, _EQ, _GE, _GT, _MASKED_EQ")
    code, negated = comparisons[op]  # LE is "not GT", LT is "not GE"
    yes, no = (failed, passed) if negated else (passed, failed)
    if wide:
        above, equal_high = program.label("high_gt"), program.label("high_eq")
        program.load(high)
        program.jump(JGT_K, value >> 32, yes, above)
        program.place(above)
        program.jump(JEQ_K, value >> 32, equal_high, no)
        program.place(equal_high)
    program.load(low)
    program.jump(code, value & 0xFFFFFFFF, yes, no)
