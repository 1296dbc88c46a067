# chapter: 1
"""`dkr run`: Docker-like options in, a container configuration out."""

from __future__ import annotations

import argparse
import copy
import os
import re
from typing import TYPE_CHECKING  # chapter: 9

from dkr import capabilities  # chapter: 6
from dkr import defaults
from dkr import network  # chapter: 4
from dkr.config import CPU, Memory, Pids, Resources  # chapter: 5
from dkr.config import DEFAULT_PATH, Linux, Namespace, Process, Root, Spec
from dkr.config import Mount  # chapter: 3
from dkr.config import DeviceRule, User  # chapter: 6
from dkr.config import Seccomp  # chapter: 7
from dkr.errors import DkrError, shorten
from dkr.errors import warn  # chapter: 5
from dkr.mounts import is_under  # chapter: 3
from dkr.seccomp.profile import default_profile  # chapter: 7

if TYPE_CHECKING:  # chapter: 9
    from dkr.image.use import ImageToRun  # chapter: 9


# chapter: 6 {
SECURITY_HELP = ("no-new-privileges: no program gains privileges at exec (setuid bits "
                 "and file capabilities do nothing)")
# }
# chapter: 7 {
SECURITY_HELP += ("; seccomp=unconfined: no syscall filter; seccomp=PROFILE.json: "
                  "that profile instead of dkr's default")
# }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `dkr run`."""
    option = parser.add_argument
    # chapter: 1-7 {
    # option("--rootfs", metavar="DIR",
    #        help="the root file system (default: one built from the host's programs); "
    #             "what the container writes there stays there")
    # }
    # chapter: 8 {
    option("--rootfs", action="append", metavar="DIR",
           help="the root file system (default: one built from the host's programs), "
                "read-only under the container's own writable layer; repeat it to "
                "stack directories, the last on top")
    # }
    option("--hostname", metavar="NAME",
           help="the container's hostname (default: the container's id)")
    option("-e", "--env", action="append", default=[], metavar="KEY=VALUE",
           help="set an environment variable (-e KEY alone: the host's value, if set)")
    option("-w", "--workdir", metavar="DIR",
           help="the command's working directory, an absolute path (default: /)")
    # chapter: 1-7 {
    # option("--rm", action="store_true",
    #        help="accepted, as in Docker: dkr always removes what it made for the "
    #             "container once it ends")
    # }
    # chapter: 8-9 {
    # option("--rm", action="store_true",
    #        help="accepted, as in Docker: dkr always removes what it made for the "
    #             "container once it ends, its writable layer too (no dkr command "
    #             "could list or remove a stopped container yet)")
    # }
    # chapter: 10 {
    option("--rm", action="store_true",
           help="with -d: once the container ends, remove its record and log too, "
                "not only its writable layer, network and cgroup (a foreground "
                "container leaves nothing, as in chapters 1-9)")
    option("--name", metavar="NAME",
           help="a name for dkr ps, stop, rm and logs, unique among the containers")
    # }
    # chapter: 3 {
    option("-v", "--volume", action="append", default=[], metavar="HOST:CTR[:ro]",
           help="bind-mount a host path into the container")
    option("--read-only", action="store_true", help="mount the root read-only")
    option("-t", "--tty", action="store_true",
           help="give the container a terminal (the default when dkr has one)")
    option("-i", "--interactive", action="store_true",
           help="keep stdin attached (it always is; accepted as in Docker)")
    # }
    # chapter: 4 {
    option("--net", "--network", default="bridge", metavar="MODE",
           help="bridge (the default: an address of its own), none (loopback "
                "only) or host (the host's network)")
    option("-p", "--publish", action="append", default=[], metavar="HOSTPORT:CTRPORT",
           help="forward the host's TCP port to the container's")
    # }
    # chapter: 5 {
    option("-m", "--memory", type=parse_bytes, metavar="BYTES",
           help="memory limit, such as 64m (units b, k, m, g)")
    option("--memory-swap", type=parse_swap, metavar="BYTES",
           help="memory and swap together; -1: unlimited swap (default: twice "
                "--memory)")
    option("--memory-reservation", type=parse_bytes, metavar="BYTES",
           help="a soft limit, enforced when the host runs short of memory")
    option("--cpus", type=parse_number, metavar="N",
           help="CPU time, in CPUs (such as 0.5)")
    option("-c", "--cpu-shares", type=parse_integer, metavar="N",
           help="CPU weight relative to other containers, 2 to 262144 (default 1024)")
    option("--cpuset-cpus", type=cpu_list, metavar="LIST",
           help="the CPUs it may run on, such as 0-1,3")
    option("--cpuset-mems", type=cpu_list, metavar="LIST",
           help="the memory nodes it may use, such as 0")
    option("--pids-limit", type=parse_integer, metavar="N",
           help="at most N processes and threads; -1: unlimited")
    # }
    # chapter: 6 {
    option("--cap-add", action="append", default=[], metavar="CAP",
           help="add a capability to Docker's default set (NET_ADMIN, CAP_NET_ADMIN, "
                "or ALL)")
    option("--cap-drop", action="append", default=[], metavar="CAP",
           help="drop a capability (or ALL) from the set")
    option("--privileged", action="store_true",
           help="give the container every capability and an unmasked /proc and "
                "/sys: its root is the host's root, with nothing held back")
    option("-u", "--user", metavar="USER[:GROUP]",
           help="run as USER (a name of the container's /etc/passwd, or a uid) "
                "and GROUP (default: USER's)")
    option("--group-add", action="append", default=[], metavar="GROUP",
           help="a supplementary group (a name of the container's /etc/group, "
                "or a gid)")
    option("--security-opt", action="append", default=[], metavar="OPTION",
           help=SECURITY_HELP)
    # }
    # chapter: 10 {
    option("-d", "--detach", action="store_true",
           help="start the container and return, printing its id: a monitor runs "
                "it, its output goes to dkr logs, and dkr ps -a keeps its status "
                "(with --bundle: as runc run -d)")
    from dkr.oci.commands import add_create_options

    add_create_options(parser)
    # }
    option("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]",
           help="what to run")


