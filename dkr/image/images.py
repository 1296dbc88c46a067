# chapter: 9
"""The images on this machine: names, records, and each layer unpacked once.

    $DKR_DATA/image/
      blobs/sha256/<hex>     manifests, configs and layer tars (dkr.image.store)
      layers/<hex>/          a layer unpacked, named by its diff_id: an overlay lower
      images.json            names → image ids, and each image's record

An image's id is its config's digest, as in Docker: two names of one
image (a tag and a digest, say) are one image. Its record lists its
manifest, config and layers; nothing else says which blobs belong to which
image, so `remove` can tell what another image still uses.

A layer is unpacked from its verified blob into a staging directory, its
diff_id (the digest of the uncompressed tar, from the config) checked on
the way, and renamed into place whole: a layer directory that has its name
is complete and is what its name says. Two images that share a layer
share its directory, and so does every container of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

from dkr import owners
from dkr.defaults import DATA_DIR
from dkr.errors import DkrError, shorten
from dkr.image.manifest import Config, Manifest, parse_config
from dkr.image.store import BlobStore, Digest
from dkr.state import locked, write_whole

ROOT = DATA_DIR / "image"
CHUNK = 1 << 20


class NoSuchImage(DkrError):
    """A name or id that names no image here."""


@dataclass
class Image:
    """One image's record."""

    id: str  # the config's digest
    manifest: str
    layers: list[str]  # the layer blobs' digests, bottom first
    diff_ids: list[str]
    sizes: list[int]  # each layer's uncompressed bytes
    created: str = ""
    names: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, manifest_digest: Digest, document: Manifest, config: Config,
           sizes: list[int]) -> Image:
        """The record of the image a manifest and its config describe."""
        return cls(id=str(document.config.digest), manifest=str(manifest_digest),
                   layers=[str(layer.digest) for layer in document.layers],
                   diff_ids=[str(diff_id) for diff_id in config.diff_ids],
                   sizes=sizes, created=config.created)


class Images:
    """The image store of one data directory."""

    def __init__(self, root: Path = ROOT) -> None:
        self.root = root
        self.blobs = BlobStore(root)
        self.layers = root / "layers"
        self.records = root / "images.json"

    # Records ---------------------------------------------------------------

    @contextlib.contextmanager
    def changing(self) -> Iterator[dict]:
        """The records, to change in the block, written back whole after it;
        under a lock, so two dkrs never lose each other's changes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with locked(self.root):
            records = self.read()
            yield records
            text = json.dumps(records, indent=1, sort_keys=True) + "\n"
            write_whole(self.records, text, 0o644)

    def read(self) -> dict:
        try:
            records = json.loads(self.records.read_text())
        except FileNotFoundError:
            records = {}
        records.setdefault("names", {})
        records.setdefault("images", {})
        return records

    def add(self, name: str, image: Image) -> None:
        """Record `image` under `name` (a name moves from an older image)."""
        with self.changing() as records:
            record = asdict(image)
            del record["names"]
            records["images"][image.id] = record
            records["names"][name] = image.id
        self.remove_unnamed()

    def all(self) -> list[Image]:
        """Every image here, with its names."""
        records = self.read()
        images = {key: Image(**value) for key, value in records["images"].items()}
        for name, image_id in sorted(records["names"].items()):
            if image_id in images:
                images[image_id].names.append(name)
        return list(images.values())

    def find(self, name: str) -> Image | None:
        """The image a full name, an id, or an id's first 12 or more hex
        digits names (as Docker finds them)."""
        records = self.read()
        image_id = records["names"].get(name)
        if image_id is None:
            key = name.removeprefix("sha256:")
            matches = [known for known in records["images"] if len(key) >= 12
                       and known.removeprefix("sha256:").startswith(key)]
            image_id = matches[0] if len(matches) == 1 else None
        if image_id is None or image_id not in records["images"]:
            return None
        image = Image(**records["images"][image_id])
        image.names = sorted(key for key, value in records["names"].items()
                             if value == image_id)
        return image

    def config(self, image: Image) -> Config:
        with self.blobs.open(Digest.parse(image.id)) as file:
            return parse_config(file.read(), f"the config of {image.id}")

    def layer_paths(self, image: Image) -> list[str]:
        """The image's unpacked layers, bottom first: overlay's lowers. A
        layer an image has twice is stacked once, where it is topmost
        (overlayfs refuses a directory twice; what shows is the same)."""
        paths = [str(self.layers / Digest.parse(diff_id).hex)
                 for diff_id in image.diff_ids]
        return list(dict.fromkeys(reversed(paths)))[::-1]

    # Removing -------------------------------------------------------------------

    def untag(self, name: str) -> Image:
        """Remove a name, and the image if it was its last (what another
        image or a running container uses stays)."""
        image = self.find(name)
        if image is None:
            raise NoSuchImage(f"no such image: {shorten(name)}")
        with self.changing() as records:
            names = records["names"]
            gone = [key for key, value in names.items()
                    if value == image.id and (key == name or name not in names)]
            users = self.containers_using(image)
            if users and len(gone) == len(image.names):
                raise DkrError(f"image {shorten(name)} is in use by container "
                               f"{users[0]}: end it first")
            for key in gone:
                del records["names"][key]
        self.remove_unnamed()
        return image

    def remove_unnamed(self) -> None:
        """Remove the images no name points to, and their blobs and layers
        that no remaining image uses."""
        with self.changing() as records:
            named = set(records["names"].values())
            unnamed = [records["images"].pop(key) for key in list(records["images"])
                       if key not in named]
            kept = [_parts(record) for record in records["images"].values()]
            kept_blobs = {blob for blobs, _ in kept for blob in blobs}
            kept_layers = {layer for _, layers in kept for layer in layers}
            # Only what the removed images had: a pull beside this one may
            # have blobs that no record names yet.
            for blobs, layers in map(_parts, unnamed):
                self._remove(blobs - kept_blobs, layers - kept_layers)

    def _remove(self, blobs: set[str], layers: set[str]) -> None:
        """Remove blobs and unpacked layers, but no layer a running
        container stacks: the next removal takes it, once it is free."""
        from dkr.overlay import remove_tree

        in_use = self.layers_in_use()
        for blob in blobs:
            self.blobs.remove(Digest.parse(blob))
        for layer in layers:
            path = self.layers / Digest.parse(layer).hex
            if path.exists() and str(path) not in in_use:
                remove_tree(str(path))

    def containers_using(self, image: Image) -> list[str]:
        """The running containers whose overlay stacks a layer of `image`."""
        layers = set(self.layer_paths(image))
        return sorted({container for path, container in self._stacked()
                       if path in layers})

    def layers_in_use(self) -> set[str]:
        """The layer directories that running containers stack."""
        return {path for path, _ in self._stacked()}

    def _stacked(self) -> list[tuple[str, str]]:
        """(lower directory, container id) for every running container's
        overlay: the links in its layer directory's l/."""
        from dkr.overlay import LAYERS

        found = []
        for container in LAYERS.iterdir() if LAYERS.is_dir() else ():
            with contextlib.suppress(OSError):
                for link in (container / "l").iterdir():
                    found.append((os.readlink(link), container.name))
        return found

    # Unpacking ---------------------------------------------------------------------

    def has_layer(self, diff_id: Digest) -> bool:
        return (self.layers / diff_id.hex).is_dir()

    def layer_size(self, diff_id: Digest) -> int:
        """A layer's uncompressed size, as the images that have it recorded."""
        for record in self.read()["images"].values():
            if str(diff_id) in record["diff_ids"]:
                return record["sizes"][record["diff_ids"].index(str(diff_id))]
        return 0

    def unpack_layer(self, blob: Digest, diff_id: Digest, compression: str) -> int:
        """Unpack the layer blob (checked already) into layers/<diff_id>,
        checking the diff_id on the way; the uncompressed size."""
        from dkr.image.unpack import unpack

        target = self.layers / diff_id.hex
        self.layers.mkdir(parents=True, exist_ok=True)
        owners.remove_stale_staging(self.layers)
        staging = owners.make_staging(self.layers)
        os.chmod(staging, 0o755)  # a layer's "/" as tar makes it, unless it has "./"
        try:
            with self.blobs.open(blob) as file:
                stream = Uncompressed(file, compression)
                unpack(stream, staging)
                stream.drain()
            actual = Digest(stream.sha256.hexdigest())
            if actual != diff_id:
                raise DkrError(f"layer {blob} unpacks to {actual}, not the {diff_id} "
                               f"its image's config says: the image is broken")
            try:
                os.rename(staging, target)
            except OSError:  # another dkr unpacked it first
                if not target.is_dir():
                    raise
        finally:
            if staging.exists():
                from dkr.overlay import remove_tree

                remove_tree(str(staging))
        return stream.size


