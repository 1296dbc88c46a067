# chapter: 10
"""`dkr run`'s containers, as Docker keeps them: ps, stop, rm, logs, run -d.

The runtime's state directory lives as long as the container's process;
Docker's idea of a container lives from `run` to `rm`, and has a name, an
exit status and its output. dkr keeps that in a record of its own, one
directory per container under `$DKR_DATA/containers/<id>/`: `run.json`
(name, command, pid, exit status) and, with -d, `container.log`.

A foreground `dkr run` makes the record and removes it when the container
ends, as it has since chapter 1: its output went to the terminal and its
status is dkr's. `dkr run -d` leaves a monitor behind, a process of dkr's
own (Podman has conmon): it runs the container as a foreground dkr would,
keeps its `-p` ports and its log, and when the container ends it removes
the network and the cgroup, writes the exit status, and hands the record
over to `dkr rm` (or, with --rm, removes it too).

The record names its owner, as a state directory does (dkr.state): the
dkr or monitor running it, or KEPT once it has ended. A killed owner's
record is taken back by the next `dkr run`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator, NoReturn

from dkr import owners, state
from dkr.defaults import DATA_DIR
from dkr.errors import EXIT_DKR_FAILED, DkrError, describe, report, shorten
from dkr.linux.signal import kill_if_there
from dkr.linux.wait import ended_within
from dkr.listing import duration, print_table

RECORD = "run.json"
LOG = "container.log"
# Docker's rule for names, at most 128 characters.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)
# The status of Docker's commands other than `run` when they fail.
EXIT_FAILED = 1
# How long stop and rm -f wait for the owner to finish its clean-up.
CLEAN_UP_WAIT = 10.0


def records_root() -> Path:
    return DATA_DIR / "containers"


@dataclass
class Run:
    """A container of `dkr run`, as run.json holds it."""

    id: str
    command: list[str]
    image: str = ""
    name: str = ""
    created: float = field(default_factory=time.time)
    detached: bool = False
    remove: bool = False  # --rm: no record once it has ended
    pid: int = 0
    process: str = ""  # the pid's owner id (dkr.owners), against pid reuse
    exit_code: int | None = None
    finished: float = 0.0

    def save(self, directory: Path) -> None:
        state.write_whole(directory / RECORD, json.dumps(asdict(self)))

    def running(self) -> bool:
        return bool(self.pid) and owners.owner_id(self.pid) == self.process

    def status(self, owner: str) -> str:
        """Docker's STATUS column."""
        if self.exit_code is not None:
            return f"Exited ({self.exit_code}) {_ago(self.finished)} ago"
        if _finished_with(owner):
            return "Dead"  # its dkr was killed: the next dkr run takes it back
        return f"Up {_ago(self.created)}" if self.pid else "Created"


def _finished_with(owner: str) -> bool:
    """Whether a record's owner is done with its container: it has handed
    the record over (KEPT), or it is gone."""
    return owner == state.KEPT or owners.is_stale(owner)


def _ago(when: float) -> str:
    """How long since `when`, as Docker's STATUS and CREATED say it."""
    seconds = max(0, int(time.time() - when))
    return duration(seconds) or f"{seconds} second{'s' if seconds != 1 else ''}"


def claim(run: Run) -> Path:
    """Make the record's directory, owned by this dkr, once no other
    container has its name (under the lock on the records' root)."""
    root = records_root()

    def reclaim_and_check() -> None:
        state.reclaim_stale(root, state.remove)
        if run.name and any(other.name == run.name for _, other, _ in records()):
            raise DkrError(f"the name {run.name!r} is in use already: remove that "
                           f"container (dkr rm {run.name}) or give another --name")

    directory = state.make_owned(root, run.id, reclaim_and_check,
                                 f"a container with the id {run.id} exists already")
    run.save(directory)
    return directory


def load(directory: Path) -> tuple[Run, str]:
    """The record in `directory` and its owner."""
    run = Run(**json.loads((directory / RECORD).read_text()))
    return run, (directory / state.OWNER).read_text().strip()


def records() -> Iterator[tuple[Path, Run, str]]:
    """Every record, oldest first: its directory, itself and its owner."""
    root = records_root()
    found = []
    for directory in root.iterdir() if root.is_dir() else ():
        try:
            found.append((directory, *load(directory)))
        except (OSError, ValueError, TypeError):
            continue  # being made or removed
    yield from sorted(found, key=lambda item: item[1].created)


