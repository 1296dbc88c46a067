# chapter: 9
"""The *at calls: every path relative to an open directory.

A path given as a whole string is resolved by the kernel from "/" (or the
working directory) each time it is used, through whatever symlinks lie on
the way at that moment. A call of the *at family takes a directory file
descriptor instead, and resolves only the rest from there; with
AT_SYMLINK_NOFOLLOW it does not follow the last component either, and
openat2(2) can forbid symlinks anywhere on the way (RESOLVE_NO_SYMLINKS)
and any step above the directory (RESOLVE_BENEATH). Together they let a
program write inside a directory without ever reaching outside it: what
dkr's layer unpacker needs, since a layer is a tar file anyone may have
written.

Python's `os` has most of these calls as keyword arguments (`dir_fd`,
`follow_symlinks`); openat2 it lacks, so it is made through syscall(2) by
number. The last two calls, pwrite and ftruncate, lay out a file's data: the
other half of unpacking a file. As everywhere in dkr.linux: thin wrappers,
flags as `enum.IntFlag`, no policy.
"""

from __future__ import annotations

import ctypes
import enum
import os

from dkr.linux import syscalls
from dkr.linux.syscall import Octal, call, check
from dkr.linux.unistd import OFlag


class AtFlag(enum.IntFlag):
    """The AT_* flags of the *at calls (fcntl.h)."""

    AT_SYMLINK_NOFOLLOW = 0x100
    AT_REMOVEDIR = 0x200
    AT_SYMLINK_FOLLOW = 0x400
    AT_EMPTY_PATH = 0x1000


class ResolveFlag(enum.IntFlag):
    """The RESOLVE_* flags of openat2(2): how the kernel may walk the path."""

    RESOLVE_NO_XDEV = 0x01  # no mount point crossed
    RESOLVE_NO_MAGICLINKS = 0x02  # no /proc/PID/fd-style links
    RESOLVE_NO_SYMLINKS = 0x04  # no symlink at all, anywhere on the way
    RESOLVE_BENEATH = 0x08  # never above the directory (no "..", no "/")
    RESOLVE_IN_ROOT = 0x10  # the directory is "/" for this walk
    RESOLVE_CACHED = 0x20  # only from the dentry cache


class _OpenHow(ctypes.Structure):
    """struct open_how: openat2's extensible argument (its size says which
    version the caller knows)."""

    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dir_fd: int, path: str | bytes, flags: OFlag, mode: int = 0,
            resolve: ResolveFlag = ResolveFlag(0)) -> int:
    """Open `path` relative to `dir_fd`, walked as `resolve` allows: a new
    fd (Linux 5.6; ENOSYS before, or where a seccomp filter hides it)."""
    raw = os.fsencode(path)

    def invoke(dir_fd, path, flags, mode, resolve) -> int:
        how = _OpenHow(int(flags), int(mode), int(resolve))
        return check(_syscall4(_number("openat2"), dir_fd, raw, ctypes.byref(how),
                               ctypes.sizeof(how)), path)

    return call("openat2", invoke, dir_fd, path, OFlag(flags), Octal(mode),
                ResolveFlag(resolve))


# syscall(2) with the argument types of a call that takes an int, a string,
# a pointer and a size: declared once, so each call converts no more than it
# must. (A CDLL of its own, so as not to change the types of dkr's other
# callers of libc.syscall.)
_syscall4 = ctypes.CDLL(None, use_errno=True).syscall
_syscall4.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p,
                      ctypes.c_size_t]
_syscall4.restype = ctypes.c_long
_numbers: dict[str, int] = {}


def _number(name: str) -> int:
    """The number of system call `name` on this machine, looked up once."""
    if name not in _numbers:
        _numbers[name] = syscalls.number(name)
    return _numbers[name]


def openat(dir_fd: int, path: str | bytes, flags: OFlag, mode: int = 0) -> int:
    """Open `path` relative to `dir_fd`: a new fd."""
    return call("openat", lambda d, p, f, m: os.open(p, f, m, dir_fd=d),
                dir_fd, path, OFlag(flags), Octal(mode))


def mkdirat(dir_fd: int, name: str | bytes, mode: int) -> None:
    """Create the directory `name` in `dir_fd` (its mode cut by the umask)."""
    call("mkdirat", lambda d, n, m: os.mkdir(n, m, dir_fd=d), dir_fd, name, Octal(mode))


def mknodat(dir_fd: int, name: str | bytes, mode: int, device: int = 0) -> None:
    """Create the node `name` in `dir_fd`: `mode` holds its type (S_IFCHR,
    S_IFBLK, S_IFIFO) and permissions, `device` its os.makedev number."""
    call("mknodat", lambda d, n, m, v: os.mknod(n, m, v, dir_fd=d),
         dir_fd, name, Octal(mode), device)


def symlinkat(target: str | bytes, dir_fd: int, name: str | bytes) -> None:
    """Create the symlink `name` in `dir_fd`, holding `target` as it is."""
    call("symlinkat", lambda t, d, n: os.symlink(t, n, dir_fd=d), target, dir_fd, name)