# A hostname dkr sets: at most 64 characters (the kernel's HOST_NAME_MAX) that
# /etc/hosts and every resolver can take.
HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)


def new_id() -> str:
    """A new container's id: 12 hex digits, like Docker's short ids. It names
    the container's hostname (unless --hostname gives one) and everything the
    host keeps for it."""
    return os.urandom(6).hex()


def command_words(args: argparse.Namespace) -> list[str]:
    """The words after `dkr run`'s options (a first `--` only ends them)."""
    return args.command[1:] if args.command[:1] == ["--"] else args.command


def spec_from_args(args: argparse.Namespace, container_id: str) -> Spec:
    """The container configuration that `dkr run`'s options describe."""
    command = command_words(args)
    if not command:
        raise DkrError("no command given: try `python3 -m dkr run /bin/sh`")
    if args.hostname and not HOSTNAME.fullmatch(args.hostname):
        raise DkrError(f"bad hostname {shorten(args.hostname)!r}: use at most 64 "
                       f"letters, digits, '.', '-' and '_', starting with a letter "
                       f"or digit")
    workdir = "/" if args.workdir is None else args.workdir
    if not workdir.startswith("/"):
        raise DkrError(f"bad working directory {shorten(workdir)!r}: "
                       f"give an absolute path, such as -w /tmp")
    found = image_to_run(args, command)  # chapter: 9
    hostname = args.hostname or container_id
    process = Process(args=command, cwd=workdir)
    process.env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    # chapter: 3-9 {
    # process.terminal = args.tty or (os.isatty(0) and os.isatty(1))
    # }
    # chapter: 10 {
    process.terminal = args.tty or (not args.detach and os.isatty(0) and os.isatty(1))
    # }
    if process.terminal:  # chapter: 3
        process.env.append(f"TERM={os.environ.get('TERM', 'xterm')}")  # chapter: 3
    user_env = env_items(args.env)
    process.env += user_env
    spec = Spec(
        process=process,
        # chapter: 1-7 {
        # root=Root(_root_path(args.rootfs)),
        # }
        # chapter: 8-8 {
        # root=Root("", layers=root_layers(args.rootfs)),
        # }
        root=Root("", layers=image_layers(found, args.rootfs)),  # chapter: 9
        hostname=hostname,
        mounts=copy.deepcopy(list(defaults.MOUNTS)),
        linux=Linux(namespaces=[Namespace(kind) for kind in defaults.NAMESPACES]),
    )
    # chapter: 3 {
    spec.root.readonly = args.read_only
    volumes = [volume_mount(item) for item in args.volume]
    spec.mounts = with_volumes(spec.mounts, volumes)
    spec.linux.masked_paths = list(defaults.MASKED_PATHS)
    spec.linux.readonly_paths = list(defaults.READONLY_PATHS)
    # }
    network.configure(spec, args.net, args.publish)  # chapter: 4
    spec.linux.resources = resources_from_args(args)  # chapter: 5
    confine(spec, args)  # chapter: 6
    # chapter: 9 {
    if found:
        from dkr.image.use import apply

        apply(spec, found, command[1:], user_env,
              workdir_given=args.workdir is not None, user_given=args.user is not None)
    # }
    return spec


