# chapter: 9
"""Chapter 9: the content store trusts nothing by name.

A digest is checked before it becomes a path; a blob gets its name only
when its size and sha256 are the expected ones, and is read-only from then
on; a failed write leaves nothing that looks like a blob; two writers of
one digest make one blob; a killed writer's temporary file is removed by
the next writer; a cut-off download resumes where it stopped. No root.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dkr import owners
from dkr.errors import EXIT_DKR_FAILED
from dkr.image.store import (BadDigest, BlobNotFound, BlobStore, Digest,
                             DigestMismatch, SizeMismatch)

TREE = Path(__file__).resolve().parents[2]
DATA = b"a layer's bytes\n" * 4096
DIGEST = Digest.of(DATA)
OTHER = Digest.of(b"something else")


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "store")


def leftovers(store: BlobStore) -> list[str]:
    """Everything in the store's ingest directory."""
    return sorted(entry.name for entry in store.ingest.iterdir())


def write(store: BlobStore, data: bytes, digest: Digest = DIGEST,
          size: int | None = None, chunk: int = 1000) -> Path:
    with store.writer(digest, len(data) if size is None else size) as blob:
        for start in range(0, len(data), chunk):
            blob.write(data[start:start + chunk])
        return blob.commit()


class Interrupted(Exception):
    """A download cut off halfway."""


def test_a_good_write_becomes_a_read_only_blob(store: BlobStore) -> None:
    path = write(store, DATA)
    assert path == store.root / "blobs" / "sha256" / DIGEST.hex
    assert store.path(DIGEST) == path and store.has(DIGEST)
    assert store.size(DIGEST) == len(DATA)
    with store.open(DIGEST) as file:
        assert file.read() == DATA
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    if os.geteuid() != 0:  # root writes to any file: for root, the mode is it
        with pytest.raises(PermissionError):
            path.open("ab")
    assert leftovers(store) == []
    store.verify(DIGEST)


def test_a_write_without_a_size_is_checked_by_digest(store: BlobStore) -> None:
    with store.writer(DIGEST) as blob:
        blob.write(DATA)
        blob.commit()
    assert store.has(DIGEST)


def test_a_digest_mismatch_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(DigestMismatch) as caught:
        write(store, DATA, digest=OTHER)
    message = str(caught.value)
    assert f"expected {OTHER}, got {DIGEST}" in message and "\n" not in message
    assert caught.value.exit_code == EXIT_DKR_FAILED
    assert not store.has(OTHER) and not store.has(DIGEST)
    assert leftovers(store) == []


def test_a_short_blob_is_refused_at_commit(store: BlobStore) -> None:
    with pytest.raises(SizeMismatch, match=f"{len(DATA)} bytes, not the "
                       f"{len(DATA) + 1} expected"):
        write(store, DATA, size=len(DATA) + 1)
    assert not store.has(DIGEST) and leftovers(store) == []


def test_a_long_blob_is_refused_as_soon_as_it_is_too_long(store: BlobStore) -> None:
    with store.writer(DIGEST, 10) as blob:
        blob.write(b"0123456789")
        with pytest.raises(SizeMismatch, match="longer than the 10 bytes expected"):
            blob.write(b"!")
        assert leftovers(store) == []  # at once: the disk is not filled
    assert not store.has(DIGEST) and leftovers(store) == []


def test_a_writer_left_without_commit_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(Interrupted):
        with store.writer(DIGEST, len(DATA)) as blob:
            blob.write(DATA[:100])
            raise Interrupted
    assert not store.has(DIGEST) and leftovers(store) == []


@pytest.mark.parametrize("text", [
    "sha256:../x",
    "sha256:../../etc/passwd",
    "sha256:" + "a" * 62 + "/.",
    "sha256:" + "A" * 64,
    "SHA256:" + "a" * 64,
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha256:" + "g" * 64,
    "md5:" + "a" * 32,
    "sha512:" + "a" * 128,
    "sha256:",
    "sha256",
    "",
    " sha256:" + "a" * 64,
    "sha256:" + "a" * 64 + "\n",
    "a" * 64,
], ids=["dotdot", "dotdot-etc", "slash", "uppercase-hex", "uppercase-algorithm",
        "short", "long", "not-hex", "md5", "sha512", "no-hash", "no-colon", "empty",
        "leading-space", "trailing-newline", "no-algorithm"])
