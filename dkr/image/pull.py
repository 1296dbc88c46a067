# chapter: 9
"""`dkr pull`: an image from a registry into the store, its layers unpacked.

    GET /v2/<repo>/manifests/<tag>      an index, or the manifest itself
    GET /v2/<repo>/manifests/<digest>   the manifest for this machine's platform
    GET /v2/<repo>/blobs/<config>       the config: how to run it, the diff_ids
    GET /v2/<repo>/blobs/<layer>        each layer missing here, a few at once

Nothing is trusted by name. Each manifest is hashed and, when it was asked
for by digest, must have that digest; each blob is checked against its
descriptor's digest and size as it is written; each layer's uncompressed
tar against its config's diff_id as it is unpacked. What is here already
(a layer another image brought, or a blob an interrupted pull left) is not
fetched again: a second pull of an image costs one request for the manifest.
"""

from __future__ import annotations

import concurrent.futures
from dataclasses import dataclass

from dkr.errors import DkrError, shorten
from dkr.image import manifest
from dkr.image.images import Image, Images
from dkr.image.manifest import Descriptor, Index, Manifest, Platform
from dkr.image.progress import Progress
from dkr.image.reference import Reference
from dkr.image.registry import DROPPED, Registry, RegistryError, describe_failure
from dkr.image.store import Digest

PARALLEL = 3  # layers downloaded at once, as Docker's default
BLOB_ATTEMPTS = 5  # a dropped download resumes (or restarts) up to this often


