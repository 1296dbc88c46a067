# chapter: 9
"""Unpacking a layer: a tar stream made into a directory overlayfs can stack.

A layer is a tar file anyone may have written, and dkr unpacks it as root.
So one rule comes before all others: nothing is ever written outside the
layer's own directory, whatever the tar says. `tarfile` only parses the
headers and hands over each file's data; every write is dkr's own, made
with the *at calls of `dkr.linux.at`, relative to a directory fd opened on
the layer. (`tarfile`'s own extraction is no help here: its filters refuse
device nodes and strip setuid bits, which layers legitimately carry, and
they have been bypassed more than once: CVE-2025-4517.)

- A name is read as a path inside the layer before it is used. A leading
  "/" means the layer's root, as Docker and containerd read it; "." and
  empty components go; ".." takes one component back. A ".." that would
  climb above the root refuses the layer: containerd clamps such a path to
  the root, but a tar that says this is broken or hostile, and saying so
  is better than guessing what it meant.
- An entry's parent directory is opened with openat2(2) and RESOLVE_BENEATH
  | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: the kernel checks every
  component, in one call, and refuses a symlink anywhere on the way. So a
  symlink an earlier entry made is never followed, at any depth. (containerd
  follows such symlinks, bounded to the root; a layer made by diffing a
  file system names each file by its real path and never needs that.)
  Where openat2 is missing (before Linux 5.6, or hidden by a seccomp
  filter) the same walk is made one component at a time, each opened
  O_DIRECTORY | O_NOFOLLOW; that walk also makes the parents a layer does
  not list.
- The last component is never followed either: a file is created O_EXCL |
  O_NOFOLLOW, a link or a node by the *at call that makes the new name, and
  metadata is set through the new file's fd or with AT_SYMLINK_NOFOLLOW.
  Whatever is in the way is removed first (a later entry replaces an
  earlier one), unless both are directories: then only the metadata changes.
- A hardlink's target is read and opened the same way and linked without
  AT_SYMLINK_FOLLOW: a hardlink to a symlink is a second name for the
  symlink, never for the file it names. (Such hardlinks are legitimate:
  OSTree-built images, Fedora's bootc ones among them, carry them.)

Whiteouts become overlayfs's own, so that the directory can be a lowerdir
as it is: `.wh.NAME` is a character device 0:0 named NAME, and
`.wh..wh..opq` the xattr trusted.overlay.opaque=y on its directory. Both
speak of the layers below only: an entry this layer made before stays (OCI
image spec, "Whiteouts"). A layer's own trusted.overlay.* (or
user.overlay.*) xattrs would forge that metadata, so they refuse the layer.

What a layer legitimately carries is kept: owners (set before the mode,
since chown clears the setuid bits), modes with setuid, setgid and sticky
bits, mtimes (a directory's last of all, since each entry made in it
changes it), xattrs from PAX `SCHILY.xattr.*` records (security.capability),
sparse files with their holes, long names, device nodes, and symlink
targets as written: they are only ever resolved inside the container.
Without root, dkr cannot make what only root may: a device node refuses
the layer (a rootless store never holds one; a FIFO needs no privilege),
while owners and the xattrs only root may set are left out, as GNU tar
leaves them out.

A layer that fails leaves nothing behind: the directory is emptied again,
and the error names the entry, in one line. The directory itself is the
caller's, given new and empty, and it stays.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import stat
import tarfile
from typing import BinaryIO, Callable, TypeVar

from dkr.errors import DkrError, describe, shorten, warn
from dkr.linux import at, unistd
from dkr.linux.at import AtFlag, ResolveFlag
from dkr.linux.unistd import OFlag

CHUNK = 1 << 20  # bytes copied per read: few calls, little memory
WHITEOUT = b".wh."
AUFS_META = b".wh..wh."  # aufs's own names, of which overlayfs needs one:
OPAQUE = b".wh..wh..opq"  # "hide what the layers below have in this directory"
OPAQUE_XATTR = "trusted.overlay.opaque"
FORGED_XATTRS = ("trusted.overlay.", "user.overlay.")
XATTR_RECORD = "SCHILY.xattr."  # a PAX record carrying one xattr
WHITEOUT_DEVICE = os.makedev(0, 0)

DIRECTORY = OFlag.O_DIRECTORY | OFlag.O_NOFOLLOW | OFlag.O_CLOEXEC
NEW_FILE = (OFlag.O_WRONLY | OFlag.O_CREAT | OFlag.O_EXCL | OFlag.O_NOFOLLOW
            | OFlag.O_CLOEXEC)
BENEATH = (ResolveFlag.RESOLVE_BENEATH | ResolveFlag.RESOLVE_NO_SYMLINKS
           | ResolveFlag.RESOLVE_NO_MAGICLINKS)
NOFOLLOW = AtFlag.AT_SYMLINK_NOFOLLOW
NODES = {tarfile.CHRTYPE: stat.S_IFCHR, tarfile.BLKTYPE: stat.S_IFBLK,
         tarfile.FIFOTYPE: stat.S_IFIFO}
DEVICES = (tarfile.CHRTYPE, tarfile.BLKTYPE)
# The errors of an openat2 walk that the component-by-component one explains
# (or, for a missing parent, mends; EAGAIN: a rename raced the walk).
WALK_AGAIN = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EXDEV, errno.EAGAIN)
# What a hostile header can make Python's os calls raise besides OSError: a
# NUL in a name, an owner or a time too large for the kernel's types.
BAD_VALUES = (ValueError, OverflowError)

Parts = tuple[bytes, ...]  # a path inside the layer, one name per component
Xattrs = list[tuple[str, bytes]]  # (name, value) pairs
T = TypeVar("T")


class LayerError(DkrError):
    """A layer dkr cannot unpack: a broken tar, or an entry it cannot make."""


class UnsafeLayer(LayerError):
    """An entry that would write outside the layer, or forge overlayfs's own
    metadata: the whole layer is refused."""


@dataclasses.dataclass
class LayerInfo:
    """What one layer held."""

    entries: int = 0  # tar entries read
    size: int = 0  # bytes of regular files (a sparse file's holes included)
    whiteouts: int = 0  # whiteout devices made
    opaque: int = 0  # directories made opaque


@dataclasses.dataclass
class _Later:
    """A directory's metadata, set when every entry has been made."""

    member: tarfile.TarInfo
    xattrs: Xattrs


