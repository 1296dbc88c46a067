# chapter: 1
"""`dkr run`: Docker-like options in, a container configuration out."""

from __future__ import annotations

import argparse
import copy
import os
import re  # chapter: 5
import sys  # chapter: 3

from dkr import defaults
from dkr import network  # chapter: 4
from dkr.config import CPU, Memory, Pids, Resources  # chapter: 5
from dkr.config import DEFAULT_PATH, Linux, Mount, Namespace, Process, Root, Spec
from dkr.errors import DkrError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `dkr run`."""
    parser.add_argument("--rootfs", metavar="DIR",
                        help="the root file system (default: one built from the host's programs)")
    parser.add_argument("--hostname", metavar="NAME", help="the container's hostname")
    parser.add_argument("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
                        help="set an environment variable")
    parser.add_argument("-w", "--workdir", default="/", metavar="DIR",
                        help="the command's working directory")
    # chapter: 3 {
    parser.add_argument("-v", "--volume", action="append", default=[], metavar="HOST:CTR[:ro]",
                        help="bind-mount a host path into the container")
    parser.add_argument("--read-only", action="store_true", help="mount the root read-only")
    parser.add_argument("-t", "--tty", action="store_true",
                        help="give the container a terminal (the default when dkr has one)")
    parser.add_argument("-i", "--interactive", action="store_true",
                        help="keep stdin attached (it always is; accepted as in Docker)")
    # }
    # chapter: 4 {
    parser.add_argument("--net", "--network", default="bridge", metavar="MODE",
                        help="bridge (the default: an address of its own), none (loopback only) "
                             "or host (the host's network)")
    parser.add_argument("-p", "--publish", action="append", default=[], metavar="HOSTPORT:CTRPORT",
                        help="forward the host's TCP port to the container's")
    # }
    # chapter: 5 {
    parser.add_argument("-m", "--memory", type=parse_bytes, metavar="BYTES",
                        help="memory limit, such as 64m (units b, k, m, g)")
    parser.add_argument("--memory-swap", type=parse_swap, metavar="BYTES",
                        help="memory and swap together; -1: unlimited swap (default: twice --memory)")
    parser.add_argument("--memory-reservation", type=parse_bytes, metavar="BYTES",
                        help="a soft limit, enforced when the host runs short of memory")
    parser.add_argument("--cpus", type=float, metavar="N", help="CPU time, in CPUs (such as 0.5)")
    parser.add_argument("-c", "--cpu-shares", type=int, metavar="N",
                        help="CPU weight relative to other containers (default 1024)")
    parser.add_argument("--cpuset-cpus", type=cpu_list, metavar="LIST",
                        help="the CPUs it may run on, such as 0-1,3")
    parser.add_argument("--cpuset-mems", type=cpu_list, metavar="LIST",
                        help="the memory nodes it may use, such as 0")
    parser.add_argument("--pids-limit", type=int, metavar="N",
                        help="at most N processes and threads; -1: unlimited")
    # }
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]",
                        help="what to run")


def spec_from_args(args: argparse.Namespace) -> Spec:
    """The container configuration that `dkr run`'s options describe."""
    if not args.command:
        raise DkrError("no command given: try `dkr run /bin/sh`")
    container_id = os.urandom(6).hex()
    process = Process(args=args.command, cwd=args.workdir)
    process.env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={args.hostname or container_id}"]
    process.terminal = args.tty or (sys.stdin.isatty() and sys.stdout.isatty())  # chapter: 3
    if process.terminal:  # chapter: 3
        process.env.append(f"TERM={os.environ.get('TERM', 'xterm')}")  # chapter: 3
    process.env += [_env_item(item) for item in args.env]
    spec = Spec(
        process=process,
        root=Root(_root_path(args.rootfs)),
        hostname=args.hostname or container_id,
        mounts=copy.deepcopy(list(defaults.MOUNTS)),
        linux=Linux(namespaces=[Namespace(kind) for kind in defaults.NAMESPACES]),
    )
    # chapter: 3 {
    spec.root.readonly = args.read_only
    spec.mounts += [volume_mount(item) for item in args.volume]
    spec.linux.masked_paths = list(defaults.MASKED_PATHS)
    spec.linux.readonly_paths = list(defaults.READONLY_PATHS)
    # }
    network.configure(spec, args.net, args.publish)  # chapter: 4
    spec.linux.resources = resources_from_args(args)  # chapter: 5
    spec.linux.cgroups_path = f"/dkr/{container_id}"  # chapter: 5
    return spec


