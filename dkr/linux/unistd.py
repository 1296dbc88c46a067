# chapter: 1
"""Processes, files and the root: the calls of unistd.h (and a few from os)."""

from __future__ import annotations

import contextlib  # chapter: 6
import ctypes
import enum
import errno
import fcntl  # chapter: 4
import os

from dkr.linux import syscalls
from dkr.linux.syscall import Octal, call, call_noreturn, check, cstr, libc


class OFlag(enum.IntFlag):
    """Flags of open(2) (O_RDONLY is 0: no flag)."""

    O_WRONLY = os.O_WRONLY
    O_RDWR = os.O_RDWR
    O_CREAT = os.O_CREAT
    O_EXCL = os.O_EXCL
    O_NOCTTY = os.O_NOCTTY
    O_TRUNC = os.O_TRUNC
    O_DIRECTORY = os.O_DIRECTORY
    O_NOFOLLOW = os.O_NOFOLLOW
    O_CLOEXEC = os.O_CLOEXEC
    O_NONBLOCK = os.O_NONBLOCK  # chapter: 10
    O_PATH = os.O_PATH  # chapter: 10
    O_APPEND = os.O_APPEND  # chapter: 10


def fork() -> int:
    """Create a child process; returns its pid, or 0 in the child."""
    return call("fork", os.fork)


def execvpe(file: str, args: list[str], env: dict[str, str]) -> None:
    """Replace this process with `file`, searched for in env's PATH."""
    call_noreturn("execvpe", _execvpe, file, args, env)


def _execvpe(file: str, args: list[str], env: dict[str, str]) -> None:
    """execvpe(3) by hand: os.execvpe imports modules as it goes, and after
    pivot_root the host's Python library is out of reach."""
    if not file:  # as glibc: an empty name is no file, not the current directory
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
    if "/" in file:
        os.execve(file, args, env)
    denied = last = None
    for directory in env.get("PATH", "").split(":"):
        try:
            os.execve(os.path.join(directory or ".", file), args, env)
        except OSError as error:  # as glibc: EACCES anywhere wins, else the last error
            last = error
            if error.errno == errno.EACCES:
                denied = error
    raise denied or last or FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))


def sethostname(name: str) -> None:
    """Set the hostname of the caller's UTS namespace.

    sethostname(2) takes the name as bytes and their length (no closing
    NUL). The call goes through `call` as "sethostname", with `name` as the
    one argument the tracer sees, so that `--trace` shows
    `sethostname("box") = 0` (the tests look for that line); `check` turns
    libc's -1 into an OSError, which `call` names.
    """
    raw = name.encode()
    call("sethostname", lambda n: check(libc.sethostname(raw, len(raw))), name)


def chroot(path: str) -> None:
    """Change the root directory the caller resolves "/" against."""
    call("chroot", os.chroot, path)


def chdir(path: str) -> None:
    """Change the working directory."""
    call("chdir", os.chdir, path)


def pivot_root(new_root: str, put_old: str) -> None:
    """Make `new_root` the root mount; the old root goes to `put_old`."""

    def invoke(new_root, put_old):  # glibc has no pivot_root: the call by number
        number = ctypes.c_long(syscalls.number("pivot_root"))
        check(libc.syscall(number, cstr(new_root), cstr(put_old)))

    call("pivot_root", invoke, new_root, put_old)


def setsid() -> int:
    """Start a new session (and process group) led by the caller."""
    return call("setsid", os.setsid)


def dup2(fd: int, fd2: int) -> int:
    """Make `fd2` a copy of `fd` (inheritable, so it survives exec)."""
    return call("dup2", os.dup2, fd, fd2)


def open_fd(path: str, flags: OFlag, mode: int = 0o644) -> int:
    """Open a file: a new file descriptor."""
    return call("open", os.open, path, OFlag(flags), Octal(mode))


def close(fd: int) -> None:
    """Close a file descriptor."""
    call("close", os.close, fd)