def find(word: str) -> tuple[Path, Run, str]:
    """The container that `word` names: its id, its name, or the start of
    one id only, as Docker reads it."""
    every = list(records())
    matches = ([item for item in every if word in (item[1].id, item[1].name)]
               or [item for item in every if item[1].id.startswith(word)])
    if len(matches) > 1:
        raise DkrError(f"{shorten(word)!r} starts more than one container's id: "
                       f"give more of it", EXIT_FAILED)
    if not matches:
        raise DkrError(f"no such container: {shorten(word)}", EXIT_FAILED)
    return matches[0]


# --- dkr run ---------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    """`dkr run IMAGE|COMMAND`: in the foreground, or with -d under a monitor."""
    from dkr.run import new_id, spec_from_args

    if args.name and not NAME.fullmatch(args.name):
        raise DkrError(f"bad container name {shorten(args.name)!r}: use letters, "
                       f"digits and _ . - (starting with a letter or digit)")
    if args.detach and args.tty:
        raise DkrError("dkr run -d has no terminal to give (dkr has no attach): "
                       "drop -t, and read the output with dkr logs")
    container_id = new_id()
    spec = spec_from_args(args, container_id)
    record = Run(id=container_id, command=spec.process.args, name=args.name or "",
                 image=_image_of(args), detached=args.detach, remove=args.rm)
    directory = claim(record)
    if args.detach:
        return _detach(directory, record, spec)
    from dkr.container import run as run_container

    try:
        return run_container(container_id, spec,
                             lambda pid: _started(directory, record, pid))
    finally:
        state.remove(directory)


def _image_of(args: argparse.Namespace) -> str:
    """What IMAGE shows: the image `dkr run` ran, or "-" for a root file system."""
    from dkr.run import command_words, image_to_run

    found = image_to_run(args, command_words(args))
    return found.name if found else "-"


def _started(directory: Path, record: Run, pid: int) -> None:
    record.pid, record.process = pid, owners.owner_id(pid) or ""
    record.save(directory)