def unpack(stream: BinaryIO, directory: str | os.PathLike[str]) -> LayerInfo:
    """Unpack the uncompressed layer tar `stream` into `directory`, which
    must be new and empty. `stream` is read to its end, so that a caller who
    hashes it as it is read sees every byte. If any entry fails, the
    directory is emptied again and the error raised."""
    path = os.fspath(directory)
    root = unistd.open_fd(path, OFlag.O_DIRECTORY | OFlag.O_CLOEXEC)
    try:
        if at.getdents(root):
            raise LayerError(f"cannot unpack a layer into {shorten(path)}: "
                             f"it is not empty")
        unpacker = _Unpacker(root)
        try:
            unpacker.run(stream)
        except BaseException:
            unpacker.clear(path)
            raise
        return unpacker.info
    finally:
        unistd.close(root)


class _Unpacker:
    """One layer being unpacked into the directory open at `root`."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.privileged = os.geteuid() == 0
        self.info = LayerInfo()
        self.directories: dict[Parts, _Later] = {}  # in the order last listed
        self.openat2 = True  # until the kernel says it has none
        # The last parent directory opened, kept: most entries share their
        # predecessor's. It stays valid, since whatever an entry removes is
        # in that entry's own parent, which is this one.
        self.parent_parts: Parts | None = None
        self.parent_fd = root

    def run(self, stream: BinaryIO) -> None:
        """Every entry, then the directories' metadata."""
        try:
            with tarfile.open(fileobj=stream, mode="r|", encoding="utf-8",
                              errors="surrogateescape") as tar:
                for member in tar:
                    self.info.entries += 1
                    self.guarded(member, lambda: self.entry(tar, member))
        except (tarfile.TarError, EOFError, OSError) as error:
            raise LayerError(f"the layer is not a whole tar stream: "
                             f"{describe(error)}") from None
        finally:
            self.forget_parent()
        for parts, later in reversed(self.directories.items()):
            self.guarded(later.member, lambda: self.finish_directory(parts, later))
        try:
            while stream.read(CHUNK):  # the end-of-archive blocks and padding
                pass
        except (EOFError, OSError) as error:  # a gzip stream checks its CRC here
            raise LayerError(f"the layer stream failed at its end: "
                             f"{describe(error)}") from None

    def guarded(self, member: tarfile.TarInfo, step: Callable[[], None]) -> None:
        """Run one entry's `step`; a failure becomes a one-line LayerError
        that names the entry."""
        try:
            step()
        except (OSError, tarfile.TarError, EOFError, *BAD_VALUES) as error:
            raise LayerError(f"cannot unpack layer entry {_shown(member.name)}: "
                             f"{describe(error)}") from None

    def entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        """Make one entry, in its parent directory inside the layer."""
        if "\0" in member.name or "\0" in member.linkname:
            raise LayerError(f"layer entry {_shown(member.name)} has a NUL byte "
                             f"in its name or its link's")
        parts = _inside(member.name)
        if parts is None:
            raise UnsafeLayer(f"layer entry {_shown(member.name)} is unsafe: "
                              f"its path climbs out of the layer")
        if not parts:
            return self.root_entry(member)
        parents, name = parts[:-1], parts[-1]
        if any(part.startswith(WHITEOUT) for part in parents):
            raise LayerError(f"layer entry {_shown(member.name)} is inside a "
                             f"whiteout")
        if name.startswith(WHITEOUT):
            return self.whiteout(member, parents, name)
        xattrs = _xattrs(member)
        self.check_kind(member)
        parent = self.parent(member.name, parents)
        self.make(tar, member, parent, name, parts, xattrs)

    def check_kind(self, member: tarfile.TarInfo) -> None:
        """Refuse what this unpacker cannot, or may not, make."""
        if member.type in DEVICES and not self.privileged:
            raise LayerError(f"layer entry {_shown(member.name)} is a device "
                             f"node: only root can unpack one")
        known = member.isdir() or member.isreg() or member.issym() or member.islnk()
        if not known and member.type not in NODES:
            raise LayerError(f"layer entry {_shown(member.name)} has the tar type "
                             f"{member.type!r}, which a layer does not use")

    def make(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int,
             name: bytes, parts: Parts, xattrs: Xattrs) -> None:
        """Make the entry `name` in `parent`, as its type says."""
        if member.isdir():
            self.directory(member, parent, name, parts, xattrs)
        elif member.isreg():
            self.file(tar, member, parent, name, parts, xattrs)
        elif member.issym():
            target = _raw(member.linkname)
            self.replacing(parent, name, parts,
                           lambda: at.symlinkat(target, parent, name))
            self.metadata_at(parent, name, member, xattrs, mode=False)
        elif member.islnk():
            self.hardlink(member, parent, name, parts)
        else:
            self.node(member, parent, name, parts, xattrs)

    def root_entry(self, member: tarfile.TarInfo) -> None:
        """An entry naming the layer's root ("./"): its metadata is the
        directory's."""
        if not member.isdir():
            raise LayerError(f"layer entry {_shown(member.name)} names the "
                             f"layer's root but is not a directory")
        self.later((), member, _xattrs(member))

    def directory(self, member: tarfile.TarInfo, parent: int, name: bytes,
                  parts: Parts, xattrs: Xattrs) -> None:
        """A directory, merged into one already there. It is made private
        (0700) until the end, when its own mode is set: a read-only
        directory could not take its entries otherwise, without root."""
        try:
            at.mkdirat(parent, name, 0o700)
        except FileExistsError:
            if not stat.S_ISDIR(at.fstatat(parent, name, NOFOLLOW).st_mode):
                self.make_room(parent, name, parts)
                at.mkdirat(parent, name, 0o700)
        self.later(parts, member, xattrs)

    def file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int,
             name: bytes, parts: Parts, xattrs: Xattrs) -> None:
        """A regular file: its data, then its metadata, through its own fd."""
        fd = self.replacing(parent, name, parts,
                            lambda: at.openat(parent, name, NEW_FILE, 0o600))
        try:
            if member.size:
                _write_data(tar, member, fd)
                self.info.size += member.size
            self.metadata(fd, member, xattrs)
        finally:
            unistd.close(fd)

    def hardlink(self, member: tarfile.TarInfo, parent: int, name: bytes,
                 parts: Parts) -> None:
        """A second name for a file this layer made. The header's metadata
        is the target's own, so none is set: setting it would change the
        target too."""
        target = _inside(member.linkname)
        if target is None:
            raise UnsafeLayer(f"layer entry {_shown(member.name)} is unsafe: it "
                              f"is a hardlink to {_shown(member.linkname)}, "
                              f"outside the layer")
        if not target:
            raise LayerError(f"layer entry {_shown(member.name)} is a hardlink "
                             f"to the layer's root")
        if target == parts:
            return
        try:
            source = self.open(member.name, target[:-1], create=False)
        except FileNotFoundError:
            source = None
        if source is None or not _exists(source, target[-1]):
            if source is not None:
                self.close(source)
            raise LayerError(f"layer entry {_shown(member.name)} is a hardlink to "
                             f"{_shown(member.linkname)}, which the layer does "
                             f"not hold (before it)")
        try:
            self.replacing(parent, name, parts,
                           lambda: at.linkat(source, target[-1], parent, name))
        finally:
            self.close(source)

    def node(self, member: tarfile.TarInfo, parent: int, name: bytes,
             parts: Parts, xattrs: Xattrs) -> None:
        """A character or block device, or a FIFO."""
        device = 0
        if member.type in DEVICES:
            device = os.makedev(member.devmajor, member.devminor)
        kind = NODES[member.type]
        self.replacing(parent, name, parts,
                       lambda: at.mknodat(parent, name, kind | 0o600, device))
        self.metadata_at(parent, name, member, xattrs, mode=True)

    def whiteout(self, member: tarfile.TarInfo, parents: Parts, name: bytes) -> None:
        """A whiteout, made into overlayfs's: an opaque directory, or a
        character device 0:0 in the place of the entry it hides."""
        if name.startswith(AUFS_META) and name != OPAQUE:
            return  # aufs's own bookkeeping (.wh..wh.plnk): nothing for overlayfs
        hidden = name[len(WHITEOUT):]
        if name != OPAQUE and hidden in (b"", b".", b".."):
            raise UnsafeLayer(f"layer entry {_shown(member.name)} is unsafe: a "
                              f"whiteout names one entry of its own directory")
        parent = self.parent(member.name, parents)
        if name == OPAQUE:
            at.fsetxattr(parent, OPAQUE_XATTR, b"y")
            self.info.opaque += 1
        else:
            self.whiteout_device(parent, hidden)

    def whiteout_device(self, parent: int, hidden: bytes) -> None:
        """The device 0:0, mode 0, owner 0:0 that hides `hidden` in the
        layers below. An entry this layer made there already stays."""
        try:
            at.mknodat(parent, hidden, stat.S_IFCHR, WHITEOUT_DEVICE)
        except FileExistsError:
            return
        if self.privileged:
            at.fchownat(parent, hidden, 0, 0, NOFOLLOW)
        self.info.whiteouts += 1

    def replacing(self, parent: int, name: bytes, parts: Parts,
                  create: Callable[[], T]) -> T:
        """Run `create`, which makes `name` in `parent`; if something has
        the name already, remove it first."""
        try:
            return create()
        except FileExistsError:
            self.make_room(parent, name, parts)
            return create()

    def make_room(self, parent: int, name: bytes, parts: Parts) -> None:
        """Remove `name` (a whole directory tree, if it is one) for the entry
        that replaces it."""
        if stat.S_ISDIR(at.fstatat(parent, name, NOFOLLOW).st_mode):
            self.remove_tree(parts)
        else:
            at.unlinkat(parent, name)

    def metadata(self, fd: int, member: tarfile.TarInfo, xattrs: Xattrs) -> None:
        """Owner, xattrs, mode, times of an open file, in that order: chown
        clears setuid bits and security.capability, so it comes first."""
        if self.privileged:
            at.fchown(fd, member.uid, member.gid)
        for key, value in xattrs:
            self.set_xattr(lambda: at.fsetxattr(fd, key, value))
        at.fchmod(fd, member.mode & 0o7777)
        at.futimens(fd, _times(member))

    def metadata_at(self, parent: int, name: bytes, member: tarfile.TarInfo,
                    xattrs: Xattrs, mode: bool) -> None:
        """The same for an entry that is not opened (a symlink, a node:
        opening a FIFO blocks, a device may act), by name, never followed.
        A symlink has no mode of its own (`mode` False)."""
        if self.privileged:
            at.fchownat(parent, name, member.uid, member.gid, NOFOLLOW)
        if xattrs:  # no xattr call takes a directory fd: go through the
            # parent's own fd, which /proc shows as a link to the directory
            path = os.fsencode(f"/proc/self/fd/{parent}/") + name
            for key, value in xattrs:
                self.set_xattr(lambda: at.lsetxattr(path, key, value))
        if mode:  # followed (glibc before 2.32 has no fchmodat NOFOLLOW), but
            # the name is the node mknodat made just now, in a directory only
            # this unpacker writes in
            at.fchmodat(parent, name, member.mode & 0o7777)
        at.utimensat(parent, name, _times(member), NOFOLLOW)

    def set_xattr(self, setter: Callable[[], None]) -> None:
        """Set one xattr, unless the file cannot have it: the file system
        keeps none of its kind, the kernel keeps user.* ones only on files
        and directories, and without root only root's are refused."""
        try:
            setter()
        except OSError as error:
            if error.errno == errno.EOPNOTSUPP:
                return
            if error.errno == errno.EPERM and not self.privileged:
                return
            raise

    def later(self, parts: Parts, member: tarfile.TarInfo, xattrs: Xattrs) -> None:
        """Keep a directory's metadata for the end (its last listing wins)."""
        self.directories.pop(parts, None)
        self.directories[parts] = _Later(member, xattrs)

    def finish_directory(self, parts: Parts, later: _Later) -> None:
        """Set a directory's metadata, once nothing more is made in it."""
        fd = self.open(later.member.name, parts, create=False)
        try:
            self.metadata(fd, later.member, later.xattrs)
        finally:
            self.close(fd)

    def parent(self, entry: str, parts: Parts) -> int:
        """The directory at `parts`, made if missing, for an entry to be made
        in: kept open for the next entry (do not close it)."""
        if parts != self.parent_parts:
            self.forget_parent()
            self.parent_fd = self.open(entry, parts, create=True)
            self.parent_parts = parts
        return self.parent_fd

    def forget_parent(self) -> None:
        """Close the kept parent directory (for another, or at the end)."""
        fd, self.parent_fd, self.parent_parts = self.parent_fd, self.root, None
        self.close(fd)

    def open(self, entry: str, parts: Parts, create: bool) -> int:
        """The directory at `parts` inside the layer, never through a symlink:
        an fd to close with `close`. `create` makes the missing ones."""
        if not parts:
            return self.root
        if self.openat2:
            try:
                return at.openat2(self.root, b"/".join(parts), DIRECTORY, 0, BENEATH)
            except OSError as error:
                if error.errno in (errno.ENOSYS, errno.EPERM):
                    self.openat2 = False
                elif error.errno not in WALK_AGAIN:
                    raise
        return self.walk(entry, parts, create)

    def walk(self, entry: str, parts: Parts, create: bool) -> int:
        """`open` one component at a time, each opened O_NOFOLLOW: where
        openat2 is missing, or to say why it failed, or to make parents."""
        fd = self.root
        try:
            for depth, part in enumerate(parts):
                child = self.step(entry, fd, part, parts[:depth + 1], create)
                self.close(fd)
                fd = child
            return fd
        except BaseException:
            self.close(fd)
            raise

    def step(self, entry: str, fd: int, part: bytes, path: Parts, create: bool) -> int:
        """Open (or make) the directory `part` in `fd`."""
        try:
            return at.openat(fd, part, DIRECTORY)
        except FileNotFoundError:
            if not create:
                raise
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR):
                _refuse_path(entry, fd, part, path)
            raise
        at.mkdirat(fd, part, 0o755)  # a parent the layer does not list: as tar makes it
        child = at.openat(fd, part, DIRECTORY)
        at.fchmod(child, 0o755)  # whatever the umask
        return child

    def close(self, fd: int) -> None:
        """Close a directory fd from `open` (the root stays open)."""
        if fd != self.root:
            unistd.close(fd)

    def remove_tree(self, parts: Parts) -> None:
        """Remove the directory at `parts` and all it holds (for the root,
        only what it holds), never following a symlink. Iterative, holding
        one fd at a time: a layer's tree may be deeper than Python's stack."""
        self.forget(parts)
        directories: list[Parts] = []
        pending = [parts]
        while pending:
            path = pending.pop()
            directories.append(path)
            fd = self.open("", path, create=False)
            try:
                for found in at.getdents(fd):
                    name = os.fsencode(found.name)
                    if found.is_dir(follow_symlinks=False):
                        pending.append(path + (name,))
                    else:
                        at.unlinkat(fd, name)
            finally:
                self.close(fd)
        for path in reversed(directories):  # each after all it held
            if path:
                parent = self.open("", path[:-1], create=False)
                try:
                    at.unlinkat(parent, path[-1], AtFlag.AT_REMOVEDIR)
                finally:
                    self.close(parent)

    def forget(self, parts: Parts) -> None:
        """Drop the kept metadata of `parts` and of every directory in it."""
        depth = len(parts)
        for kept in [kept for kept in self.directories if kept[:depth] == parts]:
            del self.directories[kept]

    def clear(self, path: str) -> None:
        """Empty the layer directory again, after a failure: a warning, not
        a second error, if that fails too."""
        try:
            self.remove_tree(())
        except (OSError, LayerError) as error:
            warn(f"could not empty {shorten(path)} after the failed unpack: "
                 f"{describe(error)}")