def test_a_bad_digest_never_becomes_a_path(store: BlobStore, text: str) -> None:
    with pytest.raises(BadDigest) as caught:
        Digest.parse(text)
    assert "\n" not in str(caught.value).replace(text, "")  # one line
    with pytest.raises(TypeError):
        store.path(text)  # type: ignore[arg-type]
    assert not store.root.exists()


@pytest.mark.parametrize("hex", ["../x", "../" * 21 + "a", "A" * 64, "a" * 63, "",
                                 "a" * 63 + "/", 10 ** 63])
def test_a_digest_cannot_be_made_from_a_bad_hash(hex: object) -> None:
    with pytest.raises(BadDigest):
        Digest(hex)  # type: ignore[arg-type]


def test_a_digest_says_what_is_wrong() -> None:
    with pytest.raises(BadDigest, match="unsupported digest algorithm md5"):
        Digest.parse("md5:" + "a" * 32)
    with pytest.raises(BadDigest, match="digest length .* this has 63"):
        Digest.parse("sha256:" + "a" * 63)
    with pytest.raises(BadDigest, match='format .*: "sha256:../x"$'):
        Digest.parse("sha256:../x")


def test_a_digest_is_its_text() -> None:
    text = "sha256:" + hashlib.sha256(b"").hexdigest()
    digest = Digest.parse(text)
    assert str(digest) == text and digest.hex == text[7:]
    assert digest == Digest.of(b"") and hash(digest) == hash(Digest.of(b""))


def test_two_writers_of_one_digest_make_one_blob(store: BlobStore) -> None:
    both_written = threading.Barrier(2)
    paths: list[Path] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with store.writer(DIGEST, len(DATA)) as blob:
                blob.write(DATA)
                both_written.wait(timeout=10)
                paths.append(blob.commit())
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert paths == [store.path(DIGEST)] * 2
    assert os.listdir(store.blobs) == [DIGEST.hex]
    assert leftovers(store) == []
    store.verify(DIGEST)


def test_two_processes_writing_one_digest_make_one_blob(store: BlobStore) -> None:
    program = (
        "import sys\n"
        "from pathlib import Path\n"
        "from dkr.image.store import BlobStore, Digest\n"
        "data = sys.stdin.buffer.read()\n"
        "with BlobStore(Path(sys.argv[1])).writer(Digest.of(data), len(data)) as b:\n"
        "    for i in range(0, len(data), 512):\n"
        "        b.write(data[i:i + 512])\n"
        "    b.commit()\n")
    writers = [subprocess.Popen([sys.executable, "-c", program, str(store.root)],
                                stdin=subprocess.PIPE, cwd=TREE) for _ in range(4)]
    for process in writers:
        process.communicate(DATA, timeout=60)
    assert [process.returncode for process in writers] == [0] * 4
    assert os.listdir(store.blobs) == [DIGEST.hex]
    assert leftovers(store) == []
    store.verify(DIGEST)