def _detach(directory: Path, record: Run, spec) -> int:
    """Fork the monitor, wait until the container's command has exec'd (or
    failed to), and print its id, as `docker run -d` does."""
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.close(read_end)
        _monitor(directory, record, spec, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read().decode(errors="replace")
    code, _, message = answer.partition("\n")
    if code != "0":
        raise DkrError(message or "the monitor ended before the container started",
                       int(code) if code.isdigit() else EXIT_FAILED)
    print(record.id)
    return 0


def _monitor(directory: Path, record: Run, spec, parent: int) -> NoReturn:
    """The monitor, from fork to its end: it runs the container as a
    foreground `dkr run` would, its output into the log, and tells the
    waiting `dkr run -d` (through `parent`) once the command has exec'd."""
    from dkr.container import run as run_container
    from dkr.linux import unistd
    from dkr.linux.unistd import OFlag

    code = EXIT_DKR_FAILED
    try:
        os.setsid()  # no terminal's Ctrl-C or hang-up reaches it
        os.closerange(3, parent)  # what dkr's caller left open: not the monitor's
        os.closerange(parent + 1, os.sysconf("SC_OPEN_MAX"))
        null = unistd.open_fd("/dev/null", OFlag.O_RDWR | OFlag.O_CLOEXEC)
        log = unistd.open_fd(str(directory / LOG), OFlag.O_WRONLY | OFlag.O_CREAT
                             | OFlag.O_APPEND | OFlag.O_CLOEXEC, 0o600)
        for fd, source in ((0, null), (1, log), (2, log)):
            unistd.dup2(source, fd)  # dup2's copy stays open across exec
        state.write_whole(directory / state.OWNER, f"{owners.me()}\n")

        def started(pid: int) -> None:
            nonlocal parent
            _started(directory, record, pid)
            os.write(parent, b"0\n")
            os.close(parent)
            parent = -1

        try:
            code = run_container(record.id, spec, started)
        except (DkrError, OSError) as error:
            code = getattr(error, "exit_code", EXIT_DKR_FAILED)
            if parent < 0:
                report(describe(error))
            else:  # the container never ran: nothing to keep
                os.write(parent, f"{code}\n{describe(error)}".encode())
                state.remove(directory)
                os._exit(code)
        record.exit_code, record.finished = code, time.time()
        if record.remove:
            state.remove(directory)
        else:
            record.save(directory)
            state.write_whole(directory / state.OWNER, f"{state.KEPT}\n")
    except BaseException as error:  # whatever happens, the monitor ends here
        report(f"monitor: {describe(error)}")
    finally:
        os._exit(code)


# --- ps, stop, rm, logs -----------------------------------------------------

def ps(args: argparse.Namespace) -> int:
    """`dkr ps`: the running containers of `dkr run`, with -a the ended too."""
    shown = [(run, owner) for _, run, owner in records()
             if args.all or run.exit_code is None]
    if args.quiet:
        print("".join(f"{run.id}\n" for run, _ in shown), end="")
        return 0
    if args.format == "json":
        print(json.dumps([{**asdict(run), "status": run.status(owner)}
                          for run, owner in shown]))
        return 0
    print_table([("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES")]
                + [(run.id, run.image, _quoted(" ".join(run.command)),
                    f"{_ago(run.created)} ago", run.status(owner), run.name)
                   for run, owner in shown])
    return 0


def _quoted(command: str, width: int = 20) -> str:
    """A command as Docker's COMMAND column shows it: quoted, cut to `width`."""
    return f'"{command if len(command) <= width else command[:width - 1] + "…"}"'


def stop(args: argparse.Namespace) -> int:
    """`dkr stop`: SIGTERM, then SIGKILL after --time seconds; each name
    printed once its container has ended and its dkr has cleaned up."""
    return _each(args.containers, lambda word: _stop(word, args.time))


def rm(args: argparse.Namespace) -> int:
    """`dkr rm`: remove ended containers' records (with -f, kill it first)."""
    return _each(args.containers, lambda word: _remove(word, args.force))


def _each(words: list[str], do) -> int:
    """Docker's manner: each container in turn, a failure reported and the
    rest still done; 1 if any failed."""
    failed = False
    for word in words:
        try:
            do(word)
            print(word)
        except (DkrError, OSError) as error:
            report(describe(error))
            failed = True
    return EXIT_FAILED if failed else 0


def _stop(word: str, timeout: float) -> None:
    directory, run, _ = find(word)
    if run.running():
        kill_if_there(run.pid, signal.SIGTERM)
        if not ended_within(run.pid, timeout):
            kill_if_there(run.pid, signal.SIGKILL)
            ended_within(run.pid, CLEAN_UP_WAIT)
    _wait_cleaned_up(directory)


def _remove(word: str, force: bool) -> None:
    directory, run, owner = find(word)
    if run.exit_code is None and not _finished_with(owner):
        if not force:
            raise DkrError(f"cannot remove container {word}: it is running (stop it "
                           f"first, or give -f)", EXIT_FAILED)
        if run.running():
            kill_if_there(run.pid, signal.SIGKILL)
            ended_within(run.pid, CLEAN_UP_WAIT)
        _wait_cleaned_up(directory)
    with state.locked(records_root()):
        state.remove(directory)


def _wait_cleaned_up(directory: Path) -> None:
    """Wait until the container's dkr has finished with it: it has handed
    the record over (KEPT), removed it (--rm), or is gone."""
    deadline = time.monotonic() + CLEAN_UP_WAIT
    while time.monotonic() < deadline:
        try:
            owner = (directory / state.OWNER).read_text().strip()
        except FileNotFoundError:
            return
        if _finished_with(owner):
            return
        time.sleep(0.02)
    raise DkrError(f"the dkr of container {directory.name} did not finish within "
                   f"{CLEAN_UP_WAIT:g} s", EXIT_FAILED)


def logs(args: argparse.Namespace) -> int:
    """`dkr logs`: what a detached container wrote; with -f, on until it ends."""
    directory, run, owner = find(args.container)
    if not run.detached:
        raise DkrError(f"container {args.container} runs in the foreground: its "
                       f"output goes to its dkr run (dkr logs reads dkr run -d's)",
                       EXIT_FAILED)
    import shutil
    import sys

    try:
        log = open(directory / LOG, "rb")
    except FileNotFoundError:
        raise DkrError(f"no such container: {shorten(args.container)}",
                       EXIT_FAILED) from None
    with log:
        out = sys.stdout.buffer
        shutil.copyfileobj(log, out)
        while args.follow and run.exit_code is None and not owners.is_stale(owner):
            out.flush()
            time.sleep(0.1)
            shutil.copyfileobj(log, out)
            try:
                run, owner = load(directory)
            except (OSError, ValueError):
                break  # removed (--rm)
        shutil.copyfileobj(log, out)
    return 0
