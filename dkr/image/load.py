# chapter: 9
"""`dkr load -i`: images from a `docker save` tar file or an OCI layout directory.

Both hold what a registry would serve, without the HTTP:

- An OCI layout (`skopeo copy … oci:DIR:TAG` makes one) is a directory
  with `index.json` and the blobs under `blobs/sha256/`: the same index,
  manifests, configs and layers as a registry's.
- `docker save` writes a tar file whose `manifest.json` lists, for each
  image, its config file, its layer tars (uncompressed) and its names.
  dkr writes an OCI manifest for it, so that every image in the store
  has one.

Every blob is copied into the store through the same checks as a pull
(its digest, its size), and each layer unpacked through the same code.
"""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import BinaryIO, Callable

from dkr.errors import DkrError, shorten
from dkr.image import manifest
from dkr.image.images import Image, Images
from dkr.image.manifest import Descriptor, Index, Manifest, Platform
from dkr.image.reference import BadReference, parse
from dkr.image.store import Digest

Opener = Callable[[Digest], BinaryIO]
REF_NAME = "org.opencontainers.image.ref.name"
TAR = "application/vnd.oci.image.layer.v1.tar"


def load(source: str, images: Images | None = None) -> list[str]:
    """Load every image of `source`; the names they were stored under."""
    images = images or Images()
    path = Path(source)
    if path.is_dir():
        return load_layout(path, images)
    try:
        with tarfile.open(path) as tar:
            return load_docker_archive(tar, images)
    except FileNotFoundError:
        raise DkrError(f"no such file or directory: {shorten(source)}") from None
    except (tarfile.TarError, OSError) as error:
        raise DkrError(f"cannot read {shorten(source)} as a `docker save` tar file or "
                       f"an OCI layout: {error}") from None


def load_layout(layout: Path, images: Images) -> list[str]:
    """The images an OCI layout's index.json names, each under its ref.name."""
    where = f"the OCI layout {shorten(str(layout))}"

    def opener(digest: Digest) -> BinaryIO:
        try:
            return open(layout / "blobs" / "sha256" / digest.hex, "rb")
        except FileNotFoundError:
            raise DkrError(f"{where} lacks the blob {digest}") from None

    try:
        data = (layout / "index.json").read_bytes()
    except FileNotFoundError:
        raise DkrError(f"{where} has no index.json: is it an OCI layout?") from None
    top = manifest.parse(data, manifest.OCI_INDEX, f"{where}'s index.json")
    names = []
    for entry, notes in zip(top.manifests, _annotations(data)):
        name = _layout_name(notes.get(REF_NAME, ""), layout)
        descriptor = entry
        document = _read(opener, descriptor, images, where)
        if isinstance(document, Index):
            descriptor = manifest.choose(document, Platform.host(), where)
            document = _read(opener, descriptor, images, where)
        if not isinstance(document, Manifest):
            raise DkrError(f"{where}: an index within an index: dkr reads one level")
        store_image(images, name, descriptor.digest, document, opener, where)
        names.append(name)
    return names


def load_docker_archive(tar: tarfile.TarFile, images: Images) -> list[str]:
    """The images of a `docker save` tar file, under their RepoTags."""
    where = "the `docker save` file"

    def member(name: str) -> BinaryIO:
        try:
            file = tar.extractfile(name)
        except KeyError:
            file = None
        if file is None:
            raise DkrError(f"{where} lacks {shorten(name)}")
        return file

    try:
        entries = json.load(member("manifest.json"))
    except ValueError as error:
        raise DkrError(f"{where}: manifest.json is not JSON: {error}") from None
    if not isinstance(entries, list):
        raise DkrError(f"{where}: manifest.json: give a list")
    names = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise DkrError(f"{where}: manifest.json: give objects")
        files = {"config": entry.get("Config"), "layers": entry.get("Layers")}
        config_bytes = member(str(files["config"])).read()
        config = manifest.Descriptor(manifest.CONFIGS[1], Digest.of(config_bytes),
                                     len(config_bytes))
        layers, by_digest = [], {config.digest: lambda: _bytes_file(config_bytes)}
        for layer_name in files["layers"] or []:
            file = member(str(layer_name))
            digest = _digest_of(file)
            size = tar.getmember(str(layer_name)).size
            layers.append(Descriptor(TAR, digest, size))
            by_digest[digest] = lambda name=str(layer_name): member(name)
        document = Manifest(config, layers)
        manifest_bytes = json.dumps({
            "schemaVersion": 2, "mediaType": manifest.OCI_MANIFEST,
            "config": {"mediaType": manifest.CONFIGS[0], "digest": str(config.digest),
                       "size": config.size},
            "layers": [{"mediaType": layer.media_type, "digest": str(layer.digest),
                        "size": layer.size} for layer in layers]}).encode()
        manifest_digest = Digest.of(manifest_bytes)
        _copy(images, manifest_digest, len(manifest_bytes), _bytes_file(manifest_bytes))
        untagged = f"localhost/loaded:{config.digest.hex[:12]}"
        for tag in entry.get("RepoTags") or [untagged]:
            name = str(_parse_name(str(tag), where))
            store_image(images, name, manifest_digest, document,
                        lambda digest: by_digest[digest](), where)
            names.append(name)
    return names