def linkat(old_dir_fd: int, old: str | bytes, new_dir_fd: int, new: str | bytes,
           flags: AtFlag = AtFlag(0)) -> None:
    """Give the file `old` (in `old_dir_fd`) a second name, `new` (in
    `new_dir_fd`). Without AT_SYMLINK_FOLLOW a symlink `old` is linked
    itself, not the file it names."""

    def invoke(old_dir_fd, old, new_dir_fd, new, flags):
        os.link(old, new, src_dir_fd=old_dir_fd, dst_dir_fd=new_dir_fd,
                follow_symlinks=bool(flags & AtFlag.AT_SYMLINK_FOLLOW))

    call("linkat", invoke, old_dir_fd, old, new_dir_fd, new, AtFlag(flags))


def unlinkat(dir_fd: int, name: str | bytes, flags: AtFlag = AtFlag(0)) -> None:
    """Remove the name `name` from `dir_fd` (an empty directory with
    AT_REMOVEDIR). A symlink is removed itself, never followed."""

    def invoke(dir_fd, name, flags):
        if flags & AtFlag.AT_REMOVEDIR:
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)

    call("unlinkat", invoke, dir_fd, name, AtFlag(flags))


def fstatat(dir_fd: int, name: str | bytes,
            flags: AtFlag = AtFlag(0)) -> os.stat_result:
    """The status of `name` in `dir_fd` (of a symlink itself with
    AT_SYMLINK_NOFOLLOW)."""

    def invoke(dir_fd, name, flags):
        return os.stat(name, dir_fd=dir_fd,
                       follow_symlinks=not flags & AtFlag.AT_SYMLINK_NOFOLLOW)

    return call("fstatat", invoke, dir_fd, name, AtFlag(flags))


def fchownat(dir_fd: int, name: str | bytes, uid: int, gid: int,
             flags: AtFlag = AtFlag(0)) -> None:
    """Set the owner of `name` in `dir_fd` (of a symlink itself with
    AT_SYMLINK_NOFOLLOW: lchown)."""

    def invoke(dir_fd, name, uid, gid, flags):
        os.chown(name, uid, gid, dir_fd=dir_fd,
                 follow_symlinks=not flags & AtFlag.AT_SYMLINK_NOFOLLOW)

    call("fchownat", invoke, dir_fd, name, uid, gid, AtFlag(flags))


def fchown(fd: int, uid: int, gid: int) -> None:
    """Set the owner of an open file."""
    call("fchown", os.fchown, fd, uid, gid)


def fchmodat(dir_fd: int, name: str | bytes, mode: int,
             flags: AtFlag = AtFlag(0)) -> None:
    """Set the mode of `name` in `dir_fd`. With AT_SYMLINK_NOFOLLOW (glibc
    2.32 on) a symlink is refused rather than followed, since Linux keeps no
    mode for symlinks: Python raises ValueError for that refusal, and for
    every name under an older glibc."""

    def invoke(dir_fd, name, mode, flags):
        os.chmod(name, mode, dir_fd=dir_fd,
                 follow_symlinks=not flags & AtFlag.AT_SYMLINK_NOFOLLOW)

    call("fchmodat", invoke, dir_fd, name, Octal(mode), AtFlag(flags))


def fchmod(fd: int, mode: int) -> None:
    """Set the mode of an open file, setuid, setgid and sticky bits included."""
    call("fchmod", os.fchmod, fd, Octal(mode))


def utimensat(dir_fd: int, name: str | bytes, ns: tuple[int, int],
              flags: AtFlag = AtFlag(0)) -> None:
    """Set the access and modification times (nanoseconds) of `name` in
    `dir_fd` (of a symlink itself with AT_SYMLINK_NOFOLLOW)."""

    def invoke(dir_fd, name, ns, flags):
        os.utime(name, ns=ns, dir_fd=dir_fd,
                 follow_symlinks=not flags & AtFlag.AT_SYMLINK_NOFOLLOW)

    call("utimensat", invoke, dir_fd, name, ns, AtFlag(flags))


def futimens(fd: int, ns: tuple[int, int]) -> None:
    """Set the access and modification times (nanoseconds) of an open file."""
    call("futimens", lambda fd, ns: os.utime(fd, ns=ns), fd, ns)


def fsetxattr(fd: int, name: str, value: bytes) -> None:
    """Set the extended attribute `name` of an open file."""
    call("fsetxattr", os.setxattr, fd, name, value)


def lsetxattr(path: str | bytes, name: str, value: bytes) -> None:
    """Set the extended attribute `name` of `path`, of a symlink itself if
    the last component is one. (No *at form before Linux 6.13: give a
    path through /proc/self/fd/N/NAME to stay relative to a directory.)"""

    def invoke(path, name, value):
        os.setxattr(path, name, value, follow_symlinks=False)

    call("lsetxattr", invoke, path, name, value)


def getdents(dir_fd: int) -> list[os.DirEntry]:
    """The entries of the open directory `dir_fd` ("." and ".." left out);
    each entry's type comes from the listing, without a stat."""
    return call("getdents", lambda fd: list(os.scandir(fd)), dir_fd)


def pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
    """Write `data` at `offset` of an open file: how many bytes were written."""
    return call("pwrite", os.pwrite, fd, data, offset)


def ftruncate(fd: int, length: int) -> None:
    """Set the length of an open file; growing it leaves a hole (no blocks)."""
    call("ftruncate", os.ftruncate, fd, length)

