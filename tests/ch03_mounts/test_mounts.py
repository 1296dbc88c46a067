# chapter: 3
"""Chapter 3: a private mount tree, pivot_root, and Docker's /proc, /sys and /dev."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import SYS_ADMIN, mount_points
from dkr.mounts import parse_options, path_in_root
from dkr.linux.mount import MountFlags as MS


def test_host_mount_table_is_unchanged(dkr):
    before = Path("/proc/self/mountinfo").read_text()
    result = dkr("run", *SYS_ADMIN, "sh", "-c",
                 "mkdir -p /mnt && mount -t tmpfs scratch /mnt && touch /mnt/x && ls /mnt")
    assert result.stdout == "x\n", result.stderr
    assert Path("/proc/self/mountinfo").read_text() == before


def test_old_root_is_gone(dkr):
    mounts = dkr("run", "cat", "/proc/self/mountinfo").stdout.splitlines()
    points = [line.split()[4] for line in mounts]
    assert points[0] == "/"
    assert not any(point.startswith(("/work", "/old", "/var/lib")) for point in points)
    assert "/" in mount_points()  # the host still has its own


def test_root_is_the_rootfs(dkr, rootfs: Path):
    (rootfs / "etc" / "from-the-rootfs").write_text("yes\n")
    assert dkr("run", "cat", "/etc/from-the-rootfs").stdout == "yes\n"


def test_standard_mounts(dkr):
    result = dkr("run", "cat", "/proc/mounts")
    kinds = {line.split()[1]: (line.split()[2], line.split()[3]) for line in result.stdout.splitlines()}
    assert kinds["/proc"][0] == "proc"
    assert kinds["/dev"][0] == "tmpfs"
    assert kinds["/dev/pts"][0] == "devpts"
    assert kinds["/dev/shm"][0] == "tmpfs"
    assert kinds["/sys"] == ("sysfs", kinds["/sys"][1]) and kinds["/sys"][1].startswith("ro,")


def test_sys_is_read_only(dkr):
    result = dkr("run", "sh", "-c", "echo x > /sys/kernel/uevent_helper")
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr


def test_dev_has_the_standard_nodes(dkr):
    script = ("for d in null zero full random urandom tty; do [ -c /dev/$d ] || echo missing $d; done;"
              " echo hi > /dev/null; head -c 4 /dev/zero | wc -c; ls -l /dev/ptmx /dev/fd")
    result = dkr("run", "sh", "-c", script)
    assert "missing" not in result.stdout
    assert "4" in result.stdout.split()
    assert "pts/ptmx" in result.stdout and "/proc/self/fd" in result.stdout


def test_masked_paths_hide_host_information(dkr):
    result = dkr("run", "sh", "-c", "wc -c < /proc/keys; ls -A /sys/firmware | wc -l")
    assert result.stdout.split() == ["0", "0"], result.stderr


def test_readonly_paths_cannot_be_written(dkr):
    result = dkr("run", "sh", "-c", "echo other > /proc/sys/kernel/domainname")
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr


def test_bind_mount_read_write(dkr, tmp_path: Path):
    (tmp_path / "in").write_text("from the host\n")
    result = dkr("run", "-v", f"{tmp_path}:/data", "sh", "-c", "cat /data/in; echo back > /data/out")
    assert result.stdout == "from the host\n", result.stderr
    assert (tmp_path / "out").read_text() == "back\n"


def test_bind_mount_read_only(dkr, tmp_path: Path):
    result = dkr("run", "-v", f"{tmp_path}:/data:ro", "sh", "-c", "touch /data/x")
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr
    assert not (tmp_path / "x").exists()


def test_bind_mount_of_a_file(dkr, tmp_path: Path):
    (tmp_path / "config").write_text("setting=1\n")
    result = dkr("run", "-v", f"{tmp_path / 'config'}:/etc/app.conf:ro", "cat", "/etc/app.conf")
    assert result.stdout == "setting=1\n", result.stderr


def test_read_only_root(dkr):
    result = dkr("run", "--read-only", "sh", "-c", "touch /newfile")
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr
    writable = dkr("run", "--read-only", "sh", "-c", "echo ok > /dev/shm/x && cat /dev/shm/x")
    assert writable.stdout == "ok\n"


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        ("nocolon", "dkr: bad volume 'nocolon': use -v HOST:CTR[:ro]\n"),
        ("/tmp:/x:rx", "dkr: bad volume '/tmp:/x:rx': use -v HOST:CTR[:ro]\n"),
        ("/tmp:relative", "dkr: bad volume '/tmp:relative': the container path must be absolute\n"),
        ("/no/such/path:/x", "dkr: no such host path for -v: /no/such/path\n"),
    ],
)
def test_bad_volumes_are_one_clear_line(dkr, volume: str, message: str):
    result = dkr("run", "-v", volume, "true")
    assert (result.returncode, result.stderr) == (125, message)


def test_trace_shows_pivot_root(dkr):
    lines = dkr("--trace", "run", "true").stderr.splitlines()
    calls = [line.split("] ", 1)[1] for line in lines if line.startswith("container[")]
    pivot = calls.index('pivot_root(".", ".") = 0')
    assert calls[pivot + 1] == 'umount2(".", MNT_DETACH) = 0'
    # chapter: 3-4 {
    # assert calls[0].startswith("prctl(")
    # }
    assert calls[0].endswith('/cgroup.procs", "0") = 0')  # chapter: 5
    assert next(call for call in calls if "cgroup.procs" not in call).startswith("prctl(")  # chapter: 5


# The building blocks, without root -------------------------------------------

def test_parse_options():
    options = parse_options(["nosuid", "noexec", "rbind", "ro", "rprivate", "mode=755", "size=1k"])
    assert options.flags == MS.MS_NOSUID | MS.MS_NOEXEC | MS.MS_BIND | MS.MS_REC | MS.MS_RDONLY
    assert options.propagation == MS.MS_PRIVATE | MS.MS_REC
    assert options.data == "mode=755,size=1k"
    assert parse_options(["ro", "rw"]).flags == MS(0)


def test_path_in_root_keeps_symlinks_inside(tmp_path: Path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "proc").symlink_to("/etc")
    (tmp_path / "up").symlink_to("../../..")
    root = str(tmp_path)
    assert path_in_root(root, "/proc") == f"{root}/etc"
    assert path_in_root(root, "/up/etc/x") == f"{root}/etc/x"
    assert path_in_root(root, "/../../x") == f"{root}/x"
    assert path_in_root(root, "/") == f"{root}/"


def test_mount_defaults_are_dockers():
    from dkr import defaults

    mounts = [(mount.destination, mount.type) for mount in defaults.MOUNTS]
    expected = [("/proc", "proc"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"),
                ("/sys", "sysfs"), ("/dev/shm", "tmpfs")]
    expected.append(("/sys/fs/cgroup", "cgroup"))  # chapter: 6
    assert mounts == expected
    assert "ro" in defaults.MOUNTS[3].options
    assert {"/proc/kcore", "/proc/keys", "/sys/firmware"} <= set(defaults.MASKED_PATHS)
    assert "/proc/sys" in defaults.READONLY_PATHS


def test_a_volume_at_dev_gets_no_devices_made_in_it(dkr, tmp_path: Path):
    """A directory of the host's is the user's: dkr makes no device node, link or
    mount point in it (its own /dev and the mounts inside it give way)."""
    (tmp_path / "mine").write_text("")
    result = dkr("run", "-v", f"{tmp_path}:/dev", "ls", "/dev")
    assert (result.returncode, result.stdout, result.stderr) == (0, "mine\n", "")
    assert [path.name for path in tmp_path.iterdir()] == ["mine"]


# chapter: 3-7 {
# def test_an_empty_rootfs_is_told_of_the_mount_points_made_in_it(dkr, tmp_path: Path):
#     result = dkr("run", "--rootfs", str(tmp_path), "sh")
#     note, error = result.stderr.splitlines()
#     assert note.startswith(f"dkr: note: made mount points in the root file system {tmp_path}: proc, dev")
#     assert {"proc", "dev", "sys"} <= {path.name for path in tmp_path.iterdir()}
#     assert (result.returncode, error) == (127, "dkr: exec sh: executable file not found in $PATH "
#                                                "(dkr runs a command of its root file system, not an "
#                                                "image: images arrive in chapter 9)")
# }


def test_a_symlink_in_the_rootfs_does_not_lead_a_volume_into_proc(dkr, rootfs: Path, tmp_path: Path):
    link = rootfs / "dkr-test-into-proc"
    link.symlink_to("/proc/sys/kernel")
    try:
        result = dkr("run", "-v", f"{tmp_path}:/dkr-test-into-proc/x", "true")
    finally:
        link.unlink()
    assert (result.returncode, result.stderr) == (
        125, "dkr: container set-up: refused to mount /dkr-test-into-proc/x: it leads into /proc\n")


def test_read_only_paths_keep_their_other_flags(dkr):
    """The remount that makes /proc/sys read-only keeps nosuid, nodev and
    noexec: leaving them out would clear them."""
    result = dkr("run", "cat", "/proc/mounts")
    options = [line.split()[3].split(",") for line in result.stdout.splitlines()
               if line.split()[1] == "/proc/sys"]
    assert options, result.stdout
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(options[-1]), options[-1]


def test_a_masked_directory_is_an_empty_read_only_tmpfs(dkr):
    from dkr.defaults import MASKED_PATHS

    # A masked file is the container's /dev/null bound over it, and /dev is a
    # tmpfs too: only the masks of paths that are directories here are asked about.
    directories = [path for path in MASKED_PATHS if os.path.isdir(path)]
    result = dkr("run", "cat", "/proc/mounts")
    masks = {line.split()[1]: line.split() for line in result.stdout.splitlines()
             if line.split()[1] in directories and line.split()[2] == "tmpfs"}
    assert "/sys/firmware" in masks, result.stdout  # a directory on every host
    assert all("ro" in fields[3].split(",") for fields in masks.values()), masks
