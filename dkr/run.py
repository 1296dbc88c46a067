# chapter: 1
"""`dkr run`: Docker-like options in, a container configuration out."""

from __future__ import annotations

import argparse
import copy
import os
import sys  # chapter: 3

from dkr import defaults
from dkr import network  # chapter: 4
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


def _root_path(rootfs: str | None) -> str:
    if rootfs is None:
        from dkr.rootfs import default_rootfs

        return default_rootfs()
    if not os.path.exists(rootfs):
        raise DkrError(f"no such rootfs: {rootfs}")
    if not os.path.isdir(rootfs):
        raise DkrError(f"not a directory: {rootfs} (--rootfs takes a root file system's directory)")
    return os.path.abspath(rootfs)