@dataclass
class Puller:
    """One pull: the reference, its registry, and where it goes."""

    reference: Reference
    registry: Registry
    images: Images
    progress: Progress
    fetched: bool = False  # whether a layer was not here yet

    @property
    def scope(self) -> str:
        return f"repository:{self.reference.repository}:pull"

    def pull(self, platform: Platform) -> Image:
        where = self.reference.familiar
        data, digest, kind = self.manifest(self.reference.identifier)
        if self.reference.digest and str(digest) != self.reference.digest:
            raise DkrError(f"{where}: the registry's manifest has the digest {digest}, "
                           f"not the one asked for")
        document = manifest.parse(data, kind, where)
        if isinstance(document, Index):
            chosen = manifest.choose(document, platform, where)
            data, digest = self.manifest_by_digest(chosen)
            document = manifest.parse(data, chosen.media_type, where)
            if not isinstance(document, Manifest):
                raise DkrError(f"{where}: an index within an index: dkr reads "
                               f"one level")
        self.keep(digest, data)  # (an index is not kept: the image is its manifest)
        config = self.config(document, where)
        manifest.check_layer_count(document, config, where)
        compressions = [manifest.compression(layer, where) for layer in document.layers]
        sizes = self.layers(document.layers, config.diff_ids, compressions)
        image = Image.of(digest, document, config, sizes)
        self.images.add(str(self.reference), image)
        return image

    # Manifests and the config ------------------------------------------------------

    def manifest(self, identifier: str) -> tuple[bytes, Digest, str]:
        """The manifest (or index) a tag or digest names: its bytes, their
        digest, and the media type the registry gave."""
        path = f"/v2/{self.reference.repository}/manifests/{identifier}"
        answer = self.registry.get(path, self.scope, accept=manifest.ACCEPT)
        if answer.status == 404:
            answer.response.read()
            raise DkrError(f"{self.reference.familiar}: no such image in "
                           f"{self.registry.address} (manifest unknown)")
        check_status(answer.status, self.registry.address, path)
        data = answer.read(manifest.MOST_MANIFEST_BYTES)
        return data, Digest.of(data), answer.header("Content-Type")

    def manifest_by_digest(self, descriptor: Descriptor) -> tuple[bytes, Digest]:
        """A manifest an index names: from the store if it is there."""
        if self.images.blobs.has(descriptor.digest):
            with self.images.blobs.open(descriptor.digest) as file:
                return file.read(), descriptor.digest
        data, digest, _ = self.manifest(str(descriptor.digest))
        if digest != descriptor.digest:
            raise DkrError(f"{self.reference.familiar}: the manifest for "
                           f"{descriptor.platform} has the digest {digest}, not "
                           f"{descriptor.digest} as its index says")
        return data, digest

    def keep(self, digest: Digest, data: bytes) -> None:
        """Store a manifest's bytes as a blob (checked against their digest)."""
        if not self.images.blobs.has(digest):
            with self.images.blobs.writer(digest, len(data)) as blob:
                blob.write(data)
                blob.commit()

    def config(self, document: Manifest, where: str) -> manifest.Config:
        if document.config.media_type not in manifest.CONFIGS:
            raise DkrError(f"{where}: the config's media type "
                           f"{shorten(document.config.media_type)!r} is not an image's")
        if document.config.size > manifest.MOST_MANIFEST_BYTES:
            raise DkrError(f"{where}: a config of {document.config.size} bytes is more "
                           f"than dkr takes")
        if not self.images.blobs.has(document.config.digest):
            self.download(document.config, quiet=True)
        with self.images.blobs.open(document.config.digest) as file:
            return manifest.parse_config(file.read(), f"{where}'s config")

    # Layers --------------------------------------------------------------------------

    def layers(self, layers: list[Descriptor], diff_ids: list[Digest],
               compressions: list[str]) -> list[int]:
        """Each layer downloaded (unless here) and unpacked (unless here), a
        few at a time; their uncompressed sizes."""
        for layer in layers:
            self.progress.add(layer.digest, layer.size)
        with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
            futures = [pool.submit(self.layer, *job)
                       for job in zip(layers, diff_ids, compressions)]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def layer(self, layer: Descriptor, diff_id: Digest, compression: str) -> int:
        if self.images.has_layer(diff_id):
            self.progress.done(layer.digest, "Already exists")
            return self.images.layer_size(diff_id)
        self.fetched = True
        if not self.images.blobs.has(layer.digest):
            self.download(layer)
        self.progress.state(layer.digest, "Extracting")
        size = self.images.unpack_layer(layer.digest, diff_id, compression)
        self.progress.done(layer.digest, "Pull complete")
        return size

    def download(self, blob: Descriptor, quiet: bool = False) -> None:
        """Fetch a blob into the store, checked as it comes. A dropped
        connection goes on from the byte it stopped at (Range), or from the
        start where the server will not; so does the next pull, when this
        one gave up (an interrupted download keeps its bytes as a partial)."""
        path = f"/v2/{self.reference.repository}/blobs/{blob.digest}"
        with self.images.blobs.writer(blob.digest, blob.size, resume=True) as writer:
            for attempt in range(1, BLOB_ATTEMPTS + 1):
                if writer.written == blob.size:  # all here already: nothing to ask for
                    break
                answer = self.registry.get(path, self.scope, offset=writer.written)
                if answer.status == 200 and writer.written:  # the server sends it all
                    writer.restart()
                elif answer.status == 206 and not answer.header(
                        "Content-Range").startswith(f"bytes {writer.written}-"):
                    raise RegistryError(f"{self.registry.address}: a blob's bytes came "
                                        f"from the wrong place (Content-Range)")
                elif answer.status == 404:
                    raise RegistryError(f"{self.reference.familiar}: the registry "
                                        f"lacks the blob {blob.digest}")
                elif answer.status not in (200, 206):
                    check_status(answer.status, self.registry.address, path)
                if not quiet:
                    self.progress.state(blob.digest, "Downloading", writer.written)
                try:
                    for chunk in answer.chunks():
                        writer.write(chunk)
                        if not quiet:
                            self.progress.advance(blob.digest, len(chunk))
                except DROPPED as error:
                    self.registry.drop_connections()
                    if attempt == BLOB_ATTEMPTS:
                        raise RegistryError(f"{self.registry.address}: the download of "
                                            f"{blob.digest} broke off: "
                                            f"{describe_failure(error)}") from None
                    continue
            if not quiet:
                self.progress.state(blob.digest, "Verifying")
            writer.commit()


def check_status(status: int, address: str, path: str) -> None:
    """Any answer but a success, as one line."""
    if status >= 300:
        raise RegistryError(f"{address} answered {status} to GET {shorten(path)}")



def pull(reference: Reference, platform: Platform | None, insecure: set[str],
         progress: Progress, images: Images | None = None) -> tuple[Image, bool]:
    """Pull the image `reference` names: its record, and whether any layer
    had to be fetched."""
    registry = Registry.for_name(reference.registry, reference.api_host, insecure)
    puller = Puller(reference, registry, images or Images(), progress)
    image = puller.pull(platform or Platform.host())
    return image, puller.fetched
