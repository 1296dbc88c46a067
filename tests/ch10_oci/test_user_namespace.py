# chapter: 10
"""Chapter 10: a container in a user namespace of its own, whose root is
root over the container alone and an unprivileged user to the host."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from bundles import caller, write_bundle  # noqa: F401  (caller: a fixture)

HOST_ID = 100000  # the host's ids of the container's 0 to 65535
SIZE = 65536


@pytest.fixture(scope="module")
def reachable():
    """A directory that the host's user 100000 may search, for what the
    container must reach: the mapped root is that user when it mounts its
    root file system, and pytest's own directories are root's alone (0700)."""
    path = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="dkr-userns-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def rootfs(reachable):
    """The test root file system, where the container's root can reach it,
    its files the container's own: each owner shifted by HOST_ID, as
    Podman shifts an image's for a container with --uidmap."""
    from dkr.rootfs import build_rootfs, find_busybox

    root = reachable / "root"
    build_rootfs(root, find_busybox())
    for path in [root, *root.rglob("*")]:
        owner = path.lstat()
        os.lchown(path, owner.st_uid + HOST_ID, owner.st_gid + HOST_ID)
    return root


def in_user_namespace(config: dict) -> None:
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": HOST_ID,
                                       "size": SIZE}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": HOST_ID,
                                       "size": SIZE}]


def run_in_user_namespace(caller, rootfs, tmp_path, script: str,
                          change=None) -> tuple[int, str, str]:
    def both(config: dict) -> None:
        in_user_namespace(config)
        if change:
            change(config)

    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", script], both)
    done = caller("run", "--bundle", str(bundle), "userns", check=False)
    return done.returncode, done.stdout, done.stderr


def test_the_containers_root_is_the_hosts_mapped_user(caller, rootfs, tmp_path):
    script = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; hostname"
    code, out, err = run_in_user_namespace(caller, rootfs, tmp_path, script)
    assert code == 0, err
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert lines[:4] == ["0", "0", f"0 {HOST_ID} {SIZE}", f"0 {HOST_ID} {SIZE}"]
    assert lines[4] == "dkr"  # its UTS namespace is its user namespace's


def test_on_the_host_the_container_runs_as_the_mapped_user(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["sleep", "60"], in_user_namespace)
    pid = caller.create(bundle, "userns")
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uids.split()[1:] == [str(HOST_ID)] * 4
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")


def test_root_in_it_cannot_read_the_hosts_files(caller, rootfs, tmp_path):
    """The attack: root in the container reads a host file that only the
    host's root may read, bound into the container (as a volume would be).
    Without a user namespace it can: it is the host's root, with
    CAP_DAC_OVERRIDE. In one, it is user 100000 to the host."""
    secret = rootfs.parent / "secret"
    secret.mkdir(mode=0o700)
    (secret / "key").write_text("the host's\n")
    os.chmod(secret / "key", 0o600)

    def bind_secret(config: dict) -> None:
        config["mounts"].append({"destination": "/secret", "type": "bind",
                                 "source": str(secret), "options": ["rbind"]})

    code, out, err = run_in_user_namespace(caller, rootfs, tmp_path,
                                           "cat /secret/key", bind_secret)
    assert code != 0 and "the host's" not in out
    assert "cat: can't open '/secret/key': Permission denied" in err


def test_root_in_it_cannot_make_a_device(caller, rootfs, tmp_path):
    """The attack: with CAP_MKNOD in its sets, make the host's first disk
    (8, 0) and read it. The kernel refuses mknod in a user namespace of
    its own, whatever capabilities it holds there."""
    def with_mknod(config: dict) -> None:
        for kind in ("bounding", "effective", "permitted"):
            config["process"]["capabilities"][kind].append("CAP_MKNOD")

    code, _, err = run_in_user_namespace(caller, rootfs, tmp_path,
                                         "mknod /tmp/disk b 8 0", with_mknod)
    assert code != 0 and "Operation not permitted" in err


def test_the_standard_devices_are_the_hosts_bound(caller, rootfs, tmp_path):
    script = "echo hi > /dev/null; head -c 4 /dev/zero | wc -c; ls /dev"
    code, out, err = run_in_user_namespace(caller, rootfs, tmp_path, script)
    assert code == 0, err
    assert out.split()[0] == "4"
    assert {"null", "zero", "full", "random", "urandom", "tty"} <= set(out.split())


def test_dkr_sets_its_limits_from_outside(caller, rootfs, tmp_path):
    """In its own user namespace the child has no capability the host
    honours; dkr sets its rlimits and OOM score (both need CAP_SYS_RESOURCE)."""
    def limits(config: dict) -> None:
        config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100,
                                         "hard": 200}]
        config["process"]["oomScoreAdj"] = 500

    script = "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj"
    code, out, err = run_in_user_namespace(caller, rootfs, tmp_path, script, limits)
    assert code == 0, err
    assert out.split() == ["100", "200", "500"]


def test_exec_joins_its_user_namespace(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["sleep", "60"], in_user_namespace)
    pid = caller.create(bundle, "userns")
    caller("start", "userns")
    done = caller("exec", "userns", "sh", "-c", "id -u; readlink /proc/self/ns/user")
    assert done.stdout.split() == ["0", os.readlink(f"/proc/{pid}/ns/user")]


def test_a_read_only_bind_keeps_the_hosts_locked_flags(caller, rootfs, tmp_path):
    """/run is nosuid and nodev on the host, and in a user namespace's copy
    of the host's mounts the kernel locks those flags: the remount that
    makes the bind read-only must repeat them, or it is refused."""
    with tempfile.TemporaryDirectory(dir="/run") as shared:
        os.chmod(shared, 0o755)
        Path(shared, "file").write_text("read\n")

        def bind_read_only(config: dict) -> None:
            config["mounts"].append({"destination": "/shared", "type": "bind",
                                     "source": shared, "options": ["rbind", "ro"]})

        code, out, err = run_in_user_namespace(
            caller, rootfs, tmp_path, "cat /shared/file; touch /shared/new",
            bind_read_only)
    assert out == "read\n", err
    assert code != 0 and "Read-only file system" in err


def test_a_root_file_system_out_of_its_reach_is_one_line(caller, tmp_path):
    """pytest's directories are root's alone (0700): from a rootfs in one,
    the container's root, the host's user 100000, cannot mount it."""
    from dkr.rootfs import build_rootfs, find_busybox

    unreachable = tmp_path / "root"
    build_rootfs(unreachable, find_busybox())
    code, _, err = run_in_user_namespace(caller, unreachable, tmp_path, "true")
    assert code == 125
    assert err == (f"dkr: container set-up: the container's root, the host's user "
                   f"{HOST_ID}, cannot reach the root file system {unreachable}: give "
                   f"that user search permission on it and on each directory above "
                   f"it\n")
