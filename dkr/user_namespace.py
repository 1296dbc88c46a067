# chapter: 10
"""A user namespace: the container's root is root over the container alone.

With `user` in linux.namespaces, the container's uids and gids are the
host's as `linux.uidMappings` and `gidMappings` say (0 to 1999 in it are
1000 to 2999 on the host, say): its root has every capability, but only
over what its own namespaces hold, and to the host it is user 1000, who
owns nothing of the host's. A process that escapes the container's
mounts is that user there.

The namespace is made with the container's first process (dkr.sched's
clone), which starts as no one in it (65534: none of its ids is mapped
yet). Only a process outside may write the maps, once each, so the
child asks dkr, as it asks for its network:

    child                                  dkr
    clone(CLONE_NEWUSER|CLONE_NEWPID)
    "user" ───────────────────────────────▶ write /proc/PID/uid_map, gid_map
                                            set its rlimits and OOM score
    ◀──────────────────────────────── "go"
    setresgid(0), setresuid(0): root in it

The rlimits and OOM score are dkr's to set here: raising a hard limit or
lowering a score needs CAP_SYS_RESOURCE in the host's namespace, and the
child's capabilities are its namespace's alone from the clone on.
"""

from __future__ import annotations

import os

from dkr.channel import Channel
from dkr.config import Spec
from dkr.errors import DkrError, shorten
from dkr.linux import unistd
from dkr.linux.fs import read_file, write_file
from dkr.oci import inside


def map_ids(spec: Spec, pid: int) -> str:
    """In dkr, at the child's "user": write its maps (each in one write, as
    the kernel takes them) and set its limits."""
    write_file(f"/proc/{pid}/uid_map",
               "".join(mapping.line() for mapping in spec.linux.uid_mappings))
    write_file(f"/proc/{pid}/gid_map",
               "".join(mapping.line() for mapping in spec.linux.gid_mappings))
    inside.set_limits(spec.process, pid)
    return ""


def become_root(spec: Spec, channel: Channel) -> None:
    """In the child, in its new user namespace: have dkr map it, then be
    its root (uid and gid 0, mapped now), with the namespace's capabilities.

    That root is a host user without privileges to the host's files: the
    root file system must be within its reach, or its mount fails with a
    bare "Permission denied"; it is said here instead."""
    channel.ask("user")
    be_root()
    if not os.access(spec.root.path, os.X_OK):
        root = host_id_of_root(spec)
        raise DkrError(f"the container's root, the host's user {root}, cannot reach "
                       f"the root file system {shorten(spec.root.path)}: give that "
                       f"user search permission on it and on each directory above it")


def host_id_of_root(spec: Spec) -> int:
    """The host's uid that the container's uid 0 is."""
    return next(mapping.host_id - mapping.container_id
                for mapping in spec.linux.uid_mappings
                if mapping.container_id <= 0 < mapping.container_id + mapping.size)


def be_root() -> None:
    """Become uid and gid 0 of the user namespace this process is in: after
    the clone or setns(2) it keeps the host's ids, unmapped there (65534).
    Chapter 6's switch to the spec's user then starts from its root."""
    unistd.setresgid(0, 0, 0)
    unistd.setresuid(0, 0, 0)


def in_own() -> bool:
    """Whether this process is in a user namespace other than the host's:
    the host's maps all 2^32 - 1 ids onto themselves."""
    return read_file("/proc/self/uid_map").split() != ["0", "0", "4294967295"]
