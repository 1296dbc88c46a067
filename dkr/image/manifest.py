# chapter: 9
"""What an image is made of: an index, a manifest, a config and layers.

    index (optional)   one manifest per platform: linux/amd64, linux/arm64/v8…
      └ manifest       the config's descriptor, and the layers', bottom first
          ├ config     how to run it (Entrypoint, Cmd, Env…) and the layers'
          │            diff_ids: the digests of their uncompressed tars
          └ layers     tar files, usually gzip-compressed

A descriptor names a blob by media type, digest and size. The OCI image
spec and Docker's schema 2 say the same things with different media types;
both are read here into one model. Docker's older schema 1 (signed, with
no config blob) is refused with a clear word, as current Docker does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from dkr.errors import DkrError, shorten
from dkr.image.store import Digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
# What a pull asks for, in the Accept header: everything dkr reads.
ACCEPT = ", ".join((*MANIFESTS, *INDEXES))
CONFIGS = ("application/vnd.oci.image.config.v1+json",
           "application/vnd.docker.container.image.v1+json")
# Layer media types and how each is compressed.
LAYERS = {
    "application/vnd.oci.image.layer.v1.tar": "",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
}
MOST_MANIFEST_BYTES = 4 << 20  # the distribution spec's recommended limit

# The machine names of uname(2) as the image spec's architectures (Go's).
ARCHITECTURES = {"x86_64": ("amd64", ""), "aarch64": ("arm64", "v8"),
                 "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"), "i686": ("386", ""),
                 "i386": ("386", ""), "ppc64le": ("ppc64le", ""),
                 "s390x": ("s390x", ""),
                 "riscv64": ("riscv64", "")}


class BadImage(DkrError):
    """An image dkr cannot use: the message says what and why."""


@dataclass(frozen=True)
class Platform:
    """os/architecture[/variant], as in `--platform linux/arm64/v8`."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if not 2 <= len(parts) <= 3 or not all(parts):
            raise BadImage(f"bad platform {shorten(text)!r}: give OS/ARCH[/VARIANT], "
                           f"such as linux/amd64 or linux/arm64/v8")
        return cls(*parts)

    @classmethod
    def host(cls) -> Platform:
        machine = os.uname().machine
        architecture, variant = ARCHITECTURES.get(machine, (machine, ""))
        return cls("linux", architecture, variant)

    def __str__(self) -> str:
        return "/".join(filter(None, (self.os, self.architecture, self.variant)))


@dataclass(frozen=True)
class Descriptor:
    """A blob named by its media type, digest and size."""

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None


@dataclass
class Manifest:
    """One image: its config's descriptor and its layers', bottom first."""

    config: Descriptor
    layers: list[Descriptor]


@dataclass
class Index:
    """One manifest per platform."""

    manifests: list[Descriptor]


@dataclass
class Config:
    """What the config blob says about running the image and its layers."""

    diff_ids: list[Digest]
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    exposed_ports: list[str] = field(default_factory=list)
    created: str = ""
    platform: Platform | None = None


def parse(data: bytes, media_type: str, where: str) -> Manifest | Index:
    """A manifest or an index, from its bytes and the media type the
    registry gave (or that the document itself says)."""
    document = _json_object(data, where)
    declared = document.get("mediaType")
    kind = media_type.split(";")[0].strip()
    if not kind and isinstance(declared, str):
        kind = declared
    if kind in SCHEMA1 or document.get("schemaVersion") == 1:
        raise BadImage(f"{where} is a Docker schema 1 image, which dkr (like current "
                       f"Docker) does not pull: push it again with a newer tool")
    if kind in ("", "application/json", "text/plain"):  # a layout's, or a bare server's
        kind = OCI_INDEX if "manifests" in document else OCI_MANIFEST
    if kind in INDEXES:
        return Index([_descriptor(item, f"{where}: manifests[{n}]")
                      for n, item in enumerate(_list(document, "manifests", where))])
    if kind in MANIFESTS:
        config = _descriptor(document.get("config"), f"{where}: config")
        layers = _list(document, "layers", where)
        return Manifest(config, [_descriptor(item, f"{where}: layers[{n}]")
                                 for n, item in enumerate(layers)])
    raise BadImage(f"{where} has the media type {shorten(kind)!r}, which is neither an "
                   f"image manifest nor an index")


