# chapter: 8
"""Chapter 8: every container's root is an overlay, its writes in a layer of its own."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import time
from pathlib import Path

import pytest

from conftest import NOT_IN_PATH, alive, container_pid, take_back_after_killed_dkr, wait_for_line
from dkr.overlay import MOST_LOWERS, OPTIONS_SIZE, options
from dkr.rootfs import LAYOUT_VERSION

NET = ("--net", "none")


def tree(top: Path) -> dict[str, tuple]:
    """Everything about a directory tree that a write could change: each
    entry's type, mode, owner, size, mtime, device number, xattrs, and its
    content's or link target's hash."""
    found = {}
    for directory, names, files in os.walk(top):
        for name in [*names, *files, "."] if directory == str(top) else [*names, *files]:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                content = os.readlink(path).encode()
            elif stat.S_ISREG(info.st_mode):
                content = Path(path).read_bytes()
            else:
                content = b""
            xattrs = tuple(sorted((key, os.getxattr(path, key, follow_symlinks=False))
                                  for key in os.listxattr(path, follow_symlinks=False)))
            found[os.path.relpath(path, top)] = (
                info.st_mode, info.st_uid, info.st_gid, info.st_size, info.st_mtime_ns,
                info.st_rdev, xattrs, hashlib.sha256(content).hexdigest())
    return found


def layers(data_dir: Path) -> list[str]:
    """The container layers dkr keeps in its data directory."""
    top = data_dir / "overlay"
    return sorted(entry.name for entry in top.iterdir()) if top.is_dir() else []


def whiteout(path: Path) -> None:
    """overlayfs's mark of a deleted file: a character device 0:0."""
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def make_opaque(path: Path) -> None:
    """overlayfs's mark of a directory that hides the lowers' entries in it."""
    os.setxattr(path, "trusted.overlay.opaque", b"y")


# What stays below ------------------------------------------------------------


WRITES = ("echo new > /etc/new; echo more >> /etc/passwd; rm /etc/group; "
          "mkdir -p /root/a/b; chmod 700 /home; ln -s x /root/link; rm -r /usr/sbin; "
          "touch -d 2001-01-01 /etc/hostname; cat /etc/new")


def test_writes_land_in_the_layer_and_the_rootfs_stays_byte_identical(dkr, rootfs: Path):
    before = tree(rootfs)
    result = dkr("run", *NET, "sh", "-c", WRITES)
    assert (result.returncode, result.stdout, result.stderr) == (0, "new\n", "")
    assert tree(rootfs) == before


def test_the_default_rootfs_stays_byte_identical(dkr, data_dir: Path):
    assert dkr("run", *NET, "true", default_rootfs=True).returncode == 0  # built once
    default = data_dir / "rootfs" / f"default-{LAYOUT_VERSION}"
    before = tree(default)
    result = dkr("run", *NET, "sh", "-c", WRITES, default_rootfs=True)
    assert (result.returncode, result.stderr) == (0, "")
    assert tree(default) == before


def test_an_empty_rootfs_stays_empty(dkr, tmp_path: Path):
    """The mount points dkr needs (/proc, /dev, …) are made in the layer, not
    in the user's directory (chapter 3 had to make them there, and said so)."""
    result = dkr("run", *NET, "--rootfs", str(tmp_path), "sh")
    assert (result.returncode, result.stderr) == (
        127, f"dkr: exec sh: {NOT_IN_PATH}\n")
    assert list(tmp_path.iterdir()) == []


def test_a_container_does_not_see_what_an_earlier_one_wrote(dkr):
    assert dkr("run", *NET, "sh", "-c", "echo mine > /root/note").returncode == 0
    result = dkr("run", *NET, "cat", "/root/note")
    assert (result.returncode, result.stderr) == (
        1, "cat: can't open '/root/note': No such file or directory\n")


def test_two_live_containers_never_see_each_others_writes(dkr, start_dkr, tmp_path: Path):
    """The first writes, waits while the second makes the same directory
    and file, and then each sees its own and nothing of the other's."""
    first = start_dkr("run", *NET, "-v", f"{tmp_path}:/sync", "sh", "-c",
                      "mkdir /ours; echo first > /ours/mine; touch /ours/first; echo ready; "
                      "for i in $(seq 600); do [ -e /sync/go ] && break; sleep 0.05; done; "
                      "cat /ours/mine; ls /ours")
    wait_for_line(first, "ready")
    second = dkr("run", *NET, "sh", "-c",
                 "mkdir /ours && echo second > /ours/mine && cat /ours/mine && ls /ours")
    (tmp_path / "go").touch()
    out, err = first.communicate(timeout=30)
    assert (second.returncode, second.stdout, second.stderr) == (0, "second\nmine\n", "")
    assert (first.returncode, out, err) == (0, "first\nfirst\nmine\n", "")


