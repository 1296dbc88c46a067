# chapter: 9
"""Image names, parsed and completed as Docker does.

`busybox`, `user/app:1` and `127.0.0.1:5000/app@sha256:…` are short for a
full reference: a registry, a repository in it, and a tag or a digest. The
grammar is distribution/reference's, which Docker, containerd and Podman
share:

    reference := name [":" tag] ["@" digest]
    name      := [registry "/"] path
    registry  := host [":" port]         host: a domain name, an IPv4
                                         address, or "[" IPv6 "]"
    path      := component ["/" component]...
    component := [a-z0-9]+ joined by "." or "_" or "__" or "-"...
    tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}

What a user leaves out is filled in as Docker's `ParseNormalizedNamed`
does. The first component names a registry only if it looks like a host
(it has a "." or a ":", is "localhost", or has capitals, which a path may
not have); otherwise the registry is Docker Hub, where a one-component name
is an official image under `library/`. A name with neither a tag nor a
digest means `:latest`. So `busybox` is `docker.io/library/busybox:latest`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dkr.errors import DkrError, shorten
from dkr.image.store import digest_problem

COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
REGISTRY = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
IMAGE_ID = re.compile(r"[a-f0-9]{64}")  # a sha256 alone names an image, not a repo
NAME_MAX = 255  # characters in the path (registry aside)

DOCKER_HUB = "docker.io"
LEGACY_HUB = "index.docker.io"  # Docker Hub's old name, the same registry
HUB_API = "registry-1.docker.io"  # where Docker Hub's registry API answers
OFFICIAL = "library/"
LOCALHOST = "localhost"
DEFAULT_TAG = "latest"

FORMAT = "invalid reference format"  # how Docker's messages start


class BadReference(DkrError):
    """An image name that is not a reference; the message says what is wrong."""

    def __init__(self, text: str, problem: str) -> None:
        super().__init__(f'{problem}: "{shorten(text)}"')
        self.text, self.problem = text, problem


@dataclass(frozen=True)
class Reference:
    """A full image reference: `registry/repository[:tag][@digest]`.

    When it has both a tag and a digest, the digest is what is pulled; the
    tag only says what the user called it."""

    registry: str  # "docker.io", "127.0.0.1:5000", "[::1]:5000", "localhost"
    repository: str  # "library/busybox"
    tag: str | None = None
    digest: str | None = None  # "sha256:<64 hex>", checked by the store's rule

    @property
    def name(self) -> str:
        """The repository with its registry: "docker.io/library/busybox"."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The repository as Docker shows it: "busybox", "user/app",
        "127.0.0.1:5000/app"."""
        if self.registry != DOCKER_HUB:
            return self.name
        official = self.repository[len(OFFICIAL):]
        if self.repository.startswith(OFFICIAL) and "/" not in official:
            return official
        return self.repository

    @property
    def familiar(self) -> str:
        """The short form Docker shows: "busybox:latest", "user/app:1"."""
        return self.familiar_name + self._suffix()

    @property
    def api_host(self) -> str:
        """The host (and port) of the registry's HTTP API."""
        return HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def identifier(self) -> str:
        """What to ask the registry for, in /v2/<repository>/manifests/<this>:
        the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def _suffix(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        return tag + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()


def parse(text: str) -> Reference:
    """The full reference that the image name `text` stands for.

    Raises BadReference, whose one line says what is wrong in Docker's words
    ("invalid reference format: repository name (library/Busybox) must be
    lowercase")."""
    if IMAGE_ID.fullmatch(text):
        raise BadReference(text, "invalid repository name: cannot specify "
                           "64-byte hexadecimal strings (that is an image id)")
    rest, at, digest = text.partition("@")
    name, tag = split_tag(rest)
    if not name:
        raise BadReference(text, "repository name must have at least one component")
    registry, repository = split_registry(name)
    check_name(text, registry, repository)
    if tag is not None and not TAG.fullmatch(tag):
        raise BadReference(text, f"{FORMAT}: a tag is at most 128 letters, digits, "
                           f'"_", "." and "-", and does not start with "." or "-"')
    wrong = digest_problem(digest) if at else None
    if wrong:
        raise BadReference(text, wrong)
    if tag is None and not at:
        tag = DEFAULT_TAG
    return Reference(registry, repository, tag, digest if at else None)


def split_tag(name: str) -> tuple[str, str | None]:
    """`name` and its tag, which follows the last ":" after the last "/"
    (a ":" before a "/" is a registry's port)."""
    before, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return name, None
    return before, tag


def split_registry(name: str) -> tuple[str, str]:
    """The registry and the repository path of a name, Docker Hub's filled in."""
    first, slash, rest = name.partition("/")
    looks_like_host = (first == LOCALHOST or "." in first or ":" in first
                       or first != first.lower())
    registry, path = (first, rest) if slash and looks_like_host else (DOCKER_HUB, name)
    if registry == LEGACY_HUB:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = OFFICIAL + path
    return registry, path


def check_name(text: str, registry: str, path: str) -> None:
    """BadReference unless the registry and path follow the grammar."""
    if path != path.lower():
        raise BadReference(text, f"{FORMAT}: repository name ({path}) must be "
                           f"lowercase")
    for component in path.split("/"):
        if not component:
            raise BadReference(text, f"{FORMAT}: the repository name has an empty "
                               f"component")
        if not COMPONENT.fullmatch(component):
            raise BadReference(text, f'{FORMAT}: "{shorten(component)}" in the '
                               f"repository name is not lowercase letters and "
                               f'digits joined by ".", "_", "__" or "-"')
    if len(path) > NAME_MAX:
        raise BadReference(text, f"repository name must not be more than "
                           f"{NAME_MAX} characters")
    if not REGISTRY.fullmatch(registry):
        raise BadReference(text, f'{FORMAT}: registry "{shorten(registry)}" is not '
                           f"a host name or address with an optional :port")