class Uncompressed:
    """A layer blob as its tar: decompressed, hashed and counted as it is
    read, so the diff_id is checked on the same pass that unpacks it."""

    def __init__(self, file: BinaryIO, compression: str) -> None:
        self.file = file
        # 16 + MAX_WBITS: a gzip stream (members one after another are read
        # on by `read`, as gzip(1) does)
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if compression else None
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.buffer, self.position = b"", 0

    def read(self, size: int = -1) -> bytes:
        want = CHUNK if size is None or size < 0 else size
        parts = []
        while want > 0:
            if self.position >= len(self.buffer):
                self.buffer, self.position = self._more(), 0
                if not self.buffer:
                    break
            part = self.buffer[self.position:self.position + want]
            self.position += len(part)
            want -= len(part)
            parts.append(part)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self.sha256.update(data)
        self.size += len(data)
        return data

    def _more(self) -> bytes:
        try:
            return self._inflated()
        except zlib.error as error:
            raise DkrError(f"a layer is not the gzip stream its media type says: "
                           f"{error}") from None

    def _inflated(self) -> bytes:
        if self.inflater is None:
            return self.file.read(CHUNK)
        while True:
            if self.inflater.eof:
                rest = self.inflater.unused_data
                if not rest:
                    rest = self.file.read(CHUNK)
                    if not rest:
                        return b""
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                data = self.inflater.decompress(rest)
            else:
                compressed = self.file.read(CHUNK)
                if not compressed:
                    data = self.inflater.flush()
                    if not self.inflater.eof:
                        raise DkrError("a layer's gzip stream ends early: the blob is "
                                       "cut off")
                    return data
                data = self.inflater.decompress(compressed)
            if data:
                return data

    def drain(self) -> None:
        """Read what the tar leaves unread (its end padding), for the hash."""
        while self.read(CHUNK):
            pass


def _parts(record: dict) -> tuple[set[str], set[str]]:
    """An image record's blobs (config, manifest, layers) and unpacked layers."""
    blobs = {record["id"], record["manifest"], *record["layers"]}
    return blobs, set(record["diff_ids"])