def env_items(items: list[str]) -> list[str]:
    """-e options as "KEY=VALUE" strings. As in Docker, `-e KEY` passes the
    host's value on, and nothing if the host has no KEY."""
    found = []
    for item in items:
        if item.partition("=")[0] == "":
            raise DkrError(f"bad environment variable {shorten(item)!r}: "
                           f"give -e KEY=VALUE or -e KEY")
        if "=" in item:
            found.append(item)
        elif item in os.environ:
            found.append(f"{item}={os.environ[item]}")
    return found


# chapter: 3 {
def volume_mount(volume: str) -> Mount:
    """`-v HOST:CTR[:ro|:rw]` as a bind mount entry."""
    host, _, rest = volume.partition(":")
    destination, _, mode = rest.partition(":")
    shown = shorten(volume)
    if not host or not destination or mode not in ("", "ro", "rw"):
        raise DkrError(f"bad volume {shown!r}: use -v HOST:CTR[:ro]")
    if not os.path.exists(host):
        raise DkrError(f"no such host path for -v: {shorten(host)}")
    if not destination.startswith("/"):
        raise DkrError(f"bad volume {shown!r}: the container path must be absolute")
    # normpath keeps a leading // (POSIX leaves its meaning open): make it /
    destination = "/" + os.path.normpath(destination).lstrip("/")
    if destination == "/":
        raise DkrError(f"bad volume {shown!r}: the container path must not be / "
                       f"(give --rootfs)")
    if is_under(destination, "/proc"):
        raise DkrError(f"bad volume {shown!r}: dkr mounts nothing over /proc or "
                       f"below it, where it would stand in for the kernel's own files")
    options = ["rbind", "ro"] if mode == "ro" else ["rbind"]
    return Mount(destination, "bind", os.path.abspath(host), options)


def with_volumes(mounts: list[Mount], volumes: list[Mount]) -> list[Mount]:
    """The default mounts, less those a volume takes the place of, then the
    volumes. As in Docker, a volume at /dev replaces dkr's /dev and the mounts
    inside it too: dkr makes nothing inside a directory of the host's."""
    taken = [volume.destination for volume in volumes]
    kept = [mount for mount in mounts
            if not any(is_under(mount.destination, place) for place in taken)]
    return kept + volumes
# }


# chapter: 5 {
UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
# ASCII digits only: Python's \d and int() also take other scripts' digits.
SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?([kmgt]?)(?:i?b)?",
                  re.IGNORECASE | re.ASCII)
NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+", re.ASCII)
INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
MAX_BYTES = (1 << 63) - 1  # what the kernel's 64-bit limits can hold
MIN_SHARES, MAX_SHARES = 2, 262144  # the kernel's range for cpu.shares
MAX_PIDS = 4_194_304  # the kernel's most processes (PID_MAX_LIMIT), so pids.max's
# Docker's minimum: less is most likely a missing unit (64 is 64 bytes).
MIN_MEMORY = 6 << 20
CPU_PERIOD = 100_000  # microseconds: --cpus N is a quota of N periods per period


