# chapter: 1
"""Who owns a piece of dkr's state on the host, so that a dead owner's can be
taken back.

A half-built root file system, a container's state directory or an address
lease names the dkr process that made it. A dkr killed with SIGKILL cannot
remove them; the next dkr that looks sees that the owner is gone and
removes them itself. A pid alone is not enough (a new process may get the
same pid), so an owner is written as "PID STARTTIME", the start time from
/proc/PID/stat.
"""

from __future__ import annotations

import os
from pathlib import Path


def owner_id(pid: int) -> str | None:
    """"PID STARTTIME" for a live process; None if it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    state, start_time = fields[0], fields[19].decode()
    return None if state in (b"Z", b"X") else f"{pid} {start_time}"


def me() -> str:
    """The owner id of this process."""
    return owner_id(os.getpid()) or f"{os.getpid()} 0"


def is_stale(owner: str) -> bool:
    """Whether the owner written in a lease or state directory has ended."""
    words = owner.split()
    if len(words) != 2 or not words[0].isdigit():
        return True  # unreadable: no live dkr wrote it
    return owner_id(int(words[0])) != " ".join(words)


# A directory being made, before it is renamed into place, is named
# STAGING + "PID-STARTTIME-" of the dkr making it + a random part.
STAGING = ".build-"


def make_staging(parent: Path) -> Path:
    """A new, empty directory in `parent` to build something in, named by
    this dkr, so that the next dkr removes it if this one is killed."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=f"{STAGING}{me().replace(' ', '-')}-",
                                 dir=parent))


def remove_stale_staging(parent: Path) -> None:
    """Remove the half-built directories in `parent` whose dkr is gone."""
    import shutil

    for entry in parent.iterdir():
        if entry.name.startswith(STAGING):
            pid, _, rest = entry.name[len(STAGING):].partition("-")
            if is_stale(f"{pid} {rest.partition('-')[0]}"):
                shutil.rmtree(entry, ignore_errors=True)