def test_an_existing_blob_is_never_replaced(store: BlobStore) -> None:
    first = write(store, DATA).stat()
    write(store, DATA)
    again = store.path(DIGEST).stat()
    assert (again.st_ino, again.st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert leftovers(store) == []


def test_an_interrupted_write_resumes_where_it_stopped(store: BlobStore) -> None:
    half = len(DATA) // 2 + 7
    with pytest.raises(Interrupted):
        with store.writer(DIGEST, len(DATA), resume=True) as blob:
            assert blob.offset == 0
            blob.write(DATA[:half])
            raise Interrupted
    assert leftovers(store) == [f"{DIGEST.hex}.partial"]
    assert not store.has(DIGEST)
    with store.writer(DIGEST, len(DATA), resume=True) as blob:
        assert blob.offset == half  # ask the server for bytes=half-
        blob.write(DATA[blob.offset:])
        blob.commit()
    with store.open(DIGEST) as file:
        assert file.read() == DATA
    assert leftovers(store) == []


def test_a_resumed_write_checks_the_kept_bytes_too(store: BlobStore) -> None:
    store.writer(DIGEST).close()  # makes the directories
    (store.ingest / f"{DIGEST.hex}.partial").write_bytes(b"X" * 100)
    with pytest.raises(DigestMismatch):
        with store.writer(DIGEST, len(DATA), resume=True) as blob:
            assert blob.offset == 100
            blob.write(DATA[100:])
            blob.commit()
    assert not store.has(DIGEST) and leftovers(store) == []


def test_kept_bytes_longer_than_the_blob_are_dropped(store: BlobStore) -> None:
    store.writer(DIGEST).close()
    (store.ingest / f"{DIGEST.hex}.partial").write_bytes(b"X" * (len(DATA) + 1))
    with store.writer(DIGEST, len(DATA), resume=True) as blob:
        assert blob.offset == 0
        blob.write(DATA)
        blob.commit()
    assert store.has(DIGEST) and leftovers(store) == []


def test_only_one_writer_takes_over_kept_bytes(store: BlobStore) -> None:
    with pytest.raises(Interrupted):
        with store.writer(DIGEST, len(DATA), resume=True) as blob:
            blob.write(DATA[:100])
            raise Interrupted
    first = store.writer(DIGEST, len(DATA), resume=True)
    second = store.writer(DIGEST, len(DATA), resume=True)
    assert (first.offset, second.offset) == (100, 0)
    second.write(DATA)
    second.commit()
    first.write(DATA[100:])
    first.commit()
    assert store.has(DIGEST) and leftovers(store) == []


def test_a_writer_without_resume_keeps_nothing_for_one(store: BlobStore) -> None:
    with pytest.raises(Interrupted):
        with store.writer(DIGEST, len(DATA)) as blob:
            blob.write(DATA[:100])
            raise Interrupted
    with store.writer(DIGEST, len(DATA), resume=True) as blob:
        assert blob.offset == 0


def test_a_killed_writers_file_is_removed_by_the_next(store: BlobStore) -> None:
    program = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from dkr.image.store import BlobStore, Digest\n"
        "blob = BlobStore(Path(sys.argv[1])).writer(Digest(sys.argv[2]), resume=True)\n"
        "blob.write(b'half a layer')\n"
        "blob.file.flush()\n"
        "print('written', flush=True)\n"
        "time.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", program, str(store.root),
                               DIGEST.hex], stdout=subprocess.PIPE, cwd=TREE)
    try:
        assert writer.stdout is not None and writer.stdout.readline() == b"written\n"
        [name] = leftovers(store)
        assert name.startswith(f"{DIGEST.hex}.{writer.pid}-")
        store.writer(OTHER).close()  # the writer is alive: its file stays
        assert leftovers(store) == [name]
    finally:
        writer.kill()  # SIGKILL: it removes nothing, keeps nothing
        writer.wait()
        writer.stdout.close()
    assert leftovers(store) == [name]
    store.writer(OTHER).close()
    assert leftovers(store) == []


def test_a_stale_ingest_file_from_a_dead_pid_is_removed(store: BlobStore) -> None:
    dead = subprocess.Popen(["sleep", "60"])
    dead_id = owners.owner_id(dead.pid)
    dead.kill()
    dead.wait()
    assert dead_id is not None and owners.is_stale(dead_id)
    store.writer(OTHER).close()
    dead_file = store.ingest / f"{DIGEST.hex}.{dead_id.replace(' ', '-')}.x"
    unreadable = store.ingest / "not-a-writer"
    kept = store.ingest / f"{OTHER.hex}.partial"
    mine = store.ingest / f"{DIGEST.hex}.{owners.me().replace(' ', '-')}.y"
    for path in (dead_file, unreadable, kept, mine):
        path.write_bytes(b"x")
    store.writer(DIGEST).close()
    assert leftovers(store) == sorted([kept.name, mine.name])


def test_verify_finds_a_damaged_blob(store: BlobStore) -> None:
    path = write(store, DATA)
    path.chmod(0o644)
    path.write_bytes(DATA[:-1] + b"!")
    with pytest.raises(DigestMismatch, match=f"blob {DIGEST} is damaged"):
        store.verify(DIGEST)


def test_a_missing_blob(store: BlobStore) -> None:
    assert not store.has(DIGEST)
    with pytest.raises(BlobNotFound, match=f"blob {DIGEST} is not in the store"):
        store.size(DIGEST)
    with pytest.raises(BlobNotFound):
        store.open(DIGEST)
    store.remove(DIGEST)  # nothing to remove: no error


def test_remove(store: BlobStore) -> None:
    write(store, DATA)
    store.remove(DIGEST)
    assert not store.has(DIGEST)
    write(store, DATA)  # and it can be written again
    assert store.has(DIGEST)