def resources_from_args(args: argparse.Namespace) -> Resources:
    """The limits of --memory, --cpus, --pids-limit… as `linux.resources`, with
    Docker's meanings and Docker's checks."""
    # As in Docker, 0 leaves a limit unset.
    memory = Memory(limit=args.memory or None, swap=args.memory_swap or None,
                    reservation=args.memory_reservation or None)
    if memory.limit is not None and memory.limit < MIN_MEMORY:
        raise DkrError("--memory must be at least 6m (a number without a unit is "
                       "bytes)")
    if memory.swap is not None and not memory.limit:
        raise DkrError("--memory-swap needs --memory: give both")
    if memory.reservation and memory.limit and memory.reservation > memory.limit:
        raise DkrError("--memory-reservation must not be above --memory")
    if memory.limit and memory.swap is None:
        memory.swap = _default_swap(memory.limit)
    if args.cpu_shares and not MIN_SHARES <= args.cpu_shares <= MAX_SHARES:
        raise DkrError(f"--cpu-shares must be between {MIN_SHARES} and "
                       f"{MAX_SHARES} (0: the default)")
    cpu = CPU(shares=args.cpu_shares or None, cpus=args.cpuset_cpus,
              mems=args.cpuset_mems)
    if args.cpus is not None:
        cpu.quota, cpu.period = cpus_to_quota(args.cpus), CPU_PERIOD
    if args.pids_limit is not None and args.pids_limit > MAX_PIDS:
        raise DkrError(f"--pids-limit must be at most {MAX_PIDS} (-1: unlimited)")
    pids = Pids(args.pids_limit)
    if pids.limit is not None and pids.limit <= 0:  # Docker's "no limit": 0 or less
        pids.limit = -1
    return Resources(memory=memory, cpu=cpu, pids=pids)


def cpus_to_quota(cpus: float) -> int:
    """--cpus N as a CFS quota: N periods of CPU time per period of 100ms."""
    available = os.cpu_count() or 1
    if not 0.01 <= cpus <= available:
        raise DkrError(f"--cpus must be between 0.01 and {available}, the CPUs "
                       f"this host has")
    return round(cpus * CPU_PERIOD)


def _default_swap(limit: int) -> int | None:
    """Docker's default: as much swap as memory, where the host can limit swap."""
    from dkr import cgroups

    if cgroups.accounts_swap():
        return 2 * limit
    warn("this host's kernel does not account swap: the memory limit applies "
         "without a swap limit")
    return None


def parse_bytes(text: str) -> int:
    """A size as Docker takes it: 64m, 1.5g, 512k, 100 (bytes); units of 1024."""
    match = SIZE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"bad size {shorten(text)!r}: give a number "
                                         f"and a unit, such as 64m")
    number, unit = match.groups()
    size = int(float(number) * UNITS[unit.lower()])
    if size > MAX_BYTES:
        raise argparse.ArgumentTypeError(f"bad size {shorten(text)!r}: too large for "
                                         f"the kernel's 64-bit limits")
    return size


def parse_number(text: str) -> float:
    """A decimal number such as 0.5 (no exponent, no "inf")."""
    if not NUMBER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"bad number {shorten(text)!r}: "
                                         f"give one such as 0.5")
    return float(text)


def parse_integer(text: str) -> int:
    """A whole number, in ASCII digits."""
    if not INTEGER.fullmatch(text):
        raise argparse.ArgumentTypeError(f"bad number {shorten(text)!r}: "
                                         f"give a whole number, such as 10")
    return int(text)


def parse_swap(text: str) -> int:
    """--memory-swap: a size, or -1 for unlimited swap."""
    return -1 if text.strip() == "-1" else parse_bytes(text)


def cpu_list(text: str) -> str:
    """A list of CPUs or memory nodes as cpuset takes it: 0-1,3."""
    if not re.fullmatch(r"[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*", text):
        raise argparse.ArgumentTypeError(f"bad list {shorten(text)!r}: give numbers "
                                         f"and ranges, such as 0-1,3")
    return text
# }


# chapter: 6 {
# --user: a name or a number, and optionally a group.
USER = re.compile(r"[^:\s]+(:[^:\s]+)?")
MAX_ID = 2**32 - 2  # (uid_t)-1 means "unchanged" to the kernel


