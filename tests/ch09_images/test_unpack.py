# chapter: 9
"""Chapter 9: a layer is unpacked whole, and never outside its directory.

Every tar here is built with `tarfile` in the test's own directory. A normal
layer must come out with all it carries (owners, setuid bits, mtimes,
xattrs, holes, devices), its whiteouts in overlayfs's own form, which a
real overlay mount then honours. A malicious layer, modelled on
containerd's TestBreakouts and umoci's extraction tests, must be refused
with a one-line error that names the entry, and must leave every byte
around the layer directory as it was, and the directory itself empty. The
corpus (and the normal layers) run twice: through openat2, and through the
component-by-component walk that older kernels get.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import stat
import struct
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from dkr.errors import EXIT_DKR_FAILED
from dkr.image.unpack import OPAQUE_XATTR, LayerError, LayerInfo, UnsafeLayer, unpack
from dkr.linux import at, syscall
from dkr.linux.mount import UmountFlags, mount, umount2

MTIME = 1_600_000_000
NOBODY = 65534
Entry = tuple  # (tarfile.TarInfo, bytes of data)


# --- building layers -------------------------------------------------------------


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", *,
           mode: int = 0o644, uid: int = 0, gid: int = 0, mtime: float = MTIME,
           link: str = "", pax: dict[str, str] | None = None, major: int = 0,
           minor: int = 0) -> Entry:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime = kind, mode, uid, gid, mtime
    info.linkname, info.devmajor, info.devminor = link, major, minor
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.pax_headers = dict(pax or {})
    return info, data


def file(name: str, data: bytes = b"", **options) -> Entry:
    return member(name, tarfile.REGTYPE, data, **options)


def directory(name: str, **options) -> Entry:
    options.setdefault("mode", 0o755)
    return member(name, tarfile.DIRTYPE, **options)


def symlink(name: str, target: str, **options) -> Entry:
    return member(name, tarfile.SYMTYPE, link=target, mode=0o777, **options)


def hardlink(name: str, target: str, **options) -> Entry:
    return member(name, tarfile.LNKTYPE, link=target, **options)


def fifo(name: str, **options) -> Entry:
    return member(name, tarfile.FIFOTYPE, **options)


def char_device(name: str, major: int, minor: int, **options) -> Entry:
    return member(name, tarfile.CHRTYPE, major=major, minor=minor, **options)


def sparse_v1(name: str, segments: list[tuple[int, bytes]], size: int) -> Entry:
    """A sparse file in GNU's PAX format 1.0 (what `tar --sparse
    --format=posix` writes): a map block, then only the data."""
    text = f"{len(segments)}\n" + "".join(f"{offset}\n{len(data)}\n"
                                         for offset, data in segments)
    block = text.encode().ljust(-(-len(text) // 512) * 512, b"\0")
    body = block + b"".join(data for _, data in segments)
    info, _ = file(f"GNUSparseFile.0/{os.path.basename(name)}", body)
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                        "GNU.sparse.name": name, "GNU.sparse.realsize": str(size)}
    return info, body


def sparse_v01(name: str, segments: list[tuple[int, bytes]], size: int) -> Entry:
    """A sparse file in GNU's PAX format 0.1: the map in one record."""
    body = b"".join(data for _, data in segments)
    info, _ = file(name, body)
    numbers = [str(n) for offset, data in segments for n in (offset, len(data))]
    info.pax_headers = {"GNU.sparse.map": ",".join(numbers),
                        "GNU.sparse.size": str(size),
                        "GNU.sparse.numblocks": str(len(segments))}
    return info, body


def write_tar(path: Path, entries: list[Entry], form: int = tarfile.PAX_FORMAT) -> Path:
    with tarfile.open(path, "w", format=form, encoding="utf-8",
                      errors="surrogateescape") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.size else None)
    return path


def unpack_layer(tmp_path: Path, entries: list[Entry], name: str = "layer",
                 form: int = tarfile.PAX_FORMAT) -> tuple[Path, LayerInfo]:
    layer = tmp_path / name
    layer.mkdir()
    tar = write_tar(tmp_path / f"{name}.tar", entries, form)
    with open(tar, "rb") as stream:
        return layer, unpack(stream, layer)


def capability(permitted: int) -> bytes:
    """A security.capability value (VFS_CAP_REVISION_2, effective)."""
    return struct.pack("<IIIII", 0x02000001, permitted, 0, 0, 0)


def pax_xattr(name: str, value: bytes) -> dict[str, str]:
    return {f"SCHILY.xattr.{name}": value.decode("utf-8", "surrogateescape")}


@pytest.fixture(params=["openat2", "walk"])
def resolution(request, monkeypatch) -> str:
    """Each test twice: with openat2, and walking as a kernel without it makes
    dkr walk."""
    if request.param == "walk":
        def missing(*args, **kwargs):
            raise OSError(errno.ENOSYS, "openat2: Function not implemented")
        monkeypatch.setattr(at, "openat2", missing)
    return request.param


# --- a normal layer ---------------------------------------------------------------


LONG_PATH = "long/" + "/".join(c * 99 for c in "abc")  # 304 characters
LONG_TARGET = "../" + "t" * 147  # 150 characters
CAPABILITY = capability(0xFFFFFFFF)  # not UTF-8: a binary PAX record


def normal_layer() -> list[Entry]:
    return [
        directory("./", mode=0o750, mtime=MTIME + 1),
        directory("etc", mtime=MTIME + 2),
        file("etc/hostname", b"box\n", mtime=MTIME + 3),
        file("etc/shadow", b"root:*:\n", mode=0o640, gid=42),
        directory("usr/bin", mtime=MTIME + 4),
        file("usr/bin/su", b"\x7fELF su", mode=0o4755, uid=0, gid=0),
        file("usr/bin/wall", b"\x7fELF wall", mode=0o2755, uid=1000, gid=5),
        file("usr/bin/ping", b"\x7fELF ping", mode=0o755,
             pax=pax_xattr("security.capability", CAPABILITY)),
        file("usr/bin/tagged", b"x", pax=pax_xattr("user.note", b"kept")),
        hardlink("usr/bin/su-again", "usr/bin/su", uid=7, gid=7, mode=0o600),
        directory("tmp", mode=0o1777),
        directory("home/user", mode=0o700, uid=1000, gid=1000, mtime=MTIME + 5),
        file("home/user/notes", b"mine", mode=0o600, uid=1000, gid=1000,
             pax={"mtime": "1600000000.123456789"}),
        symlink("usr/bin/sh", "busybox", uid=1000, gid=1000, mtime=MTIME + 6),
        symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),  # absolute, dangling
        symlink("long-target", LONG_TARGET),
        file(LONG_PATH, b"deep"),
        sparse_v1("var/sparse-v1", [(0, b"head"), (1 << 20, b"middle")], 4 << 20),
        sparse_v01("var/sparse-v01", [(4096, b"data")], 1 << 20),
        file("implied/parents/file", b"no directory entries above me"),
        fifo("run/fifo", mode=0o620),
        char_device("dev/null", 1, 3, mode=0o666),
        member("dev/loop0", tarfile.BLKTYPE, major=7, minor=0, mode=0o660, gid=6),
        file("etc/hostname-last", b"z", mtime=MTIME + 7),  # after etc's own entry
    ]


def test_a_layer_comes_out_whole(root, tmp_path, resolution):
    entries = normal_layer()
    layer, info = unpack_layer(tmp_path, entries)
    plain = sum(len(data) for entry, data in entries
                if entry.isreg() and not entry.name.startswith(("GNUSparse", "var/")))
    assert info == LayerInfo(entries=len(entries), size=plain + (4 << 20) + (1 << 20))

    def mode(path: str) -> int:
        return stat.S_IMODE(os.lstat(layer / path).st_mode)

    assert (layer / "etc/hostname").read_bytes() == b"box\n"
    assert mode("etc/shadow") == 0o640 and os.stat(layer / "etc/shadow").st_gid == 42
    assert mode("usr/bin/su") == 0o4755
    assert mode("usr/bin/wall") == 0o2755  # set after the chown, which clears it
    wall = os.stat(layer / "usr/bin/wall")
    assert (wall.st_uid, wall.st_gid) == (1000, 5)
    assert os.getxattr(layer / "usr/bin/ping", "security.capability") == CAPABILITY
    assert os.getxattr(layer / "usr/bin/tagged", "user.note") == b"kept"
    assert mode("tmp") == 0o1777 and mode("home/user") == 0o700 and mode(".") == 0o750
    assert os.stat(layer / "home/user").st_uid == 1000


def test_a_layer_keeps_times_links_and_nodes(root, tmp_path, resolution):
    layer, _ = unpack_layer(tmp_path, normal_layer())
    seconds = 10**9
    assert os.stat(layer).st_mtime_ns == (MTIME + 1) * seconds
    assert os.stat(layer / "etc").st_mtime_ns == (MTIME + 2) * seconds  # set last
    assert os.stat(layer / "usr/bin").st_mtime_ns == (MTIME + 4) * seconds
    assert os.stat(layer / "home/user/notes").st_mtime_ns == 1_600_000_000_123_456_789
    sh = os.lstat(layer / "usr/bin/sh")
    assert stat.S_ISLNK(sh.st_mode) and os.readlink(layer / "usr/bin/sh") == "busybox"
    assert (sh.st_uid, sh.st_mtime_ns) == (1000, (MTIME + 6) * seconds)
    assert os.readlink(layer / "etc/localtime") == "/usr/share/zoneinfo/UTC"
    assert os.readlink(layer / "long-target") == LONG_TARGET
    assert (layer / LONG_PATH).read_bytes() == b"deep"
    su, again = os.stat(layer / "usr/bin/su"), os.stat(layer / "usr/bin/su-again")
    assert su.st_ino == again.st_ino and su.st_nlink == 2
    assert (su.st_uid, stat.S_IMODE(su.st_mode)) == (0, 0o4755)  # not the link's header
    for path in ("implied", "implied/parents"):
        assert stat.S_IMODE(os.stat(layer / path).st_mode) == 0o755
    pipe, null = os.lstat(layer / "run/fifo"), os.lstat(layer / "dev/null")
    assert stat.S_ISFIFO(pipe.st_mode) and stat.S_IMODE(pipe.st_mode) == 0o620
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    loop = os.lstat(layer / "dev/loop0")
    assert stat.S_ISBLK(loop.st_mode) and loop.st_rdev == os.makedev(7, 0)
    assert loop.st_gid == 6


def test_sparse_files_keep_their_holes(root, tmp_path, resolution):
    layer, _ = unpack_layer(tmp_path, normal_layer())
    v1 = (layer / "var/sparse-v1").read_bytes()
    assert len(v1) == 4 << 20
    assert v1[:4] == b"head" and v1[1 << 20:(1 << 20) + 6] == b"middle"
    assert v1.count(0) == len(v1) - 10
    v01 = (layer / "var/sparse-v01").read_bytes()
    assert len(v01) == 1 << 20 and v01[4096:4100] == b"data"
    assert v01.count(0) == len(v01) - 4
    for name in ("var/sparse-v1", "var/sparse-v01"):
        allocated = os.stat(layer / name).st_blocks * 512
        assert allocated < 256 << 10, f"{name}: {allocated} bytes allocated"


@pytest.mark.parametrize("form", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT],
                         ids=["pax", "gnu"])
def test_long_names_in_either_format(root, tmp_path, form):
    layer, _ = unpack_layer(tmp_path, [
        file(LONG_PATH, b"deep"), symlink("link", "/" + "x" * 149),
        hardlink("h" * 120, LONG_PATH)], form=form)
    assert (layer / LONG_PATH).read_bytes() == b"deep"
    assert os.readlink(layer / "link") == "/" + "x" * 149
    assert os.stat(layer / ("h" * 120)).st_ino == os.stat(layer / LONG_PATH).st_ino


def test_every_write_passes_through_the_gate(root, tmp_path):
    calls: list[str] = []

    def record(name, args, result, error):
        calls.append(name)

    syscall.add_tracer(record)
    try:
        unpack_layer(tmp_path, [file("a/b", b"x"), symlink("a/c", "b"), fifo("a/d")])
    finally:
        syscall.remove_tracer(record)
    assert {"openat2", "mkdirat", "openat", "pwrite", "fchown", "fchmod", "futimens",
            "symlinkat", "fchownat", "utimensat", "mknodat", "fchmodat"} <= set(calls)


def test_the_stream_is_read_to_its_end(root, tmp_path):
    """A caller that hashes the stream as it is read (a layer's diff_id)
    must see every byte, the end-of-archive blocks and padding too."""
    tar = write_tar(tmp_path / "layer.tar", [file("a", b"x" * 3000)])
    (tmp_path / "layer").mkdir()
    with open(tar, "rb") as stream:
        unpack(stream, tmp_path / "layer")
        assert stream.tell() == tar.stat().st_size


# --- whiteouts --------------------------------------------------------------------


def whiteout_layers() -> tuple[list[Entry], list[Entry]]:
    lower = [directory("keep"), file("keep/a", b"a"), file("keep/b", b"b"),
             file("gone", b"g"), directory("opaque"), file("opaque/old", b"o"),
             directory("tree"), file("tree/x", b"x")]
    upper = [file(".wh.gone"), directory("opaque"), file("opaque/new", b"n"),
             file("opaque/.wh..wh..opq"), file("opaque/later", b"l"),
             file(".wh.tree"), file("keep/.wh.a"),
             file("keep/b", b"B"), file("keep/.wh.b"),  # its own entry stays
             file("keep/.wh.c"), file("keep/c", b"C"),  # a later entry replaces one
             file(".wh..wh.plnk"), file("fresh/.wh..wh..opq")]
    return lower, upper


def test_whiteouts_become_overlayfs_ones(root, tmp_path, resolution):
    _, upper = whiteout_layers()
    layer, info = unpack_layer(tmp_path, upper)
    for path in ("gone", "tree", "keep/a"):
        node = os.lstat(layer / path)
        assert stat.S_ISCHR(node.st_mode) and node.st_rdev == 0
        assert stat.S_IMODE(node.st_mode) == 0 and (node.st_uid, node.st_gid) == (0, 0)
    assert os.getxattr(layer / "opaque", OPAQUE_XATTR) == b"y"
    assert os.getxattr(layer / "fresh", OPAQUE_XATTR) == b"y"
    assert sorted(os.listdir(layer / "opaque")) == ["later", "new"]
    assert (layer / "keep/b").read_bytes() == b"B"
    assert (layer / "keep/c").read_bytes() == b"C"
    assert not any(name.startswith(".wh.") for _, _, names in os.walk(layer)
                   for name in names)
    assert (info.whiteouts, info.opaque) == (4, 2)


def test_an_overlay_of_the_layers_shows_what_the_image_holds(root, tmp_path):
    lower_entries, upper_entries = whiteout_layers()
    lower, _ = unpack_layer(tmp_path, lower_entries, "lower")
    upper, _ = unpack_layer(tmp_path, upper_entries, "upper")
    merged = tmp_path / "merged"
    merged.mkdir()
    mount("overlay", str(merged), "overlay", 0, f"lowerdir={upper}:{lower}")
    try:
        seen = sorted(str(path.relative_to(merged)) for path in merged.rglob("*"))
        keep_b = (merged / "keep/b").read_bytes()
    finally:
        umount2(str(merged), UmountFlags.MNT_DETACH)
    assert seen == ["fresh", "keep", "keep/b", "keep/c", "opaque", "opaque/later",
                    "opaque/new"]
    assert keep_b == b"B"


# --- a later entry replaces an earlier one ----------------------------------------


def test_a_later_entry_replaces_an_earlier_one(root, tmp_path, resolution):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "file").write_bytes(b"victim")
    layer, _ = unpack_layer(tmp_path, [
        file("f", b"first"), hardlink("f-link", "f"), file("f", b"second"),
        symlink("s", str(victim / "file")), file("s", b"not through the link"),
        file("to-symlink", b"x"), symlink("to-symlink", "f"),
        directory("d"), file("d/inside", b"i"), file("d", b"a file now"),
        file("to-dir", b"x"), directory("to-dir"),
        directory("merged", mode=0o700), file("merged/kept", b"k"),
        directory("merged", mode=0o750, mtime=MTIME + 9),
        symlink("was-link", "f"), directory("was-link"),
    ])
    assert (layer / "f").read_bytes() == b"second"
    assert (layer / "f-link").read_bytes() == b"first"  # the old file's other name
    assert (layer / "s").read_bytes() == b"not through the link"
    assert (victim / "file").read_bytes() == b"victim"
    assert os.readlink(layer / "to-symlink") == "f"
    assert (layer / "d").read_bytes() == b"a file now"
    assert (layer / "to-dir").is_dir() and not (layer / "was-link").is_symlink()
    assert (layer / "merged/kept").read_bytes() == b"k"
    merged = os.stat(layer / "merged")
    assert stat.S_IMODE(merged.st_mode) == 0o750
    assert merged.st_mtime_ns == (MTIME + 9) * 10**9


def test_a_hardlink_to_a_symlink_links_the_symlink(root, tmp_path):
    """As OSTree-built images need; the file the symlink names is not
    touched, its mode above all (CVE-2021-32760)."""
    outside = tmp_path / "outside"
    outside.write_bytes(b"outside")
    outside.chmod(0o400)
    layer, _ = unpack_layer(tmp_path, [
        symlink(str(outside), str(outside)),  # a name inside, a target outside
        hardlink("sketchy", str(outside), mode=0o777)])
    inner = layer / str(outside).lstrip("/")
    assert os.lstat(layer / "sketchy").st_ino == os.lstat(inner).st_ino
    assert os.readlink(layer / "sketchy") == str(outside)
    assert os.stat(outside).st_nlink == 1
    assert stat.S_IMODE(os.stat(outside).st_mode) == 0o400


# --- malicious layers -------------------------------------------------------------


@dataclass
class Around:
    """What a malicious layer aims at, beside the layer directory."""

    top: Path
    victim: Path
    outside: Path


@dataclass
class Attack:
    entries: Callable[[Around], list[Entry]]
    culprit: Callable[[Around], str]  # the entry the error must name
    error: type = UnsafeLayer


def attack(entries, culprit, error=UnsafeLayer) -> Attack:
    return Attack(entries, culprit if callable(culprit) else lambda _: culprit, error)


def up_to_root(around: Around) -> str:
    """More ".." than it takes to climb from the layer to "/", then back down
    to the directory around it: where a kernel would land, had the path
    been followed."""
    return "../" * (len(around.top.parts) + 3) + str(around.top).lstrip("/") + "/"


PWN = b"pwned"
ATTACKS = {
    "dotdot-file": attack(lambda a: [file("../outside", PWN)], "../outside"),
    "dotdot-into-victim": attack(lambda a: [file("../victim/file", PWN)],
                                 "../victim/file"),
    "dotdot-after-a-dir": attack(
        lambda a: [directory("a"), file("a/../../outside", PWN)], "a/../../outside"),
    "dotdot-deep": attack(lambda a: [directory("a/b"),
                                     file("a/b/../../../victim/new", PWN)],
                          "a/b/../../../victim/new"),
    "dotdot-absolute": attack(lambda a: [file("/../victim/file", PWN)],
                              "/../victim/file"),
    "dotdot-many": attack(lambda a: [file(up_to_root(a) + "outside", PWN)],
                          lambda a: up_to_root(a) + "outside"),
    "dotdot-dot-mix": attack(lambda a: [file("./a/./../.././outside", PWN)],
                             "./a/./../.././outside"),
    "dotdot-directory": attack(lambda a: [directory("../victim/newdir")],
                               "../victim/newdir"),
    "dotdot-symlink-name": attack(lambda a: [symlink("..", str(a.victim))], ".."),
    "absolute-symlink-then-file": attack(
        lambda a: [symlink("link", str(a.victim)), file("link/file", PWN)],
        "link/file"),
    "absolute-symlink-then-dir": attack(
        lambda a: [symlink("link", str(a.victim)), directory("link/newdir")],
        "link/newdir"),
    "symlink-to-etc-then-passwd": attack(
        lambda a: [symlink("etc", str(a.victim / "etc")), file("etc/passwd", PWN)],
        "etc/passwd"),
    "symlink-to-dotdot-then-file": attack(
        lambda a: [symlink("up", ".."), file("up/outside", PWN)], "up/outside"),
    "symlink-chain": attack(
        lambda a: [symlink("a", "b"), symlink("b", "../.."),
                   file(f"a/{a.top.name}/outside", PWN)],
        lambda a: f"a/{a.top.name}/outside"),
    "symlink-garbage-prefix": attack(
        lambda a: [symlink("link", "/./.././.././../" + str(a.top).lstrip("/")),
                   file("link/outside", PWN)], "link/outside"),
    "symlink-deep-in-path": attack(
        lambda a: [directory("a/b"), symlink("a/b/c", "../../.."),
                   file("a/b/c/outside", PWN)], "a/b/c/outside"),
    "symlink-to-proc-cwd": attack(
        lambda a: [symlink("cwd", "/proc/self/cwd"), file("cwd/pwned", PWN)],
        "cwd/pwned"),
    "symlink-then-hardlink-in-it": attack(
        lambda a: [file("etc/passwd", b"own"), symlink("link", str(a.victim)),
                   hardlink("link/pw", "etc/passwd")], "link/pw"),
    "symlink-then-fifo-in-it": attack(
        lambda a: [symlink("link", str(a.victim)), fifo("link/fifo")], "link/fifo"),
    "symlink-named-by-dotdot": attack(
        lambda a: [symlink("localetc/sub/..", str(a.victim / "etc")),
                   file("localetc/passwd", PWN)], "localetc/passwd"),
    "dir-replaced-by-symlink-then-file": attack(
        lambda a: [directory("d"), file("d/x", b"x"), symlink("d", "../victim"),
                   file("d/file", PWN)], "d/file"),
    "symlink-named-like-an-existing-dir": attack(
        lambda a: [directory("etc"), file("etc/passwd", b"own"),
                   symlink("etc", str(a.victim / "etc")), file("etc/passwd", PWN)],
        "etc/passwd"),
    "hardlink-to-etc-passwd": attack(
        lambda a: [hardlink("passwd", "/etc/passwd")], "passwd", LayerError),
    "hardlink-to-victim-absolute": attack(
        lambda a: [hardlink("pw", str(a.victim / "etc/passwd"))], "pw", LayerError),
    "hardlink-dotdot-outside": attack(
        lambda a: [hardlink("out", "../outside")], "out"),
    "hardlink-dotdot-long": attack(
        lambda a: [hardlink("pw", "../" * 9 + "etc/passwd")], "pw"),
    "hardlink-through-symlinked-dir": attack(
        lambda a: [symlink("d", str(a.victim / "etc")), hardlink("pw", "d/passwd")],
        "pw"),
    "hardlink-through-relative-symlink": attack(
        lambda a: [directory("breakouts"), symlink("breakouts/d1", "../../victim/etc"),
                   hardlink("breakouts/pw", "breakouts/d1/passwd")], "breakouts/pw"),
    "hardlink-to-symlink-then-write": attack(
        lambda a: [symlink("s", str(a.victim)), hardlink("h", "s"),
                   file("h/file", PWN)], "h/file"),
    "hardlink-to-root": attack(lambda a: [hardlink("root", "./")], "root", LayerError),
    "whiteout-dotdot": attack(lambda a: [file(".wh...")], ".wh..."),
    "whiteout-dotdot-in-dir": attack(lambda a: [directory("etc"), file("etc/.wh...")],
                                     "etc/.wh..."),
    "whiteout-dot": attack(lambda a: [file(".wh..")], ".wh.."),
    "whiteout-empty": attack(lambda a: [directory("a"), file("a/.wh.")], "a/.wh."),
    "whiteout-climbing": attack(lambda a: [file("a/../../.wh.outside")],
                                "a/../../.wh.outside"),
    "whiteout-through-symlink": attack(
        lambda a: [symlink("link", str(a.victim)), file("link/.wh.file")],
        "link/.wh.file"),
    "opaque-through-symlink": attack(
        lambda a: [symlink("link", str(a.victim)), file("link/.wh..wh..opq")],
        "link/.wh..wh..opq"),
    "inside-a-whiteout": attack(lambda a: [file(".wh.etc/passwd", PWN)],
                                ".wh.etc/passwd", LayerError),
    "forged-opaque-xattr": attack(
        lambda a: [directory("d", pax=pax_xattr("trusted.overlay.opaque", b"y"))], "d"),
    "forged-redirect-xattr": attack(
        lambda a: [file("f", pax=pax_xattr("trusted.overlay.redirect", b"/x"))], "f"),
    "forged-user-overlay-xattr": attack(
        lambda a: [file("f", pax=pax_xattr("user.overlay.metacopy", b""))], "f"),
    "nul-in-name": attack(lambda a: [file("x", PWN, pax={"path": "a\0/../../outside"})],
                          "a\0/../../outside", LayerError),
    "nul-in-link": attack(
        lambda a: [symlink("s", "x", pax={"linkpath": str(a.victim) + "\0x"})], "s",
        LayerError),
    "owner-too-large": attack(lambda a: [file("f", PWN, uid=1 << 40)], "f", LayerError),
    "file-under-a-file": attack(lambda a: [file("f", b"x"), file("f/g", PWN)], "f/g",
                                LayerError),
    "file-as-the-root": attack(lambda a: [file("./", PWN)], "./", LayerError),
    "symlink-as-the-root": attack(lambda a: [symlink(".", str(a.victim))], ".",
                                  LayerError),
}


@pytest.fixture
def around(tmp_path: Path) -> Around:
    """A victim directory and an outside file next to the layer directory,
    as the attacks expect them."""
    victim = tmp_path / "victim"
    (victim / "etc").mkdir(parents=True)
    (victim / "etc/passwd").write_bytes(b"root:x:0:0\n")
    (victim / "etc/passwd").chmod(0o400)
    (victim / "file").write_bytes(b"victim")
    (victim / "dir").mkdir()
    os.symlink("file", victim / "link")
    outside = tmp_path / "outside"
    outside.write_bytes(b"outside")
    (tmp_path / "layer").mkdir()
    return Around(tmp_path, victim, outside)


def snapshot(top: Path) -> dict[str, tuple]:
    """Everything about the tree at `top`, but the times of the layer
    directory (which its unpacking changes, and its clearing cannot undo)."""
    found = {}
    for directory_path, directories, files in os.walk(top):
        for name in ["", *directories, *files]:
            path = os.path.join(directory_path, name) if name else directory_path
            if not name and directory_path != str(top):
                continue  # each directory once: as its parent's entry
            info = os.lstat(path)
            content = link = None
            if stat.S_ISREG(info.st_mode):
                content = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            if stat.S_ISLNK(info.st_mode):
                link = os.readlink(path)
            xattrs = sorted((key, os.getxattr(path, key, follow_symlinks=False))
                            for key in os.listxattr(path, follow_symlinks=False))
            mtime = None if path == str(top / "layer") else info.st_mtime_ns
            found[os.path.relpath(path, top)] = (
                stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid,
                info.st_gid, info.st_size, info.st_nlink, info.st_rdev, mtime, content,
                link, xattrs)
    return found


@pytest.mark.parametrize("name", list(ATTACKS))
def test_a_malicious_layer_is_refused_and_changes_nothing(root, around, resolution,
                                                          name, monkeypatch):
    monkeypatch.chdir(around.victim)  # a path misread as relative lands here too
    case = ATTACKS[name]
    tar = write_tar(around.top / "layer.tar", case.entries(around))
    etc_passwd = os.stat("/etc/passwd")
    before = snapshot(around.top)
    with open(tar, "rb") as stream, pytest.raises(LayerError) as caught:
        unpack(stream, around.top / "layer")
    message = str(caught.value)
    assert isinstance(caught.value, case.error), message
    assert f'"{case.culprit(around)}"' in message
    assert "\n" not in message and caught.value.exit_code == EXIT_DKR_FAILED
    assert snapshot(around.top) == before
    assert os.listdir(around.top / "layer") == []
    after = os.stat("/etc/passwd")
    assert (after.st_nlink, after.st_mode, after.st_mtime_ns) == (
        etc_passwd.st_nlink, etc_passwd.st_mode, etc_passwd.st_mtime_ns)


# --- what a layer or its unpacker cannot be ---------------------------------------


def as_nobody(tar: Path, layer: Path) -> str:
    """Unpack `tar` into `layer` in a child whose effective user is nobody:
    the error it met, or "" (the child starts as root to open them both)."""
    os.chown(layer, NOBODY, NOBODY)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and never return into pytest
        try:
            os.close(read)
            message = ""
            try:
                with open(tar, "rb") as stream:
                    os.chdir(layer)  # so that nobody needs no search right above
                    os.setegid(NOBODY)
                    os.seteuid(NOBODY)
                    unpack(stream, ".")
            except BaseException as error:
                message = f"{type(error).__name__}: {error}"
            os.write(write, message.encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def test_without_root_a_device_node_refuses_the_layer(root, tmp_path):
    tar = write_tar(tmp_path / "layer.tar", [file("a", b"x"),
                                             char_device("dev/null", 1, 3)])
    (tmp_path / "layer").mkdir()
    message = as_nobody(tar, tmp_path / "layer")
    assert message.startswith("LayerError: ") and '"dev/null"' in message
    assert "only root" in message
    assert os.listdir(tmp_path / "layer") == []


def test_without_root_files_and_fifos_are_the_user_s(root, tmp_path):
    tar = write_tar(tmp_path / "layer.tar", [
        file("a", b"x", uid=1000, gid=1000, mode=0o4755), fifo("pipe"),
        directory("ro", mode=0o555), file("ro/inside", b"y"),
        file("ping", pax=pax_xattr("security.capability", CAPABILITY))])
    layer = tmp_path / "layer"
    layer.mkdir()
    assert as_nobody(tar, layer) == ""
    assert os.stat(layer / "a").st_uid == NOBODY
    assert stat.S_IMODE(os.stat(layer / "a").st_mode) == 0o4755
    assert stat.S_ISFIFO(os.lstat(layer / "pipe").st_mode)
    assert stat.S_IMODE(os.stat(layer / "ro").st_mode) == 0o555
    assert (layer / "ro/inside").read_bytes() == b"y"
    assert "security.capability" not in os.listxattr(layer / "ping")


@pytest.mark.parametrize("content", [b"not a tar at all" * 64, b"",
                                     gzip.compress(b"\0" * 1024)],
                         ids=["garbage", "empty", "still-gzipped"])
def test_what_is_no_tar_is_one_error(root, tmp_path, content):
    (tmp_path / "layer").mkdir()
    with pytest.raises(LayerError) as caught:
        unpack(io.BytesIO(content), tmp_path / "layer")
    assert "not a whole tar stream" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_empty_tar_is_an_empty_layer(root, tmp_path):
    layer, info = unpack_layer(tmp_path, [])
    assert info == LayerInfo() and os.listdir(layer) == []


def test_a_cut_off_layer_names_its_last_entry_and_leaves_nothing(root, tmp_path):
    tar = write_tar(tmp_path / "layer.tar", [file("a/first", b"1"),
                                             file("a/big", b"b" * 100_000)])
    (tmp_path / "layer").mkdir()
    with pytest.raises(LayerError) as caught:
        unpack(io.BytesIO(tar.read_bytes()[:50_000]), tmp_path / "layer")
    assert '"a/big"' in str(caught.value)
    assert os.listdir(tmp_path / "layer") == []


def test_a_directory_that_is_not_empty_is_left_alone(root, tmp_path):
    tar = write_tar(tmp_path / "layer.tar", [file("a", b"x")])
    layer = tmp_path / "layer"
    layer.mkdir()
    (layer / "mine").write_bytes(b"the caller's")
    with open(tar, "rb") as stream, pytest.raises(LayerError, match="not empty"):
        unpack(stream, layer)
    assert os.listdir(layer) == ["mine"]
