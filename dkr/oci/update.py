# chapter: 10
"""`dkr update` and `dkr ps`: a running container's limits and processes.

`podman update` and `docker update` reach the runtime as `update
--resources FILE ID` (Podman) or `update --resources - ID` (containerd,
the JSON on standard input): config.json's `linux.resources` object on
its own, read by the bundle's loader and written to the container's
cgroup by chapter 5's driver. runc's single-value flags (`--memory`,
`--cpu-shares`, `--pids-limit`…) change one limit each. Device rules are
not updated, as in runc: they are the container's confinement, not a
limit to tune.

`docker top` and `ctr task ps` call `ps --format json ID`, the host pids
of the container's cgroup, as a JSON array.
"""

from __future__ import annotations

import argparse
import json

from dkr.errors import DkrError

# runc update's single-value flags: (flag, section of linux.resources, field).
FLAGS = (("--memory", "memory", "limit"), ("--memory-swap", "memory", "swap"),
         ("--memory-reservation", "memory", "reservation"),
         ("--cpu-shares", "cpu", "shares"), ("--cpu-quota", "cpu", "quota"),
         ("--cpu-period", "cpu", "period"), ("--cpuset-cpus", "cpu", "cpus"),
         ("--cpuset-mems", "cpu", "mems"), ("--pids-limit", "pids", "limit"))
TEXT_FIELDS = ("cpus", "mems")


def add_update_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-r", "--resources", metavar="FILE",
                        help="linux.resources as a JSON file, or - for standard input")
    for flag, section, name in FLAGS:
        parser.add_argument(flag, metavar="VALUE", dest=f"{section}_{name}",
                            type=str if name in TEXT_FIELDS else int,
                            help=f"linux.resources.{section}.{name}")


def update_command(args: argparse.Namespace) -> int:
    from dkr.cgroups import convert, open_cgroup
    from dkr.oci import record
    from dkr.oci.bundle import read_json, resources_from
    from dkr.oci.commands import need_root

    need_root("update")
    data = read_json(args.resources) if args.resources else {}
    if not isinstance(data, dict):
        raise DkrError("--resources: give a JSON object: linux.resources")
    for _, section, name in FLAGS:
        value = getattr(args, f"{section}_{name}")
        if value is not None:
            data.setdefault(section, {})[name] = value
    if not data:
        raise DkrError("dkr update: give --resources FILE (or -) or a limit such "
                       "as --memory BYTES")
    resources = resources_from(data, "resources")
    resources.devices = []  # not updated (see above)
    convert.check_memory(resources.memory)
    with record.opened(args.id) as (directory, container):
        status = container.status(directory)
        if status == "stopped":
            raise DkrError(f"cannot update container {args.id}: it is stopped")
        open_cgroup(container.cgroup).apply(resources)
    return 0


def ps_command(args: argparse.Namespace) -> int:
    """`dkr ps ID`: the container's processes; `dkr ps`: the containers."""
    if args.id is None:
        from dkr.manage import ps

        return ps(args)
    if args.all:
        raise DkrError("dkr ps -a lists dkr run's containers: give it no ID")
    from dkr.cgroups import open_cgroup
    from dkr.oci import record

    with record.opened(args.id) as (directory, container):
        if container.status(directory) == "stopped":
            raise DkrError(f"container {args.id} is not running")
        pids = sorted(open_cgroup(container.cgroup).pids())
    if args.format == "json":
        print(json.dumps(pids))
        return 0
    return _ps_table(pids, args.ps_options or ["-ef"])


def _ps_table(pids: list[int], options: list[str]) -> int:
    """ps(1)'s table (`-ef` unless given), its lines of the container's pids."""
    import subprocess

    try:
        done = subprocess.run(["ps", *options], capture_output=True, text=True)
    except FileNotFoundError:
        raise DkrError("no ps(1) on this host: give --format json") from None
    if done.returncode != 0:
        raise DkrError(f"ps {' '.join(options)}: {done.stderr.strip()}")
    header, *lines = done.stdout.splitlines()
    if "PID" not in header.split():
        raise DkrError("ps's output has no PID column: give options that show it")
    column = header.split().index("PID")
    print(header)
    wanted = {str(pid) for pid in pids}
    for line in lines:
        if line.split()[column] in wanted:
            print(line)
    return 0
