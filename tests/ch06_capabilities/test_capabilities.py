# chapter: 6
"""Chapter 6: root in the container without root's power.

Each protection has a test that tries the attack from inside a default
container and shows it fails, and, where the page explains an opt-out, a
test that the opt-out does what it says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import container_status as status, run_probe
from dkr import capabilities, defaults
from dkr.errors import DkrError
from dkr.linux.capability_table import Cap
from dkr.run import security_option
from dkr.users import parse_group, parse_passwd

REPO = Path(__file__).resolve().parents[2]
DOCKER_DEFAULT = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}


# Names and sets, without a container ---------------------------------------

@pytest.mark.parametrize("text, name", [
    ("NET_ADMIN", "CAP_NET_ADMIN"), ("CAP_NET_ADMIN", "CAP_NET_ADMIN"),
    ("net_admin", "CAP_NET_ADMIN"), ("cap_sys_admin", "CAP_SYS_ADMIN"), ("all", "ALL"),
])
def test_capability_names_as_docker_takes_them(text, name):
    assert capabilities.parse_name(text) == name


@pytest.mark.parametrize("text", ["CAP_TEST", "", "NET ADMIN", "CAP_", "41"])
def test_an_unknown_capability_is_an_error(text):
    with pytest.raises(DkrError, match="unknown capability"):
        capabilities.parse_name(text)


def test_the_default_is_dockers_fourteen():
    assert set(capabilities.resolve(defaults.CAPABILITIES, [], [])) == DOCKER_DEFAULT


@pytest.mark.parametrize("add, drop, kept, gone", [
    (["NET_ADMIN"], [], {"CAP_NET_ADMIN", "CAP_CHOWN"}, set()),
    ([], ["CHOWN"], set(), {"CAP_CHOWN"}),
    (["CHOWN"], ["ALL"], {"CAP_CHOWN"}, {"CAP_KILL"}),
    (["ALL"], ["SYS_ADMIN"], {"CAP_SYS_MODULE", "CAP_NET_ADMIN"}, {"CAP_SYS_ADMIN"}),
    (["KILL"], ["KILL"], {"CAP_KILL"}, set()),  # the add wins
])
def test_adds_and_drops_follow_dockers_rule(add, drop, kept, gone):
    result = set(capabilities.resolve(defaults.CAPABILITIES, add, drop))
    assert kept <= result and not gone & result, result


def test_the_table_matches_the_kernel_headers():
    header = Path("/usr/include/linux/capability.h")
    if not header.exists():
        pytest.skip("no kernel headers (Debian's linux-libc-dev) to compare with")
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "kernel-tables"),
                             "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert Cap.CAP_CHOWN == 0 and Cap.CAP_SYS_ADMIN == 21


@pytest.mark.parametrize("option, value", [
    ("no-new-privileges", "true"), ("no-new-privileges:true", "true"),
    ("no-new-privileges=true", "true"), ("no-new-privileges:false", "false"),
])
def test_security_options(option, value):
    assert security_option(option) == ("no-new-privileges", value)


@pytest.mark.parametrize("option", ["no-new-privileges:maybe", "apparmor=unconfined", ""])
def test_an_unknown_security_option_is_an_error(option):
    with pytest.raises(DkrError, match="security option"):
        security_option(option)


def test_passwd_and_group_files_are_read_as_libc_does():
    users = parse_passwd("root:x:0:0:root:/root:/bin/sh\nbroken line\n"
                         "app:x:1000:1001::/home/app:/bin/sh\n")
    assert [(user.name, user.id, user.gid, user.home) for user in users] == [
        ("root", 0, 0, "/root"), ("app", 1000, 1001, "/home/app")]
    groups = parse_group("wheel:x:10:root,app\nstaff:x:50:\n")
    assert [(group.name, group.id, group.members) for group in groups] == [
        ("wheel", 10, ("root", "app")), ("staff", 50, ())]


# In a container --------------------------------------------------------------

def names(mask: str) -> set[str]:
    value = int(mask, 16)
    return {cap.name for cap in Cap if value >> cap & 1}


def test_a_default_container_holds_dockers_fourteen_and_nothing_inheritable(dkr):
    fields = status(dkr)
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert names(fields[field]) == DOCKER_DEFAULT, field
    assert int(fields["CapInh"], 16) == 0 and int(fields["CapAmb"], 16) == 0
    assert fields["NoNewPrivs"].strip() == "0"  # as in Docker, unless asked for


def test_cap_add_and_cap_drop_show_in_the_sets(dkr):
    fields = status(dkr, "--cap-add", "NET_ADMIN", "--cap-drop", "chown")
    assert names(fields["CapEff"]) == DOCKER_DEFAULT - {"CAP_CHOWN"} | {"CAP_NET_ADMIN"}
    assert names(fields["CapBnd"]) == names(fields["CapEff"])


def test_privileged_holds_every_capability_the_kernel_has(dkr):
    fields = status(dkr, "--privileged")
    assert names(fields["CapEff"]) == set(capabilities.every_name())


def test_an_unknown_capability_is_one_clear_line(dkr):
    result = dkr("run", "--cap-add", "CAP_TEST", "true")
    assert result.returncode == 125
    assert result.stderr == ("dkr: unknown capability 'CAP_TEST': give a name of "
                             "capabilities(7), such as NET_ADMIN or CAP_NET_ADMIN, or ALL\n")


def test_hostname_needs_sys_admin(dkr):
    result = dkr("run", "sh", "-c", "hostname x")
    assert result.returncode != 0 and "not permitted" in result.stderr
    result = dkr("run", "--cap-add", "SYS_ADMIN", "sh", "-c", "hostname x; hostname")
    assert result.returncode == 0 and result.stdout == "x\n", result.stderr


def test_chown_is_kept(dkr):
    result = dkr("run", "sh", "-c", "touch /tmp/f && chown 65534:65534 /tmp/f "
                 "&& stat -c %u:%g /tmp/f; rm -f /tmp/f")
    assert result.stdout == "65534:65534\n", result.stderr


@pytest.mark.parametrize("command", [
    "mount -t tmpfs none /mnt",  # CAP_SYS_ADMIN
    "unshare -m true",  # a new mount namespace: CAP_SYS_ADMIN
    "mount -t cgroup -o memory cgroup /mnt",  # CVE-2022-0492's release_agent
])
def test_what_needs_root_s_power_fails(dkr, command):
    result = dkr("run", "sh", "-c", f"{command} && echo reached")
    assert "reached" not in result.stdout and result.returncode != 0, result.stderr


@pytest.fixture
def host_defaults():
    """The host's kernel.dmesg_restrict at 1 and kernel.perf_event_paranoid
    at 2 or more (most distributions' defaults), for the test: with laxer
    values the kernel asks no capability for the kernel log or system-wide
    events (seccomp, in chapter 7, still refuses those calls)."""
    wanted = {"/proc/sys/kernel/dmesg_restrict": 1, "/proc/sys/kernel/perf_event_paranoid": 2}
    before = {path: Path(path).read_text() for path in wanted}
    for path, value in wanted.items():
        if int(before[path]) < value:
            Path(path).write_text(str(value))
    yield
    for path, text in before.items():
        Path(path).write_text(text)


@pytest.mark.parametrize("call, errno_names", [
    ("open_by_handle_at", {"EPERM"}),  # "shocker": CAP_DAC_READ_SEARCH
    ("bpf", {"EPERM"}),  # CAP_BPF, CAP_SYS_ADMIN
    # system-wide: CAP_PERFMON (EACCES; from chapter 7 on, seccomp says EPERM first)
    ("perf_event_open", {"EACCES", "EPERM"}),
    ("settimeofday", {"EPERM"}), ("clock_settime", {"EPERM"}),  # CAP_SYS_TIME
    ("swapon", {"EPERM"}),  # CAP_SYS_ADMIN, checked before the path
    ("acct", {"EPERM"}),  # CAP_SYS_PACCT, checked before the path
    ("syslog", {"EPERM"}),  # CAP_SYSLOG: the host's kernel log
])
def test_the_host_s_kernel_is_out_of_reach(dkr, probe, host_defaults, call, errno_names):
    assert run_probe(dkr, probe, call) in errno_names


def test_a_capability_given_back_works_again(dkr, probe, host_defaults):
    assert run_probe(dkr, probe, "syslog", "--cap-add", "SYSLOG") == "ok"


def test_the_user_switch_is_complete(dkr):
    result = dkr("run", "--user", "nobody", "sh", "-c",
                 "grep -E '^(Uid|Gid|Groups|CapEff|CapPrm)' /proc/self/status; echo $HOME")
    fields = dict(line.split(":", 1) for line in result.stdout.splitlines()[:-1])
    assert fields["Uid"].split() == ["65534"] * 4, result.stdout
    assert fields["Gid"].split() == ["65534"] * 4
    assert fields["Groups"].split() == []  # root's groups are not kept
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapPrm"], 16) == 0
    assert result.stdout.splitlines()[-1] == "/nonexistent"


def test_user_and_groups_by_number_and_name(dkr):
    result = dkr("run", "--user", "1000:tty", "--group-add", "nogroup",
                 "--group-add", "4242", "sh", "-c", "id -u; id -g; id -G; echo $HOME")
    assert result.stdout.split("\n")[:4] == ["1000", "5", "5 4242 65534", "/"], result.stderr


def test_an_unknown_user_is_one_clear_line(dkr):
    result = dkr("run", "--user", "nosuch", "true")
    assert result.returncode == 125
    assert "'nosuch': no such user in the container's /etc/passwd" in result.stderr
    assert result.stderr.count("\n") == 1


def test_root_keeps_the_root_user(dkr):
    result = dkr("run", "sh", "-c", "id -u; echo $HOME")
    assert result.stdout == "0\n/root\n", result.stderr


def test_no_new_privileges_shows_and_holds(dkr):
    fields = status(dkr, "--security-opt", "no-new-privileges")
    assert fields["NoNewPrivs"].strip() == "1"


def test_a_setuid_program_gains_nothing_under_no_new_privileges(dkr, probe, tmp_path):
    setuid = tmp_path / "setuid"
    setuid.mkdir()
    shutil.copy(probe / "probe", setuid / "probe")
    os.chmod(setuid / "probe", 0o4755)
    volume = f"{setuid}:/setuid:ro"
    base = ("run", "-v", volume, "--user", "nobody")
    gained = dkr(*base, "/setuid/probe", "euid")
    assert gained.stdout == "0\n", gained.stderr  # the setuid bit works without it
    held = dkr(*base, "--security-opt", "no-new-privileges", "/setuid/probe", "euid")
    assert held.stdout == "65534\n", held.stderr


# What root keeps without capabilities -----------------------------------------

def test_the_container_has_its_own_ipc_and_cgroup_namespaces(dkr):
    result = dkr("run", "sh", "-c", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/cgroup")
    mine = [os.readlink("/proc/self/ns/ipc"), os.readlink("/proc/self/ns/cgroup")]
    theirs = result.stdout.split()
    assert len(theirs) == 2 and not set(theirs) & set(mine), result.stdout


def test_the_host_s_shared_memory_is_out_of_sight(dkr):
    made = subprocess.run(["ipcmk", "-M", "4096"], capture_output=True, text=True,
                          check=True).stdout
    shmid = made.split()[-1]
    try:
        result = dkr("run", "cat", "/proc/sysvipc/shm")
        assert shmid not in result.stdout.split(), result.stdout
    finally:
        subprocess.run(["ipcrm", "-m", shmid], check=True)


def test_a_directory_fd_left_open_by_dkr_s_caller_does_not_lead_out(dkr, tmp_path):
    # CVE-2024-21626: the fd is a directory of the host's; -w through it would
    # start the container outside its root.
    secret = tmp_path / "secret"
    secret.write_text("host\n")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        escaped = dkr("run", "-w", f"/proc/self/fd/{fd}", "cat", "secret", pass_fds=(fd,))
        assert escaped.returncode == 125 and "host" not in escaped.stdout
        assert "outside the container's root file system" in escaped.stderr
        listed = dkr("run", "ls", "/proc/self/fd", pass_fds=(fd,))
        assert listed.stdout.split() == ["0", "1", "2", "3"], listed.stdout  # 3: ls's own
    finally:
        os.close(fd)


def test_the_child_is_not_dumpable_before_exec(dkr):
    # Its /proc/PID/exe is the host's Python until exec (CVE-2019-5736's way in).
    result = dkr("--trace", "run", "true")
    assert "container[1] prctl(PR_SET_DUMPABLE, 0) = 0" in result.stderr, result.stderr
