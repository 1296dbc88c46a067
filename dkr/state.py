# chapter: 4
"""The host's record of each container: a state directory named by its id.

What dkr keeps on the host for a running container lives in one directory,
`$DKR_STATE/<id>` (by default /run/dkr/containers/<id>): the files it
mounts into the container (/etc/hosts and its friends), and a note of
everything else it made that outlives a killed dkr, written before it is
made (from chapter 5 on: the container's cgroup).

The directory names its owner, the dkr running the container. A dkr killed
with SIGKILL removes nothing, so before making a new directory, dkr takes
back every one whose owner is gone, with all it notes. Both happen under
a lock on the state root, so a directory is never seen half made. (/run is
a tmpfs: a reboot empties it, as it ends every container.)
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator

from dkr import owners
from dkr.errors import DkrError
from dkr.linux import unistd
from dkr.linux.unistd import LockOp, OFlag

ROOT = Path(os.environ.get("DKR_STATE", "/run/dkr/containers"))
OWNER = "owner"
# chapter: 10 {
# The owner of a container that `dkr create` made: it outlives its dkr, and
# only `dkr delete` removes it.
KEPT = "kept until dkr delete"
# }


def claim(container_id: str) -> Path:
    """Make the container's state directory, owned by this dkr (`remove`
    removes it)."""
    return make_owned(ROOT, container_id, lambda: reclaim_stale(ROOT),
                      f"a container with the id {container_id} exists already")


def make_owned(root: Path, name: str, reclaim: Callable[[], None], taken: str) -> Path:
    """Make `root/name`, owned by this dkr, after `reclaim` has taken back
    what dead dkrs left in `root`. Both happen under a lock on `root`, so
    no dkr ever sees a directory there without its owner. `taken` is the
    error for a name that is in use."""
    directory = root / name
    root.mkdir(parents=True, exist_ok=True)
    with locked(root):
        reclaim()
        try:
            unistd.mkdir(str(directory), 0o700)
        except FileExistsError:
            raise DkrError(taken) from None
        write_whole(directory / OWNER, f"{owners.me()}\n")
    return directory


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive flock(2) on `directory` while the block runs.

    Every dkr that makes or takes back what is in the directory holds it;
    the kernel drops it when the file is closed, or its holder killed."""
    fd = unistd.open_fd(str(directory), OFlag.O_DIRECTORY | OFlag.O_CLOEXEC)
    try:
        unistd.flock(fd, LockOp.LOCK_EX)
        yield
    finally:
        unistd.close(fd)


def write_whole(path: Path, text: str | bytes, mode: int = 0o600) -> None:
    """Write a file so that nobody ever reads it half written: into a
    temporary name first, then renamed into place."""
    temporary = path.with_name(f".{path.name}.new")
    flags = OFlag.O_CREAT | OFlag.O_TRUNC | OFlag.O_WRONLY | OFlag.O_CLOEXEC
    fd = unistd.open_fd(str(temporary), flags, mode)
    try:
        unistd.write(fd, text.encode() if isinstance(text, str) else text)
    finally:
        unistd.close(fd)
    unistd.rename(str(temporary), str(path))


def reclaim_stale(root: Path, remove_one: Callable[[Path], None] | None = None) -> None:
    """Take back what killed dkrs left in `root`: each directory whose owner
    is gone, or that has none (its dkr was killed while making it), removed
    by `remove_one` (by default `take_back`, for state directories). Call it
    holding `locked(root)`, under which every directory gets its owner."""
    remove_one = remove_one or take_back
    for directory in root.iterdir():
        if not directory.is_dir() or directory.name.startswith("."):
            continue
        try:
            owner = (directory / OWNER).read_text()
        except FileNotFoundError:
            owner = ""
        if owner.strip() == KEPT:  # chapter: 10
            continue  # chapter: 10
        if owners.is_stale(owner):
            remove_one(directory)


def take_back(directory: Path) -> None:
    """Remove what a dead dkr made for its container, as its notes say,
    then the directory. The notes go last, so that a dkr killed while
    doing this leaves a directory that the next one takes back again."""
    # chapter: 5 {
    from dkr import cgroups  # here: dkr.cgroups itself needs this module

    cgroups.take_back(directory)
    # }
    remove(directory)


def remove(directory: Path) -> None:
    """Remove a state directory and the files in it, the owner last."""
    with contextlib.suppress(FileNotFoundError):
        for entry in sorted(directory.iterdir(), key=lambda path: path.name == OWNER):
            with contextlib.suppress(FileNotFoundError):
                unistd.unlink(str(entry))
        unistd.rmdir(str(directory))