def test_a_deletion_is_a_whiteout_in_the_layer_and_the_lower_keeps_its_file(
        start_dkr, rootfs: Path, data_dir: Path, tmp_path: Path):
    container = start_dkr("run", *NET, "-v", f"{tmp_path}:/sync", "sh", "-c",
                          "rm /etc/group; mkdir /etc/new; echo changed > /etc/motd; "
                          "hostname; for i in $(seq 600); do [ -e /sync/go ] && break; "
                          "sleep 0.05; done")
    container_id = container.stdout.readline().strip()
    upper = data_dir / "overlay" / container_id / "upper"
    mark = os.lstat(upper / "etc" / "group")
    assert stat.S_ISCHR(mark.st_mode) and mark.st_rdev == os.makedev(0, 0)
    assert (upper / "etc" / "motd").read_text() == "changed\n"
    assert (rootfs / "etc" / "group").is_file() and (upper / "etc" / "new").is_dir()
    (tmp_path / "go").touch()
    assert container.wait(timeout=30) == 0
    assert layers(data_dir) == []


# Lowers stacked ----------------------------------------------------------------


def test_whiteouts_and_opaque_directories_of_a_lower_hide_what_is_below(
        dkr, rootfs: Path, tmp_path: Path):
    middle, top = tmp_path / "middle", tmp_path / "top"
    (middle / "home" / "old").mkdir(parents=True)
    (middle / "home" / "file").write_text("from the middle\n")
    (middle / "etc").mkdir()
    (middle / "etc" / "motd").write_text("middle\n")
    (top / "etc").mkdir(parents=True)
    whiteout(top / "etc" / "group")
    (top / "etc" / "motd").write_text("top\n")
    (top / "home").mkdir()
    make_opaque(top / "home")
    (top / "home" / "only-this").write_text("")
    script = "ls /home; cat /etc/motd; ls /etc/group"
    both = dkr("run", *NET, "--rootfs", str(rootfs), "--rootfs", str(middle), "--rootfs",
               str(top), "sh", "-c", script)
    assert (both.returncode, both.stdout, both.stderr) == (
        1, "only-this\ntop\n", "ls: /etc/group: No such file or directory\n")
    lower = dkr("run", *NET, "--rootfs", str(rootfs), "--rootfs", str(middle), "sh", "-c", script)
    assert (lower.returncode, lower.stdout) == (0, "file\nold\nmiddle\n/etc/group\n")


def test_two_hundred_layers_stack_though_their_paths_would_not_fit_in_a_page(
        dkr, rootfs: Path, tmp_path: Path):
    """Each layer adds a file and says which is on top; their paths, as
    lowerdir would list them, are longer than the one page mount(2) takes."""
    base = tmp_path / ("a-directory-with-a-name-as-long-as-an-image-store-has-" * 2)
    paths = []
    for number in range(200):
        layer = base / f"layer-{number:03}"
        (layer / "layers").mkdir(parents=True)
        (layer / "layers" / f"{number:03}").write_text("")
        (layer / "layers" / "top").write_text(f"{number}\n")
        paths += ["--rootfs", str(layer)]
    assert len(":".join(paths[1::2])) > OPTIONS_SIZE
    result = dkr("run", *NET, "--rootfs", str(rootfs), *paths, "sh", "-c",
                 "ls /layers | wc -l; cat /layers/top")
    assert (result.returncode, result.stdout.split(), result.stderr) == (0, ["201", "199"], "")


def test_the_options_for_the_most_lowers_fit_in_a_page():
    assert options(2) == "lowerdir=l/1:l/0,upperdir=upper,workdir=work"
    assert len(options(MOST_LOWERS)) < OPTIONS_SIZE


def test_more_layers_than_overlayfs_stacks_are_refused(dkr, rootfs: Path):
    result = dkr("run", *NET, *["--rootfs", str(rootfs)] * (MOST_LOWERS + 1), "true")
    assert (result.returncode, result.stderr) == (
        125, "dkr: 501 layers are too many: overlayfs stacks at most 500\n")


def test_a_read_only_root_takes_volumes_and_keeps_the_rootfs_as_it_was(
        dkr, rootfs: Path, tmp_path: Path):
    before = tree(rootfs)
    result = dkr("run", *NET, "--read-only", "-v", f"{tmp_path}:/data", "sh", "-c",
                 "echo hi > /data/file; touch /new")
    assert (result.returncode, result.stderr) == (
        1, "touch: /new: Read-only file system\n")
    assert (tmp_path / "file").read_text() == "hi\n"
    assert tree(rootfs) == before


# What is left, and what the host sees --------------------------------------------


def test_the_layer_goes_when_the_container_ends_with_or_without_rm(dkr, data_dir: Path):
    for options_given in (("--rm",), ()):
        result = dkr("run", *NET, *options_given, "sh", "-c", "echo x > /root/x")
        assert result.returncode == 0
        assert layers(data_dir) == []
    assert dkr("run", *NET, "sh", "-c", "exit 3").returncode == 3  # a failing command too
    assert layers(data_dir) == []


