# chapter: 1
"""Which namespaces a container gets, and how its first process enters them."""

from __future__ import annotations

import os  # chapter: 10
from dkr.config import Spec
from dkr.config import Namespace  # chapter: 10
from dkr.errors import DkrError, shorten  # chapter: 10
from dkr import user_namespace  # chapter: 10
from dkr.linux import sched, unistd
from dkr.linux.sched import CloneFlags
from dkr.linux.unistd import OFlag  # chapter: 2

CLONE_FLAGS = {
    "uts": CloneFlags.CLONE_NEWUTS,
    "pid": CloneFlags.CLONE_NEWPID,  # chapter: 2
    "mount": CloneFlags.CLONE_NEWNS,  # chapter: 2
    "network": CloneFlags.CLONE_NEWNET,  # chapter: 4
    "ipc": CloneFlags.CLONE_NEWIPC,  # chapter: 6
    "cgroup": CloneFlags.CLONE_NEWCGROUP,  # chapter: 6
    "user": CloneFlags.CLONE_NEWUSER,  # chapter: 10
}


def fork_container(spec: Spec) -> int:
    """Fork the container's first process: its pid here, 0 in the child."""
    # chapter: 2-9 {
    # if spec.has_namespace("pid"):
    #     return _fork_as_pid_1()
    # }
    # chapter: 10 {
    # A new user namespace comes with the process (see dkr.user_namespace),
    # and a new PID namespace with it, in the same clone, to be its.
    user = CloneFlags.CLONE_NEWUSER if spec.new_namespace("user") else CloneFlags(0)
    joined = [namespace for namespace in spec.linux.namespaces
              if namespace.type == "pid" and namespace.path]
    if joined:
        return _fork_in(joined[0].path, user)
    if user:
        pid = CloneFlags.CLONE_NEWPID if spec.has_namespace("pid") else CloneFlags(0)
        return sched.clone(user | pid)
    if spec.has_namespace("pid"):
        return _fork_as_pid_1()
    # }
    return unistd.fork()


# chapter: 2 {
def _fork_as_pid_1() -> int:
    """Fork a child that is PID 1 of a new PID namespace: its pid here, 0 in it.

    unshare(CLONE_NEWPID) does not move the caller: it puts the caller's
    *next child* in the new namespace, as its PID 1. dkr then returns to its
    own namespace, so that any later child of dkr is born there again.

    The tests read the trace: dkr's `unshare(CLONE_NEWPID) = 0` comes before
    its `fork() = PID` (dkr.linux's traced wrappers, not os.fork), and the
    child's lines begin `container[1] `. While the container runs, dkr's
    /proc/PID/ns/pid_for_children is its /proc/PID/ns/pid again.
    """
    own = unistd.open_fd("/proc/self/ns/pid", OFlag.O_CLOEXEC)
    try:
        sched.unshare(CloneFlags.CLONE_NEWPID)
        pid = unistd.fork()
        if pid:
            sched.setns(own, CloneFlags.CLONE_NEWPID)
        return pid
    finally:
        unistd.close(own)
# }


# chapter: 10 {
def _fork_in(path: str, flags: CloneFlags) -> int:
    """Fork a child into the PID namespace at `path` (an engine's, such as
    another container's), and into new namespaces of `flags`: setns(2)
    too moves only the caller's next child."""
    own = unistd.open_fd("/proc/self/ns/pid", OFlag.O_CLOEXEC)
    try:
        target = _open_namespace(path, "pid")
        try:
            sched.setns(target, CloneFlags.CLONE_NEWPID)
        finally:
            unistd.close(target)
        pid = sched.clone(flags) if flags else unistd.fork()
        if pid:
            sched.setns(own, CloneFlags.CLONE_NEWPID)
        return pid
    finally:
        unistd.close(own)


def _open_namespace(path: str, kind: str) -> int:
    try:
        return unistd.open_fd(path, OFlag.O_CLOEXEC)
    except OSError as error:
        raise DkrError(f"cannot join the {kind} namespace {shorten(path)}: "
                       f"{error.strerror}") from None


def join_given(spec: Spec) -> None:
    """In the child: join the namespaces the spec names by `path` (all but
    the PID one), each opened before any is joined, since joining a mount
    namespace changes what a path means. A user namespace is joined first:
    the others may be its, and joining them needs its capabilities."""
    given = [(namespace, _open_namespace(namespace.path, namespace.type))
             for namespace in sorted(spec.linux.namespaces,
                                     key=lambda namespace: namespace.type != "user")
             if namespace.path and namespace.type != "pid"]
    for namespace, fd in given:
        own = f"/proc/self/ns/{PROC_NAMES[namespace.type]}"
        namespace.is_hosts = _same_file(fd, own)
        sched.setns(fd, CLONE_FLAGS[namespace.type])
        unistd.close(fd)
        if namespace.type == "user":
            user_namespace.be_root()


def _same_file(fd: int, path: str) -> bool:
    ours, theirs = os.fstat(fd), os.stat(path)
    return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)


# Each namespace's name under /proc/PID/ns.
PROC_NAMES = {"uts": "uts", "pid": "pid", "mount": "mnt", "network": "net",
              "ipc": "ipc", "cgroup": "cgroup", "user": "user"}


def of_process(spec: Spec, pid: int) -> None:
    """Have `spec` name by path the namespaces of the process `pid`, each of
    the kinds it lists: what a process that joins that one must join."""
    spec.linux.namespaces = [
        Namespace(namespace.type, f"/proc/{pid}/ns/{PROC_NAMES[namespace.type]}")
        for namespace in spec.linux.namespaces]


# }
def unshare_the_rest(spec: Spec) -> None:
    """In the child: the new namespaces the spec asks for, all but the PID one.

    One unshare(2) whose mask ORs together the CLONE_FLAGS flag of every
    namespace in `spec.linux.namespaces`, so that `--trace` shows one line
    such as `unshare(CLONE_NEWUTS) = 0`. The PID namespace is left out: it
    is fork_container's (from chapter 2 on), because unshare(CLONE_NEWPID)
    moves the caller's next child, not the caller. No call when the mask
    is empty.
    # chapter: 10 {

    A new user namespace is fork_container's too: the child was cloned in
    it, and the namespaces unshared here are that namespace's.
    # }
    """
    flags = CloneFlags(0)
    for namespace in spec.linux.namespaces:
        # chapter: 1-9 {
        # if namespace.type != "pid":
        # }
        if namespace.type not in ("pid", "user") and not namespace.path:  # chapter: 10
            flags |= CLONE_FLAGS[namespace.type]
    if flags:
        sched.unshare(flags)