def set_inheritable(fd: int) -> None:
    """Keep `fd` open across exec (clear FD_CLOEXEC, which Python sets on every
    new fd)."""
    call("fcntl", os.set_inheritable, fd, True)


def mkdir(path: str, mode: int = 0o755) -> None:
    """Create a directory."""
    call("mkdir", os.mkdir, path, Octal(mode))


def symlink(target: str, path: str) -> None:
    """Create a symbolic link at `path` pointing to `target`."""
    call("symlink", os.symlink, target, path)


def getppid() -> int:
    """The parent's pid (0 when the parent is outside our PID namespace)."""
    return call("getppid", os.getppid)
# chapter: 4 {


def write(fd: int, data: bytes) -> int:
    """Write to a file descriptor: how many bytes were written."""
    return call("write", os.write, fd, data)


def unlink(path: str) -> None:
    """Remove a file's name."""
    call("unlink", os.unlink, path)


def rmdir(path: str) -> None:
    """Remove an empty directory."""
    call("rmdir", os.rmdir, path)


def rename(old: str, new: str) -> None:
    """Give a file a new name, replacing whatever had it, in one step."""
    call("rename", os.rename, old, new)


class LockOp(enum.IntFlag):
    """The operations of flock(2)."""

    LOCK_SH = fcntl.LOCK_SH
    LOCK_EX = fcntl.LOCK_EX
    LOCK_NB = fcntl.LOCK_NB
    LOCK_UN = fcntl.LOCK_UN


def flock(fd: int, operation: LockOp) -> None:
    """Take (or drop) an advisory lock on an open file; it also ends when the
    file is closed."""
    call("flock", fcntl.flock, fd, LockOp(operation))
# }
# chapter: 6 {


def setgroups(groups: list[int]) -> None:
    """Set the supplementary groups (needs CAP_SETGID)."""
    call("setgroups", os.setgroups, groups)


def setresgid(rgid: int, egid: int, sgid: int) -> None:
    """Set the real, effective and saved group ids."""
    call("setresgid", os.setresgid, rgid, egid, sgid)


def setresuid(ruid: int, euid: int, suid: int) -> None:
    """Set the real, effective and saved user ids. Leaving uid 0 empties
    the capability sets, unless PR_SET_KEEPCAPS keeps the permitted one."""
    call("setresuid", os.setresuid, ruid, euid, suid)


def umask(mask: int) -> int:
    """Set the file mode creation mask; the previous one."""
    return call("umask", os.umask, Octal(mask))


def getcwd() -> str:
    """The working directory. A directory outside the caller's root (one
    reached through an fd opened before pivot_root, say) reads as
    "(unreachable)/…", which callers must treat as no path at all."""
    return call("getcwd", os.getcwd)


class CloseRangeFlags(enum.IntFlag):
    CLOSE_RANGE_CLOEXEC = 4  # Linux 5.11


def close_on_exec_from(first: int) -> None:
    """Mark every fd from `first` up close-on-exec: close_range(2) with
    CLOSE_RANGE_CLOEXEC, else fcntl on each fd that /proc/self/fd lists:
    on an older kernel, or under a seccomp filter older than close_range
    that refuses it (EPERM). Marked rather than closed, so that the fds the
    caller still needs until exec stay open until then."""
    try:
        flags = CloseRangeFlags.CLOSE_RANGE_CLOEXEC
        number = syscalls.number("close_range")  # Linux 5.9, glibc 2.34
        call("close_range", lambda *_shown: check(libc.syscall(
            number, first, ctypes.c_uint(0xFFFFFFFF), int(flags))),
             first, flags)
    except OSError as error:
        if error.errno not in (errno.ENOSYS, errno.EINVAL, errno.EPERM):
            raise
        for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
            if fd >= first:
                with contextlib.suppress(OSError):  # the fd of the listing itself
                    os.set_inheritable(fd, False)
# }