def choose(index: Index, wanted: Platform, where: str) -> Descriptor:
    """The index's manifest for `wanted` (a missing variant matches any,
    as containerd's matcher does for arm64's v8)."""
    for item in index.manifests:
        platform = item.platform
        if platform and (platform.os, platform.architecture) == (wanted.os,
                                                                 wanted.architecture):
            if not wanted.variant or platform.variant in ("", wanted.variant):
                return item
    offered = ", ".join(sorted(str(item.platform) for item in index.manifests
                               if item.platform)) or "none"
    raise BadImage(f"{where} has no image for {wanted} (it has: {offered}): give "
                   f"--platform to choose one")


def parse_config(data: bytes, where: str) -> Config:
    """The parts of an image config that dkr uses."""
    document = _json_object(data, where)
    rootfs = document.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise BadImage(f"{where}: rootfs.diff_ids: give a list of digests")
    run = document.get("config") or {}
    if not isinstance(run, dict):
        raise BadImage(f"{where}: config: give an object")
    ports = run.get("ExposedPorts") or {}
    platform = None
    architecture, system = document.get("architecture"), document.get("os")
    if isinstance(architecture, str) and isinstance(system, str):
        platform = Platform(system, architecture, str(document.get("variant") or ""))
    return Config(
        diff_ids=[_digest(value, f"{where}: rootfs.diff_ids[{n}]")
                  for n, value in enumerate(rootfs["diff_ids"])],
        entrypoint=_strings(run, "Entrypoint", where), cmd=_strings(run, "Cmd", where),
        env=_strings(run, "Env", where), working_dir=_string(run, "WorkingDir", where),
        user=_string(run, "User", where),
        exposed_ports=sorted(ports) if isinstance(ports, dict) else [],
        created=str(document.get("created") or ""), platform=platform)


def check_layer_count(document: Manifest, config: Config, where: str) -> None:
    """A manifest and its config must list as many layers as each other."""
    if len(config.diff_ids) != len(document.layers):
        raise BadImage(f"{where}: the config lists {len(config.diff_ids)} layers, "
                       f"the manifest {len(document.layers)}")


def compression(layer: Descriptor, where: str) -> str:
    """How a layer is compressed: "", "gzip" or "zstd" (refused until
    Python has zstd in its standard library)."""
    if layer.media_type not in LAYERS:
        raise BadImage(f"{where}: unknown layer media type "
                       f"{shorten(layer.media_type)!r}")
    kind = LAYERS[layer.media_type]
    if kind == "zstd":
        raise BadImage(f"{where}: the layer {layer.digest} is zstd-compressed "
                       f"({layer.media_type}), which this Python cannot read")
    return kind


# Reading JSON that anyone may have written ---------------------------------------


def _json_object(data: bytes, where: str) -> dict:
    try:
        document = json.loads(data)
    except ValueError as error:
        raise BadImage(f"{where} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadImage(f"{where}: give a JSON object")
    return document


def _list(document: dict, key: str, where: str) -> list:
    value = document.get(key)
    if not isinstance(value, list):
        raise BadImage(f"{where}: {key}: give a list")
    return value


def _descriptor(item: object, where: str) -> Descriptor:
    if not isinstance(item, dict):
        raise BadImage(f"{where}: give an object")
    media_type, size = item.get("mediaType"), item.get("size")
    if not isinstance(media_type, str):
        raise BadImage(f"{where}: mediaType: give a string")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise BadImage(f"{where}: size: give a whole number, 0 or more")
    platform = item.get("platform")
    return Descriptor(media_type, _digest(item.get("digest"), f"{where}: digest"), size,
                      Platform(str(platform.get("os", "")),
                               str(platform.get("architecture", "")),
                               str(platform.get("variant", "")))
                      if isinstance(platform, dict) else None)


def _digest(value: object, where: str) -> Digest:
    if not isinstance(value, str):
        raise BadImage(f"{where}: give a digest")
    try:
        return Digest.parse(value)
    except DkrError as error:
        raise BadImage(f"{where}: {error}") from None


def _strings(run: dict, key: str, where: str) -> list[str]:
    value = run.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise BadImage(f"{where}: config.{key}: give a list of strings")
    return value


def _string(run: dict, key: str, where: str) -> str:
    value = run.get(key) or ""
    if not isinstance(value, str):
        raise BadImage(f"{where}: config.{key}: give a string")
    return value