def test_a_killed_dkrs_layer_is_removed_by_the_next_dkr(start_dkr, dkr, data_dir: Path):
    container = start_dkr("run", *NET, "sh", "-c", "echo x > /root/x; hostname; sleep 60")
    container_id = container.stdout.readline().strip()
    pid = container_pid(container)
    os.kill(container.pid, signal.SIGKILL)
    container.wait(timeout=10)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:  # the kernel ends it (pdeathsig)
        time.sleep(0.05)
    assert layers(data_dir) == [container_id]
    take_back_after_killed_dkr(dkr)
    assert layers(data_dir) == []


def test_a_layer_without_an_owner_is_removed_and_a_live_owners_is_kept(dkr, data_dir: Path):
    """A dkr killed between making its layer's directory and naming itself
    in it leaves no owner: nobody is running that container."""
    orphan = data_dir / "overlay" / "000000000001"
    (orphan / "upper" / "etc").mkdir(parents=True)
    (orphan / "work" / "work").mkdir(parents=True)
    (orphan / "work" / "work").chmod(0)  # as overlayfs leaves it
    live = data_dir / "overlay" / "000000000002"
    live.mkdir()
    from dkr.owners import me
    (live / "owner").write_text(f"{me()}\n")  # this test's own process: alive
    try:
        assert dkr("run", *NET, "true").returncode == 0
        assert layers(data_dir) == ["000000000002"]
    finally:
        (live / "owner").unlink()
        live.rmdir()


def test_the_overlay_is_mounted_in_the_container_only_and_shows_no_host_path(
        start_dkr, rootfs: Path, data_dir: Path, tmp_path: Path):
    container = start_dkr("run", *NET, "-v", f"{tmp_path}:/sync", "sh", "-c",
                          "grep ' / / ' /proc/self/mountinfo; for i in $(seq 600); do "
                          "[ -e /sync/go ] && break; sleep 0.05; done")
    line = container.stdout.readline()
    host = Path("/proc/self/mountinfo").read_text()
    (tmp_path / "go").touch()
    assert container.wait(timeout=30) == 0
    assert " - overlay overlay " in line and "lowerdir=l/0,upperdir=upper,workdir=work" in line
    assert str(rootfs) not in line and str(data_dir) not in line
    assert str(data_dir / "overlay") not in host


# Refused ---------------------------------------------------------------------


def test_a_rootfs_that_holds_the_layers_is_refused(dkr, data_dir: Path):
    """overlayfs refuses a lower that holds its upper; dkr says so first."""
    result = dkr("run", *NET, "--rootfs", str(data_dir), "true")
    assert (result.returncode, result.stderr) == (
        125, f"dkr: the root file system {data_dir} holds the containers' layers "
             f"({data_dir}/overlay): give a root file system that does not (or set DKR_DATA)\n")


@pytest.fixture
def overlay_mount(root, tmp_path: Path):
    """A directory on an overlayfs of the test's own, unmounted after."""
    import subprocess

    for part in ("lower", "upper", "work", "merged"):
        (tmp_path / part).mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={tmp_path}/lower,upperdir={tmp_path}/upper,"
                    f"workdir={tmp_path}/work", str(tmp_path / "merged")], check=True)
    yield tmp_path / "merged"
    subprocess.run(["umount", str(tmp_path / "merged")], check=True)


def test_a_data_directory_on_overlayfs_is_one_clear_line(dkr, overlay_mount: Path):
    """overlayfs cannot keep an upper on overlayfs (dkr inside a container's
    root, say): dkr names the place and what to do, and leaves nothing there."""
    data = overlay_mount / "data"
    result = dkr("run", *NET, "true", env={"DKR_DATA": str(data)})
    assert result.returncode == 125
    assert result.stderr.startswith(f"dkr: container set-up: overlayfs cannot keep the "
                                    f"container's layer in {data}/overlay/")
    assert result.stderr.endswith("(mount: Invalid argument): set DKR_DATA to a directory on ext4, "
                                  "xfs, btrfs or tmpfs (the kernel's reason is in dmesg)\n")
    assert list((data / "overlay").iterdir()) == []


# From inside a default container -------------------------------------------------


def test_a_default_container_cannot_mount_an_overlay_of_its_own(dkr):
    """Overlays mounted by a user who is not the host's root were the door of
    CVE-2021-3493 and CVE-2023-0386: a container's root has no CAP_SYS_ADMIN,
    and seccomp closes user namespaces (chapter 7), so it cannot mount one."""
    result = dkr("run", *NET, "sh", "-c",
                 "mkdir -p /tmp/l /tmp/u /tmp/w /tmp/m; mount -t overlay overlay -o "
                 "lowerdir=/tmp/l,upperdir=/tmp/u,workdir=/tmp/w /tmp/m")
    assert (result.returncode, result.stderr) == (1, "mount: permission denied (are you root?)\n")
