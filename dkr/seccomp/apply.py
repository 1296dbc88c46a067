# chapter: 7
"""The container's filter: compiled by dkr before the fork, installed by the child.

Compiling in dkr means a bad profile is an error before the container's
process exists (what dkr made for it is removed again), and the child,
which has a copy of dkr's memory, only makes the one seccomp(2) call.
Compiling dkr's default profile takes some 15 ms, paid by every
container; so a compiled program is kept in dkr's data directory under
the digest of what it was compiled from (the profile, the machine, the
compiler's version), written whole, and read back next time.
"""

from __future__ import annotations

import hashlib
import os

from dkr.config import Seccomp, Spec
from dkr.errors import DkrError
from dkr.linux.seccomp import FilterFlags, set_mode_filter

# The version of the programs dkr's compiler writes: a cached program of
# another version is not used. (Raise it with every change to the compiler.)
COMPILER_VERSION = 1
FLAGS = {flag.name: flag for flag in FilterFlags}
_compiled: dict[int, bytes] = {}


def prepare(spec: Spec) -> None:
    """Compile the spec's profile now, in dkr (no call if it has none)."""
    profile = spec.linux.seccomp
    if profile is None or id(profile) in _compiled:
        return
    for flag in profile.flags:
        if flag not in FLAGS:
            raise DkrError(f"unknown seccomp flag {flag!r}: give one of "
                           f"{', '.join(FLAGS)}")
    _compiled[id(profile)] = _cached(profile, os.uname().machine)


def _cached(profile: Seccomp, machine: str) -> bytes:
    """The program for `profile`, from the cache if it is there."""
    from dkr.defaults import DATA_DIR  # where dkr keeps what it makes once
    from dkr.state import write_whole

    source = repr((COMPILER_VERSION, machine, profile)).encode()
    digest = hashlib.sha256(source).hexdigest()
    path = DATA_DIR / "seccomp" / f"{digest}.bpf"
    try:
        cached = path.read_bytes()
        if cached and len(cached) % 8 == 0:  # whole sock_filter entries
            return cached
    except FileNotFoundError:
        pass
    from dkr.seccomp.bpf import pack  # the compiler, only when the cache misses
    from dkr.seccomp.compiler import compile_profile

    program = pack(compile_profile(profile, machine).code)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, program)
    except OSError:
        pass  # no cache this time: the program is still good
    return program


def install(spec: Spec) -> None:
    """In the child: install the filter prepared for the spec.

    As late as the kernel allows: with no_new_privs, just before exec;
    without it the kernel takes a filter only from a caller that holds
    CAP_SYS_ADMIN, so before the switch of user takes it. Every call dkr
    makes after that passes the filter too."""
    profile = spec.linux.seccomp
    if profile is None:
        return
    flags = FilterFlags(0)
    for flag in profile.flags:
        flags |= FLAGS[flag]
    set_mode_filter(_compiled[id(profile)], flags)