def confine(spec: Spec, args: argparse.Namespace) -> None:
    """What root in the container keeps: --cap-add, --cap-drop and
    --privileged; whom it runs as: --user and --group-add; and
    --security-opt."""
    process = spec.process
    if args.privileged:
        names = capabilities.every_name()
        spec.linux.masked_paths, spec.linux.readonly_paths = [], []
        for mount in spec.mounts:
            if mount.type in ("sysfs", "cgroup"):
                mount.options = [option for option in mount.options if option != "ro"]
    else:
        names = capabilities.resolve(defaults.CAPABILITIES, args.cap_add, args.cap_drop)
    process.capabilities = capabilities.for_container(names)
    spec.linux.resources.devices = (
        [DeviceRule(allow=True)] if args.privileged else list(defaults.DEVICE_RULES))
    if args.user is not None and not USER.fullmatch(args.user):
        raise DkrError(f"bad user {shorten(args.user)!r}: give USER or USER:GROUP, "
                       f"each a name or a number, such as --user 1000:1000")
    for key in [*(args.user or "").split(":"), *args.group_add]:
        if key.isdigit() and int(key) > MAX_ID:
            raise DkrError(f"bad id {shorten(key)}: ids go up to {MAX_ID}")
    process.user = User(lookup=args.user or "0", add_groups=list(args.group_add))
    options = dict(security_option(option) for option in args.security_opt)
    process.no_new_privileges = options.get("no-new-privileges") == "true"
    unconfined = "unconfined" if args.privileged else "default"  # chapter: 7
    seccomp = options.get("seccomp", unconfined)  # chapter: 7
    spec.linux.seccomp = seccomp_profile(seccomp, names)  # chapter: 7


# What --security-opt takes, as Docker writes it.
SECURITY_OPTIONS = "no-new-privileges[:true|false]"
SECURITY_OPTIONS += ", seccomp=unconfined|PROFILE.json"  # chapter: 7


def security_option(option: str) -> tuple[str, str]:
    """One --security-opt as (name, value). Docker takes `no-new-privileges`,
    with `:true`, `=true` (or false) after it (the last one given counts),
    and `seccomp=` a profile's path or `unconfined` (chapter 7)."""
    name, separator, value = option.replace("=", ":", 1).partition(":")
    if name == "no-new-privileges" and (value in ("true", "false") or not separator):
        return name, value or "true"
    if name == "seccomp" and value:  # chapter: 7
        return name, value  # chapter: 7
    raise DkrError(f"unknown security option {shorten(option)!r}: dkr takes "
                   f"{SECURITY_OPTIONS}")
# }


# chapter: 7 {
def seccomp_profile(option: str, capabilities: list[str]) -> Seccomp | None:
    """The container's seccomp profile: dkr's default (for the container's
    capabilities), none (`unconfined`), or the profile in a file."""
    machine = os.uname().machine
    if option == "default":
        return default_profile(capabilities, machine)
    if option == "unconfined":
        return None
    from dkr.seccomp.load import read_profile  # only for a profile of one's own: json
    return read_profile(option, capabilities, machine)
# }


# chapter: 8 {
def root_layers(rootfs: list[str] | None) -> list[str]:
    """The directories --rootfs stacks, lowest first: the default rootfs
    unless some are given."""
    return [_root_path(path) for path in rootfs or [None]]
# }


# chapter: 9 {
def image_to_run(args: argparse.Namespace, command: list[str]) -> ImageToRun | None:
    """The image that `dkr run`'s first word names, if it names one and no
    --rootfs is given (dkr.image.use says how a word is read)."""
    if args.rootfs:
        return None
    from dkr.image.use import find

    return find(command[0])


def image_layers(found: ImageToRun | None, rootfs: list[str] | None) -> list[str]:
    """The image's layers, or what --rootfs stacks."""
    return found.layers if found else root_layers(rootfs)
# }


def _root_path(rootfs: str | None) -> str:
    if rootfs is None:
        from dkr.rootfs import default_rootfs

        return default_rootfs()
    if not os.path.exists(rootfs):
        raise DkrError(f"no such rootfs: {shorten(rootfs)}")
    if not os.path.isdir(rootfs):
        raise DkrError(f"not a directory: {shorten(rootfs)} (--rootfs takes a root "
                       f"file system's directory)")
    return os.path.abspath(rootfs)
