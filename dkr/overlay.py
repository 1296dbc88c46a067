# chapter: 8
"""A root of its own for every container: overlayfs over read-only layers.

Until now a container wrote straight into its root file system: two
containers of one rootfs saw each other's files, and what one left stayed
for the next. overlayfs stacks directories instead. The rootfs (and, from
chapter 9, each layer of an image) is a *lower* directory that the kernel
only ever reads; on top lies an *upper* directory of the container's own,
where every write lands. A changed file is copied up first; a deleted one
leaves a *whiteout* in the upper (a character device 0:0) that hides the
lower's; a directory made where a deleted one stood is marked *opaque*,
so the lowers' entries under it stay hidden. The merged view of all of it
is the container's root.

dkr keeps each container's layer in `$DKR_DATA/overlay/<id>/`:

    owner      the dkr that made it ("PID STARTTIME"), as state directories name theirs
    l/0…       one short link to each lower directory, 0 the lowest
    upper/     the container's writes
    work/      overlayfs's scratch space: empty, on the upper's file system
    merged/    where the overlay is mounted, in the container's namespace only

The mount itself happens in the container's own mount namespace, so the
host never sees it and it goes when the container's last process ends.
What stays on the host is the directory, removed when the container ends
(`--rm` or not: until chapter 10 there is no command that could list or
remove a stopped container) or, after a dkr killed with SIGKILL, by the
next dkr, which finds the owner gone.

The kernel reads overlay's options from one page (4,096 bytes), and an
image's layers have long paths: 50 of them at 80 characters would not
fit. dkr chdirs into the layer directory and names each lower by its
link, `l/12`, a few bytes whatever the real path, so that even the
kernel's own limit of 500 lowers fits. (Docker's overlay2 does the same
with its `l/` links; the short names also need no escaping of `:` and `,`, and
the container's /proc/mounts shows no host path.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from dkr.config import Root
from dkr.defaults import DATA_DIR
from dkr.errors import DkrError, shorten
from dkr.linux import unistd
from dkr.linux.mount import MountFlags, mount
from dkr.linux.stat import chmod
from dkr.linux.syscall import call
from dkr.state import make_owned, reclaim_stale

LAYERS = DATA_DIR / "overlay"
OWNER = "owner"
PARTS = ("l", "upper", "work", "merged")
MOST_LOWERS = 500  # the kernel's OVL_MAX_STACK
OPTIONS_SIZE = 4096  # mount(2) copies one page of options


def writable_layer(root: Root, container_id: str) -> Path | None:
    """Give the container a layer of its own over `root.layers`, and point
    `root.path` at the place its overlay will be mounted; the layer's
    directory, for `remove` once the container has ended. A root without
    layers (a bundle's, chapter 10) is used as it is: None."""
    if not root.layers:
        return None
    check_layers(root.layers)
    directory = claim(container_id)
    try:
        make_parts(directory, root.layers)
    except BaseException:
        remove(directory)
        raise
    root.path = str(directory / "merged")
    return directory


def check_layers(layers: list[str]) -> None:
    """Refuse what overlayfs would refuse, with a reason a user can act on."""
    if len(layers) > MOST_LOWERS:
        raise DkrError(f"{len(layers)} layers are too many: overlayfs stacks at "
                       f"most {MOST_LOWERS}")
    ours = os.path.realpath(LAYERS)
    seen: dict[str, str] = {}
    for layer in layers:
        real = os.path.realpath(layer)
        if _overlap(real, ours):
            raise DkrError(f"the root file system {shorten(layer)} holds the "
                           f"containers' layers ({shorten(ours)}): give a root file "
                           f"system that does not (or set DKR_DATA)")
        for other_real, other in seen.items():
            if _overlap(real, other_real):
                raise DkrError(f"the root file systems {shorten(other)} and "
                               f"{shorten(layer)} overlap: overlayfs stacks "
                               f"directories that do not hold one another")
        seen[real] = layer


def _overlap(one: str, other: str) -> bool:
    """Whether one of two real paths is the other or holds it."""
    return os.path.commonpath([one, other]) in (one, other)


def claim(container_id: str) -> Path:
    """Make the container's layer directory, owned by this dkr, after taking
    back those whose dkr is gone (as state directories are made)."""
    return make_owned(LAYERS, container_id, lambda: reclaim_stale(LAYERS, remove),
                      f"a container layer with the id {container_id} exists already "
                      f"in {LAYERS}")


def make_parts(directory: Path, layers: list[str]) -> None:
    """The upper, work and mount point directories, and a short link to
    each lower. The upper's root takes the top layer's owner and mode: it
    is what the container's "/" shows."""
    for part in PARTS:
        unistd.mkdir(str(directory / part), 0o755)
    for position, layer in enumerate(layers):
        unistd.symlink(layer, str(directory / "l" / str(position)))
    top = os.stat(layers[-1])
    call("chown", os.chown, str(directory / "upper"), top.st_uid, top.st_gid)
    chmod(str(directory / "upper"), top.st_mode & 0o7777)


def options(lowers: int) -> str:
    """overlay's mount options, for the mount made from inside the layer
    directory: the lowers by their links, the topmost first."""
    lowerdir = ":".join(f"l/{position}" for position in reversed(range(lowers)))
    return f"lowerdir={lowerdir},upperdir=upper,workdir=work"


def mount_root(root: Root) -> None:
    """In the container's mount namespace: mount its overlay at `root.path`
    (or, for a root without layers, bind it there so that it is a mount
    point that pivot_root can take)."""
    if not root.layers:
        mount(root.path, root.path, None, MountFlags.MS_BIND | MountFlags.MS_REC)
        return
    unistd.chdir(os.path.dirname(root.path))
    try:
        mount("overlay", root.path, "overlay", MountFlags(0), options(len(root.layers)))
    except OSError as error:
        raise DkrError(f"overlayfs cannot keep the container's layer in "
                       f"{shorten(os.path.dirname(root.path))} ({error.strerror}): set "
                       f"DKR_DATA to a directory on ext4, xfs, btrfs or tmpfs (the "
                       f"kernel's reason is in dmesg)") from None


def remove(directory: Path) -> None:
    """Remove a container's layer, its owner last: a dkr killed while
    removing it leaves a directory that the next dkr removes again."""
    for entry in directory.iterdir():
        if entry.name != OWNER:
            remove_tree(str(entry))
    with contextlib.suppress(FileNotFoundError):
        unistd.unlink(str(directory / OWNER))
    unistd.rmdir(str(directory))


def remove_tree(path: str) -> None:
    """rm -rf: a directory with all in it, or a link (one traced call).
    overlayfs leaves its work directory without permissions, which root
    needs none for."""

    def invoke(path: str) -> None:
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
        else:
            shutil.rmtree(path)

    call("remove_tree", invoke, path)
