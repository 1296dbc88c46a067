# chapter: 1
"""The default root file system, assembled on first use from the host.

A reader's first `dkr run /bin/sh` must work with no download and no set-up,
so dkr builds a small root file system out of what the host already has: a
busybox (Debian's busybox-static) when one is installed, else a handful of
host programs with the shared libraries they load. It is built once into a
temporary directory and renamed into place, so two first runs at the same
time never see half a tree. The temporary directory's name says which dkr
builds it, so that one left by a dkr that was killed is removed by the next.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from dkr.defaults import DATA_DIR, DEVICES
from dkr.owners import make_staging, remove_stale_staging

LAYOUT_VERSION = 4  # bump when the layout changes, so caches are rebuilt

# Enough for the book's examples when there is no busybox.
HOST_PROGRAMS = (
    "sh cat echo ls ps hostname id sleep env mkdir rm touch grep sed stty tty"
    " uname true false test head tail wc kill readlink cut tr dd date chmod ln"
    " cp mv mount umount nproc seq stat df"
).split()

# A merged-/usr layout, as current distributions have.
MERGED_USR_LINKS = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib",
                    "lib64": "usr/lib64"}
EMPTY_DIRS = ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "proc", "sys",
              "mnt", "dev", "root", "home", "var/tmp", "run")

ETC_FILES = {
    "passwd": ("root:x:0:0:root:/root:/bin/sh\n"
               "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
    "group": "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
    # Empty: the points where each container's own files are mounted (chapter 4).
    "hosts": "", "hostname": "", "resolv.conf": "",
}


def default_rootfs() -> str:
    """The path of the default root file system, built if not cached yet."""
    target = DATA_DIR / "rootfs" / f"default-{LAYOUT_VERSION}"
    if not target.is_dir():
        build_rootfs(target, find_busybox())
    return str(target)


def find_busybox() -> str | None:
    """A busybox binary on the host, if there is one."""
    return shutil.which("busybox")


def build_rootfs(target: Path, busybox: str | None) -> None:
    """Build a root file system at `target` from `busybox`, or host programs."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target.parent)
    staging = make_staging(target.parent)
    try:
        _make_skeleton(staging)
        if busybox:
            _install_busybox(staging, busybox)
        else:
            _install_host_programs(staging)
        staging.chmod(0o755)
        os.rename(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():  # another dkr may have won the race
            raise


def _make_skeleton(root: Path) -> None:
    for directory in EMPTY_DIRS:
        (root / directory).mkdir(parents=True, exist_ok=True)
    for link, points_to in MERGED_USR_LINKS.items():
        (root / link).symlink_to(points_to)
    (root / "tmp").mkdir(mode=0o1777)
    (root / "tmp").chmod(0o1777)
    for name, text in ETC_FILES.items():
        (root / "etc" / name).write_text(text)
    if os.geteuid() == 0:  # device nodes, for a container that mounts no /dev
        for name, major, minor in DEVICES:
            os.mknod(root / "dev" / name, stat.S_IFCHR | 0o666,
                     os.makedev(major, minor))
            (root / "dev" / name).chmod(0o666)


def _install_busybox(root: Path, busybox: str) -> None:
    """Copy busybox in and link each of its applets to it."""
    _copy_with_libraries(root, busybox, "/usr/bin/busybox")
    applets = subprocess.run([busybox, "--list-full"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        link = root / applet
        if not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/usr/bin/busybox")


def _install_host_programs(root: Path) -> None:
    """Copy host programs (and the libraries they load) into usr/bin."""
    found = {name: shutil.which(name) for name in HOST_PROGRAMS}
    if not found["sh"]:
        raise OSError("no /bin/sh on the host to build a root file system from")
    for name, path in found.items():
        if path:
            _copy_with_libraries(root, path, f"/usr/bin/{name}")


def _copy_with_libraries(root: Path, program: str, destination: str) -> None:
    _copy_file(program, root / destination.lstrip("/"))
    for library in shared_libraries(program):
        copy = root / library.lstrip("/")
        if not copy.exists():
            _copy_file(library, copy)


def shared_libraries(program: str) -> list[str]:
    """The shared libraries (and the loader) `program` needs, as ldd finds them."""
    result = subprocess.run(["ldd", program], capture_output=True, text=True)
    if result.returncode != 0:  # a static binary, or no ldd
        return []
    libraries = []
    for line in result.stdout.splitlines():
        words = line.split()
        if "=>" in words and len(words) > 2 and words[2].startswith("/"):
            libraries.append(words[2])
        elif words and words[0].startswith("/"):
            libraries.append(words[0])
    return libraries


def _copy_file(source: str, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(source), destination)
