# chapter: 9
"""The image commands: `dkr pull`, `dkr images`, `dkr rmi`, `dkr load`, `dkr login`."""

from __future__ import annotations

import argparse
import os

from dkr.errors import DkrError, shorten


Parsers = dict[str, argparse.ArgumentParser]


def add_commands(commands: argparse._SubParsersAction) -> Parsers:
    """The image commands' parsers, added to dkr's."""
    parsers = {}
    pull = commands.add_parser("pull", help="pull an image from a registry",
                               description="Pull NAME (busybox, user/app:1, "
                                           "host:port/app@sha256:…) into dkr's store.")
    pull.add_argument("name", metavar="NAME")
    pull.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                      help="the image for this platform of a multi-platform image "
                           "(default: this machine's)")
    pull.add_argument("--insecure-registry", action="append", default=[],
                      metavar="HOST",
                      help="allow plain HTTP to this registry (localhost and 127.0.0.1 "
                           "are allowed without it, as in Docker)")
    pull.add_argument("-q", "--quiet", action="store_true",
                      help="print only the image's name")
    pull.set_defaults(handler=pull_command)
    parsers["pull"] = pull

    images = commands.add_parser("images", help="list the images pulled or loaded",
                                 description="List the images in dkr's store.")
    images.add_argument("-q", "--quiet", action="store_true", help="print only the ids")
    images.set_defaults(handler=images_command)
    parsers["images"] = images

    rmi = commands.add_parser("rmi", help="remove images",
                              description="Remove names (and the images no name is "
                                          "left for); layers another image uses stay.")
    rmi.add_argument("names", nargs="+", metavar="NAME|ID")
    rmi.set_defaults(handler=rmi_command)
    parsers["rmi"] = rmi

    load = commands.add_parser("load",
                               help="load an image from a tar file or OCI layout",
                               description="Load the images of a `docker save` tar "
                                           "file, or of an OCI layout directory.")
    load.add_argument("-i", "--input", required=True, metavar="TAR|DIR")
    load.add_argument("-q", "--quiet", action="store_true", help="print only the names")
    load.set_defaults(handler=load_command)
    parsers["load"] = load

    login = commands.add_parser("login", help="save a login for a registry",
                                description="Save a user name and password for "
                                            "REGISTRY in ~/.docker/config.json (or "
                                            "$DKR_REGISTRY_AUTH), as `docker login` "
                                            "does; it is not checked.")
    login.add_argument("registry", metavar="REGISTRY")
    login.add_argument("-u", "--username", required=True)
    login.add_argument("--password-stdin", action="store_true",
                       help="read the password from standard input")
    login.set_defaults(handler=login_command)
    parsers["login"] = login
    return parsers


def _needs_root(verb: str) -> None:
    if os.geteuid() != 0:
        raise DkrError(f"dkr {verb} needs root (its store is root's, and layers keep "
                       f"their owners): try `sudo python3 -m dkr {verb} …`")


def pull_command(args: argparse.Namespace) -> int:
    _needs_root("pull")
    from dkr.image.manifest import Platform
    from dkr.image.progress import Progress
    from dkr.image.pull import pull

    from dkr.image.reference import parse

    progress = Progress.for_output(args.quiet)
    platform = Platform.parse(args.platform) if args.platform else None
    reference = parse(args.name)
    progress.say(f"{reference.identifier[:19]}: Pulling from {reference.familiar_name}")
    image, fetched = pull(reference, platform, set(args.insecure_registry), progress)
    progress.finish()
    progress.say(f"Digest: {image.manifest}")
    status = "Downloaded newer image" if fetched else "Image is up to date"
    progress.say(f"Status: {status} for {reference.familiar}")
    print(reference)
    return 0


def images_command(args: argparse.Namespace) -> int:
    from dkr.image.images import Images
    from dkr.image.progress import human
    from dkr.image.reference import parse

    rows = []
    for image in sorted(Images().all(), key=lambda image: image.created, reverse=True):
        short = image.id.removeprefix("sha256:")[:12]
        if args.quiet:
            rows.append([short])
            continue
        for name in image.names:
            reference = parse(name)
            rows.append([reference.familiar_name, reference.tag or "<none>", short,
                         ago(image.created), human(sum(image.sizes))])
    if args.quiet:
        for short in dict.fromkeys(row[0] for row in rows):
            print(short)
        return 0
    from dkr.listing import print_table

    print_table([["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], *rows])
    return 0


def ago(created: str) -> str:
    """An RFC 3339 time as Docker's "3 days ago"."""
    import datetime

    try:
        when = datetime.datetime.fromisoformat(created.replace("Z", "+00:00")[:26]
                                               .rstrip("+"))
    except ValueError:
        return "N/A"
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    seconds = (datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()
    from dkr.listing import duration

    return f"{duration(seconds) or 'Less than a minute'} ago"


def rmi_command(args: argparse.Namespace) -> int:
    _needs_root("rmi")
    from dkr.image.images import Images
    from dkr.image.reference import parse

    images = Images()
    for name in args.names:
        full = name if images.find(name) else str(parse(name))
        image = images.untag(full)
        print(f"Untagged: {shorten(name)}" if images.find(image.id) else
              f"Deleted: {image.id}")
    return 0


def load_command(args: argparse.Namespace) -> int:
    _needs_root("load")
    from dkr.image.load import load

    for name in load(args.input):
        print(name if args.quiet else f"Loaded image: {name}")
    return 0


def login_command(args: argparse.Namespace) -> int:
    import base64
    import getpass
    import json
    import sys

    from dkr.image.registry import docker_config_path

    if not args.password_stdin:
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise DkrError("no password given: pipe it into --password-stdin")
    path = docker_config_path()
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        config = {}
    except ValueError as error:
        raise DkrError(f"{path} is not JSON ({error}): fix or remove it") from None
    pair = f"{args.username}:{password}".encode()
    auth = base64.b64encode(pair).decode()
    config.setdefault("auths", {})[args.registry] = {"auth": auth}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    from dkr.state import write_whole

    write_whole(path, json.dumps(config, indent="\t") + "\n", 0o600)
    print(f"Login Succeeded (saved in {path})")
    return 0
