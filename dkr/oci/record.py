# chapter: 10
"""What dkr keeps of a created container: `state.json` in its state directory.

A container made by `dkr create` outlives the command that made it, so
each later command (`start`, `state`, `kill`, `delete`) finds it again by
its id: `$DKR_STATE/<id>/state.json` (under `--root` when given), written
whole, and read under the directory's lock, so that two engines' calls on
one id never interleave.

Its status is never written, because it changes without dkr: it is read
off the kernel each time. The container's process gone (its pid no longer
names the process it named, whose start time is kept with it): stopped.
The exec FIFO still there: created. Its cgroup frozen: paused. Else
running.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from dkr import OCI_VERSION, owners, state
from dkr.errors import DkrError, shorten
from dkr.oci import lifecycle

if TYPE_CHECKING:  # the record holds hooks as JSON: start and delete need no config
    from dkr.config import Hook

STATE_FILE = "state.json"
# runc's rule for ids: they name directories and cgroups.
ID = re.compile(r"[A-Za-z0-9_+.-]+", re.ASCII)


class Record:
    """A created container, as state.json holds it.

    A plain class, where dkr's other records are dataclasses: `start`,
    `state`, `kill` and `delete` load this module, and dataclasses loads
    inspect, a sixth of such a call's start-up."""

    def __init__(self, id: str, pid: int, process: str, bundle: str, created: str,
                 annotations: dict[str, str] | None = None, cgroup: str = "",
                 poststart: list[dict] | None = None,
                 poststop: list[dict] | None = None) -> None:
        self.id = id
        self.pid = pid
        self.process = process  # its first process, as owners.owner_id names it
        self.bundle = bundle
        self.created = created  # when, in RFC 3339
        self.annotations = annotations or {}
        self.cgroup = cgroup
        # The hooks `start` and `delete` run, as config.json gave them.
        self.poststart = poststart or []
        self.poststop = poststop or []

    def stopped(self) -> bool:
        """Whether the container's process has gone: its pid no longer names it."""
        return owners.owner_id(self.pid) != self.process

    def status(self, directory: Path) -> str:
        """created, running, paused or stopped: read off the kernel now."""
        if self.stopped():
            return "stopped"
        if lifecycle.is_waiting(directory):
            return "created"
        if self.cgroup and self.frozen():
            return "paused"
        return "running"

    def frozen(self) -> bool:
        from dkr.cgroups import open_cgroup

        try:
            return open_cgroup(self.cgroup).is_frozen()
        except FileNotFoundError:
            return False

    def oci_state(self, directory: Path) -> dict:
        """The state the runtime spec defines (and runc's extra fields)."""
        status = self.status(directory)
        return {"ociVersion": OCI_VERSION, "id": self.id, "status": status,
                "pid": self.pid if status != "stopped" else 0,
                "bundle": self.bundle, "created": self.created,
                "annotations": self.annotations}

    def save(self, directory: Path) -> None:
        state.write_whole(directory / STATE_FILE, json.dumps(vars(self)))


def check_id(container_id: str) -> str:
    """`container_id` if it can name a container; DkrError otherwise."""
    if not ID.fullmatch(container_id) or container_id in (".", ".."):
        raise DkrError(f"bad container id {shorten(container_id)!r}: use letters, "
                       f"digits and _ + . - (not . or ..)")
    return container_id


def directory_of(container_id: str) -> Path:
    return state.ROOT / check_id(container_id)


def load(directory: Path) -> Record:
    """The record in a container's state directory."""
    try:
        data = json.loads((directory / STATE_FILE).read_text())
    except FileNotFoundError:
        raise DkrError(f"container {directory.name} does not exist") from None
    return Record(**data)


@contextlib.contextmanager
def opened(container_id: str) -> Iterator[tuple[Path, Record]]:
    """The container's directory and record, under its lock."""
    directory = directory_of(container_id)
    if not directory.is_dir():
        raise DkrError(f"container {container_id} does not exist")
    with state.locked(directory):
        yield directory, load(directory)


def all_records() -> Iterator[tuple[Path, Record]]:
    """Every created container under the state root, by id."""
    if not state.ROOT.is_dir():
        return
    for directory in sorted(state.ROOT.iterdir()):
        with contextlib.suppress(DkrError, OSError, ValueError, TypeError):
            yield directory, load(directory)


def owner_of(pid: int) -> str:
    """How the record names the container's process ("PID STARTTIME")."""
    return owners.owner_id(pid) or ""


def hooks_json(hooks: list[Hook]) -> list[dict]:
    from dataclasses import asdict  # at create, which has loaded the config's

    return [asdict(hook) for hook in hooks]


def hooks_of(data: list[dict]) -> list[Hook]:
    from dkr.config import Hook

    return [Hook(**item) for item in data]