def _inside(name: str) -> Parts | None:
    """`name` as a path inside the layer: () for its root, None for a path
    that climbs out of it."""
    parts: list[bytes] = []
    for part in _raw(name).split(b"/"):
        if part == b"..":
            if not parts:
                return None
            parts.pop()
        elif part not in (b"", b"."):
            parts.append(part)
    return tuple(parts)


def _raw(text: str) -> bytes:
    """A name from the tar as the bytes it had there (`tarfile` decodes
    names as UTF-8, keeping any other byte as a surrogate escape)."""
    return text.encode("utf-8", "surrogateescape")


def _xattrs(member: tarfile.TarInfo) -> Xattrs:
    """The xattrs the entry's PAX records carry, as (name, bytes) pairs."""
    found = []
    for key, value in member.pax_headers.items():
        if not key.startswith(XATTR_RECORD):
            continue
        name = key[len(XATTR_RECORD):]
        if name.startswith(FORGED_XATTRS):
            raise UnsafeLayer(f"layer entry {_shown(member.name)} is unsafe: it "
                              f"carries the overlayfs xattr {shorten(name)}")
        found.append((name, _raw(value)))
    return found


def _times(member: tarfile.TarInfo) -> tuple[int, int]:
    """Access and modification times in nanoseconds, exact where a PAX
    record gives them with a fraction (a float would round them)."""
    mtime = _nanoseconds(member.pax_headers.get("mtime"))
    if mtime is None:
        mtime = round(member.mtime * 10**9)
    atime = _nanoseconds(member.pax_headers.get("atime"))
    return (mtime if atime is None else atime), mtime


