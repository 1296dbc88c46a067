# chapter: 9
"""The content store: blobs named by the digest of what is in them.

An image is a few blobs (a manifest, a config, its layers), each named by
the sha256 of its bytes. The store keeps them as containerd does, at
`ROOT/blobs/sha256/<hex>`, and trusts nothing by name:

- A digest is parsed before it becomes a path, and only `sha256:` with 64
  lowercase hex digits parses: a registry that answers "sha256:../../etc"
  never gets to name a file (CVE-2024-3727).
- A blob is written into `ROOT/ingest/` first and hashed as it is written.
  It gets its name only once its size and digest are the expected ones, so
  a blob that has its name is whole and is what the name says.
- A blob with its name is read-only and is never replaced.
- A temporary file's name says which process writes it, so the next writer
  removes what a killed one left behind.

A download cut off halfway need not start again: a writer opened with
`resume=True` leaves its bytes behind as `ingest/<hex>.partial` when it
fails, and the next such writer for the digest takes them over.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from dkr import owners
from dkr.errors import DkrError, shorten

ALGORITHM = "sha256"
HEX = re.compile(r"[0-9a-f]{64}")
# A digest of any algorithm, in the OCI image spec's grammar
# (descriptor.md): algorithm components joined by + . _ or -, a colon, the
# encoded hash.
OCI_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
PARTIAL = "partial"  # the suffix of bytes kept for a resumed write
CHUNK = 1 << 20
READ_ONLY = 0o444


class BadDigest(DkrError):
    """A digest dkr does not use: anything but `sha256:` and 64 lowercase hex."""


class DigestMismatch(DkrError):
    """Bytes whose sha256 is not the digest they were expected to have."""


class SizeMismatch(DkrError):
    """Bytes longer or shorter than the size they were expected to have."""


class BlobNotFound(DkrError):
    """A digest whose blob is not in the store."""


def digest_problem(text: str) -> str | None:
    """What is wrong with `text` as a digest for dkr, or None if nothing.

    The words are go-digest's, which Docker shows: a digest can be well
    formed by the OCI spec and still be refused, for an algorithm dkr does
    not use (sha512, say) or a hash of the wrong length."""
    if not OCI_DIGEST.fullmatch(text):
        return "invalid checksum digest format (not ALGORITHM:HASH)"
    algorithm, _, encoded = text.partition(":")
    if algorithm != ALGORITHM:
        return f"unsupported digest algorithm {algorithm} (dkr uses sha256 only)"
    if len(encoded) != 64:
        return (f"invalid checksum digest length (sha256 has 64 hex digits, "
                f"this has {len(encoded)})")
    if not HEX.fullmatch(encoded):
        return "invalid checksum digest format (sha256 is 64 lowercase hex digits)"
    return None


@dataclass(frozen=True)
class Digest:
    """A sha256 digest, valid from the moment it exists: `Digest("../x")`
    raises, so every Digest is safe to use as a file name."""

    hex: str

    def __post_init__(self) -> None:
        wrong = digest_problem(f"{ALGORITHM}:{self.hex}")
        if not isinstance(self.hex, str) or wrong:
            raise BadDigest(f'{wrong or "not a string"}: "{shorten(str(self))}"')

    @classmethod
    def parse(cls, text: str) -> Digest:
        """The digest written as `text` ("sha256:<hex>"), or BadDigest."""
        wrong = digest_problem(text)
        if wrong:
            raise BadDigest(f'{wrong}: "{shorten(text)}"')
        return cls(text.partition(":")[2])

    @classmethod
    def of(cls, data: bytes) -> Digest:
        """The digest of `data`."""
        return cls(hashlib.sha256(data).hexdigest())

    def __str__(self) -> str:
        return f"{ALGORITHM}:{self.hex}"


class BlobStore:
    """Blobs under `root`: `blobs/sha256/<hex>`, written through `ingest/`.

    Reading a blob does not hash it again: it was checked as it was written
    and has been read-only since, and hashing a layer on every use would
    double its cost. `verify` checks a blob again when that is in doubt."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blobs = self.root / "blobs" / ALGORITHM
        self.ingest = self.root / "ingest"

    def path(self, digest: Digest) -> Path:
        """Where the blob of `digest` is, or would be. Only a Digest is taken:
        a string has not been checked."""
        if not isinstance(digest, Digest):
            raise TypeError(f"a Digest, not {type(digest).__name__}")
        return self.blobs / digest.hex

    def has(self, digest: Digest) -> bool:
        """Whether the blob is in the store (and so whole and checked)."""
        return self.path(digest).is_file()

    def size(self, digest: Digest) -> int:
        """The blob's size in bytes."""
        try:
            return self.path(digest).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} is not in the store") from None

    def open(self, digest: Digest) -> BinaryIO:
        """The blob, open for reading (not hashed again: see the class)."""
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} is not in the store") from None

    def verify(self, digest: Digest) -> None:
        """Hash the blob again; DigestMismatch if it has changed on disk."""
        sha256 = hashlib.sha256()
        with self.open(digest) as file:
            read_into(sha256.update, file)
        actual = Digest(sha256.hexdigest())
        if actual != digest:
            raise DigestMismatch(f"blob {digest} is damaged: its content now "
                                 f"hashes to {actual}")

    def remove(self, digest: Digest) -> None:
        """Remove the blob; one that is not there is removed already."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(digest))

    def writer(self, expected: Digest, size: int | None = None,
               resume: bool = False) -> BlobWriter:
        """A writer for the blob of `expected`, `size` bytes long if given.

        With `resume`, it starts from the bytes a failed writer of the same
        digest kept (its `offset` says how many: ask the server for the
        rest), and keeps its own if it fails too."""
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.ingest.mkdir(parents=True, exist_ok=True)
        self.remove_stale_ingests()
        return BlobWriter(self, expected, size, resume)

    def partial(self, digest: Digest) -> Path:
        """Where a failed resumable writer keeps the bytes it had."""
        return self.ingest / f"{digest.hex}.{PARTIAL}"

    def remove_stale_ingests(self) -> None:
        """Remove the temporary files whose writer has died (kept partial
        files belong to no process: they wait for the next writer)."""
        for entry in self.ingest.iterdir():
            _, _, rest = entry.name.partition(".")
            if rest == PARTIAL:
                continue
            writer = rest.partition(".")[0].replace("-", " ")  # "PID-START"
            if owners.is_stale(writer):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry)


class BlobWriter:
    """One blob on its way into the store.

    Each `write` goes into a temporary file in `ingest/` and into the hash
    at once; `commit` checks the size and the digest and only then gives the
    blob its name. Leaving without a commit (or with a failed one) removes
    the temporary file, or, for a resumable writer whose bytes may still be
    good, keeps them as the digest's partial file. Use it in a `with` block:

        with store.writer(digest, size) as blob:
            for chunk in response:
                blob.write(chunk)
            blob.commit()
    """

    def __init__(self, store: BlobStore, expected: Digest, size: int | None,
                 resume: bool) -> None:
        self.store, self.expected, self.size = store, expected, size
        self.keep = resume
        self.sha256 = hashlib.sha256()
        writer = owners.me().replace(" ", "-")
        fd, name = tempfile.mkstemp(prefix=f"{expected.hex}.{writer}.",
                                    dir=store.ingest)
        self.temp = Path(name)
        self.file: BinaryIO | None = open(fd, "r+b")
        self.written = 0
        if resume:
            try:
                self._take_over(store.partial(expected))
            except BaseException:
                self.discard()
                raise
        self.offset = self.written = self.file.tell()

    def _take_over(self, partial: Path) -> None:
        """Make a kept partial file this writer's own, and hash its bytes
        again (a hash's state cannot be saved). The rename is atomic, so of
        two writers only one gets it; the other starts from nothing. The
        bytes are not trusted: `commit` checks them with the rest."""
        try:
            os.rename(partial, self.temp)
        except FileNotFoundError:
            return
        self.file.close()
        self.file = open(self.temp, "r+b")
        kept = read_into(self.sha256.update, self.file)
        if self.size is not None and kept > self.size:  # not this blob's
            self.file.seek(0)
            self.file.truncate()
            self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        """Add `data` to the blob. More than the expected size fails at once,
        so that a server cannot fill the disk."""
        if self.file is None:
            raise ValueError("write to a blob writer that has finished")
        if self.size is not None and self.written + len(data) > self.size:
            self.discard()
            raise SizeMismatch(f"blob {self.expected} is longer than the "
                               f"{self.size} bytes expected")
        self.file.write(data)
        self.sha256.update(data)
        self.written += len(data)

    def restart(self) -> None:
        """Drop what was written: the server sends the blob from its start."""
        if self.file is None:
            raise ValueError("restart of a blob writer that has finished")
        self.file.seek(0)
        self.file.truncate()
        self.sha256 = hashlib.sha256()
        self.written = 0

    def commit(self) -> Path:
        """Check the size and the digest, then give the blob its name: the
        bytes reach the disk first (fsync), then become read-only, then are
        linked to the name. A link never replaces: when another writer of
        the same digest got there first, its blob stays and this copy goes."""
        if self.file is None:
            raise ValueError("commit of a blob writer that has finished")
        try:
            self._check()
            self.file.flush()
            os.fsync(self.file.fileno())
            os.fchmod(self.file.fileno(), READ_ONLY)
        except BaseException:
            self.discard()
            raise
        target = self.store.path(self.expected)
        try:
            with contextlib.suppress(FileExistsError):
                os.link(self.temp, target)
            sync_directory(target.parent)
        finally:
            self.discard()
        return target

    def _check(self) -> None:
        if self.size is not None and self.written != self.size:
            raise SizeMismatch(f"blob {self.expected} is {self.written} bytes, "
                               f"not the {self.size} expected")
        actual = Digest(self.sha256.hexdigest())
        if actual != self.expected:
            raise DigestMismatch(f"blob content does not match its digest: "
                                 f"expected {self.expected}, got {actual}")

    def close(self) -> None:
        """Stop without committing: keep the bytes (if any) for a resumable
        writer, else remove them. After a commit there is nothing to do."""
        if self.file is None or not self.keep or self.written == 0:
            self.discard()
            return
        try:
            self.file.close()
        finally:
            self.file = None
        os.rename(self.temp, self.store.partial(self.expected))

    def discard(self) -> None:
        """Remove the temporary file: nothing of this write is kept."""
        if self.file is not None:
            with contextlib.suppress(OSError):  # a failed flush loses nothing
                self.file.close()
            self.file = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()


def read_into(update: Callable[[bytes], None], file: BinaryIO) -> int:
    """Feed the rest of `file` to `update` (a hash's); how many bytes it was."""
    count = 0
    while chunk := file.read(CHUNK):
        update(chunk)
        count += len(chunk)
    return count


def sync_directory(path: Path) -> None:
    """fsync a directory, so that a name just made in it survives a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