def store_image(images: Images, name: str, manifest_digest: Digest, document: Manifest,
                opener: Opener, where: str) -> None:
    """Copy an image's config and layers into the store, unpack its layers,
    and record it under `name`."""
    _copy_blob(images, document.config, opener)
    with images.blobs.open(document.config.digest) as file:
        config = manifest.parse_config(file.read(), f"{where}: {name}'s config")
    manifest.check_layer_count(document, config, f"{where}: {name}")
    sizes = []
    for layer, diff_id in zip(document.layers, config.diff_ids):
        if images.has_layer(diff_id):
            sizes.append(images.layer_size(diff_id))
            continue
        _copy_blob(images, layer, opener)
        sizes.append(images.unpack_layer(layer.digest, diff_id,
                                         manifest.compression(layer, where)))
    images.add(name, Image.of(manifest_digest, document, config, sizes))


def _read(opener: Opener, descriptor: Descriptor, images: Images,
          where: str) -> Manifest | Index:
    _copy_blob(images, descriptor, opener)
    with images.blobs.open(descriptor.digest) as file:
        return manifest.parse(file.read(), descriptor.media_type, where)


def _copy_blob(images: Images, descriptor: Descriptor, opener: Opener) -> None:
    if not images.blobs.has(descriptor.digest):
        with opener(descriptor.digest) as file:
            _copy(images, descriptor.digest, descriptor.size, file)


def _copy(images: Images, digest: Digest, size: int, file: BinaryIO) -> None:
    """Copy a blob into the store, checked as it is written."""
    if images.blobs.has(digest):
        return
    with images.blobs.writer(digest, size) as blob:
        while chunk := file.read(1 << 20):
            blob.write(chunk)
        blob.commit()


def _digest_of(file: BinaryIO) -> Digest:
    import hashlib

    sha256 = hashlib.sha256()
    while chunk := file.read(1 << 20):
        sha256.update(chunk)
    return Digest(sha256.hexdigest())


def _bytes_file(data: bytes) -> BinaryIO:
    import io

    return io.BytesIO(data)


def _annotations(index_bytes: bytes) -> list[dict]:
    """Each index entry's annotations (manifest.parse keeps descriptors only)."""
    entries = json.loads(index_bytes).get("manifests", [])
    return [entry.get("annotations") or {} if isinstance(entry, dict) else {}
            for entry in entries]


def _layout_name(ref_name: str, layout: Path) -> str:
    """An OCI layout's ref.name as an image name: a full name as it is, a
    bare tag under localhost/<directory name>, as Podman names them."""
    where = f"the OCI layout {shorten(str(layout))}"
    if not ref_name:
        ref_name = "latest"
    if "/" not in ref_name and ":" not in ref_name:
        repository = os.path.basename(os.path.abspath(layout)).lower() or "image"
        ref_name = f"localhost/{repository}:{ref_name}"
    return str(_parse_name(ref_name, where))


def _parse_name(text: str, where: str):
    try:
        return parse(text)
    except BadReference as error:
        raise DkrError(f"{where}: {error}") from None