def _nanoseconds(text: str | None) -> int | None:
    """A PAX time ("1700000000.123456789") in nanoseconds (None: no time)."""
    whole, _, fraction = (text or "").partition(".")
    if not whole.lstrip("-").isdigit() or fraction and not fraction.isdigit():
        return None
    sign = -1 if whole.startswith("-") else 1
    return int(whole) * 10**9 + sign * int((fraction + "0" * 9)[:9])


def _write_data(tar: tarfile.TarFile, member: tarfile.TarInfo, fd: int) -> None:
    """A regular file's data. Of a sparse file only the data is written, at
    its offsets, and the holes stay holes.

    The data is read from `tarfile`'s raw view of the member (the buffered
    file object around it cannot seek in a stream, and would copy once
    more). In a stream it can only move forward, as a sparse map does."""
    source = tar.extractfile(member)
    assert source is not None  # a regular file has data
    raw = source.raw
    if member.sparse is None:
        _copy(raw, fd, 0, member.size)
        return
    for offset, length in member.sparse:
        raw.seek(offset)
        _copy(raw, fd, offset, length)
    at.ftruncate(fd, member.size)


def _copy(source: BinaryIO, fd: int, offset: int, length: int) -> None:
    """Copy `length` bytes from `source` to `fd` at `offset`, CHUNK at a time."""
    while length > 0:
        data = source.read(min(length, CHUNK))
        if not data:
            raise EOFError("the tar stream ends inside a file")
        written = at.pwrite(fd, data, offset)
        while written < len(data):  # a short write: rare, but allowed
            written += at.pwrite(fd, memoryview(data)[written:], offset + written)
        offset += len(data)
        length -= len(data)


def _exists(directory: int, name: bytes) -> bool:
    """Whether `directory` holds `name` (a symlink counts: it is not followed)."""
    try:
        at.fstatat(directory, name, NOFOLLOW)
    except FileNotFoundError:
        return False
    return True


def _refuse_path(entry: str, fd: int, part: bytes, path: Parts) -> None:
    """Say why the component `part` of an entry's path is no directory."""
    shown = _shown(b"/".join(path).decode("utf-8", "surrogateescape"))
    if stat.S_ISLNK(at.fstatat(fd, part, NOFOLLOW).st_mode):
        raise UnsafeLayer(f"layer entry {_shown(entry)} is unsafe: {shown} is a "
                          f"symlink, and nothing is written through one")
    raise LayerError(f"layer entry {_shown(entry)}: {shown} is not a directory")


def _shown(name: str) -> str:
    """A name from the tar, as an error message quotes it."""
    return f'"{shorten(name)}"'