def _env_item(item: str) -> str:
    if "=" not in item:  # as in Docker: -e NAME passes the host's value on
        return f"{item}={os.environ.get(item, '')}"
    return item


# chapter: 3 {
def volume_mount(volume: str) -> Mount:
    """`-v HOST:CTR[:ro|:rw]` as a bind mount entry."""
    host, _, rest = volume.partition(":")
    destination, _, mode = rest.partition(":")
    if not host or not destination or mode not in ("", "ro", "rw"):
        raise DkrError(f"bad volume {volume!r}: use -v HOST:CTR[:ro]")
    if not os.path.exists(host):
        raise DkrError(f"no such host path for -v: {host}")
    if not destination.startswith("/"):
        raise DkrError(f"bad volume {volume!r}: the container path must be absolute")
    options = ["rbind", "ro"] if mode == "ro" else ["rbind"]
    return Mount(destination, "bind", os.path.abspath(host), options)
# }


# chapter: 5 {
UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([kmgt]?)(?:i?b)?", re.IGNORECASE)
MIN_MEMORY = 6 << 20  # Docker's minimum; less is most likely a missing unit (64 is 64 bytes)
CPU_PERIOD = 100_000  # microseconds: --cpus N is a quota of N periods per period


def resources_from_args(args: argparse.Namespace) -> Resources:
    """The limits of --memory, --cpus, --pids-limit… as `linux.resources`, with
    Docker's meanings and Docker's checks."""
    memory = Memory(limit=args.memory, reservation=args.memory_reservation, swap=args.memory_swap)
    if memory.limit is not None and memory.limit < MIN_MEMORY:
        raise DkrError("--memory must be at least 6m (a number without a unit is bytes)")
    if memory.swap is not None and not memory.limit:
        raise DkrError("--memory-swap needs --memory: give both")
    if memory.reservation and memory.limit and memory.reservation > memory.limit:
        raise DkrError("--memory-reservation must not be above --memory")
    if memory.limit and memory.swap is None:
        memory.swap = _default_swap(memory.limit)
    cpu = CPU(shares=args.cpu_shares or None, cpus=args.cpuset_cpus, mems=args.cpuset_mems)
    if args.cpus is not None:
        cpu.quota, cpu.period = cpus_to_quota(args.cpus), CPU_PERIOD
    pids = Pids(None if args.pids_limit is None else args.pids_limit if args.pids_limit > 0 else -1)
    return Resources(memory=memory, cpu=cpu, pids=pids)


def cpus_to_quota(cpus: float) -> int:
    """--cpus N as a CFS quota: N periods of CPU time per period of 100ms."""
    available = os.cpu_count() or 1
    if not 0.01 <= cpus <= available:
        raise DkrError(f"--cpus must be between 0.01 and {available}, the CPUs this host has")
    return round(cpus * CPU_PERIOD)


def _default_swap(limit: int) -> int | None:
    """Docker's default: as much swap as memory, where the host can limit swap."""
    from dkr import cgroups

    if cgroups.accounts_swap():
        return 2 * limit
    print("dkr: warning: this host's kernel does not account swap: "
          "the memory limit applies without a swap limit", file=sys.stderr)
    return None


def parse_bytes(text: str) -> int:
    """A size as Docker takes it: 64m, 1.5g, 512k, 100 (bytes); units of 1024."""
    match = SIZE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: give a number and a unit, such as 64m")
    number, unit = match.groups()
    return int(float(number) * UNITS[unit.lower()])


def parse_swap(text: str) -> int:
    """--memory-swap: a size, or -1 for unlimited swap."""
    return -1 if text.strip() == "-1" else parse_bytes(text)


def cpu_list(text: str) -> str:
    """A list of CPUs or memory nodes as cpuset takes it: 0-1,3."""
    if not re.fullmatch(r"\d+(-\d+)?(,\d+(-\d+)?)*", text):
        raise argparse.ArgumentTypeError(f"bad list {text!r}: give numbers and ranges, such as 0-1,3")
    return text
# }


def _root_path(rootfs: str | None) -> str:
    if rootfs is None:
        from dkr.rootfs import default_rootfs

        return default_rootfs()
    if not os.path.exists(rootfs):
        raise DkrError(f"no such rootfs: {rootfs}")
    if not os.path.isdir(rootfs):
        raise DkrError(f"not a directory: {rootfs} (--rootfs takes a root file system's directory)")
    return os.path.abspath(rootfs)
