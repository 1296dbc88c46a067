# chapter: 10
"""Chapter 10: what config.json sets on the container's process and its
namespaces: rlimits, the OOM score, sysctls (its own namespaces' only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundles import caller, write_bundle  # noqa: F401  (caller: a fixture)
from conftest import named_network_namespace


def run_bundle(caller, bundle) -> str:
    done = caller("run", "--bundle", str(bundle), "settings", check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rlimits_and_the_oom_score_are_set(caller, rootfs, tmp_path):
    def settings(config: dict) -> None:
        config["process"]["rlimits"] = [
            {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
        config["process"]["oomScoreAdj"] = 500

    script = "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj"
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", script], settings)
    assert run_bundle(caller, bundle).split() == ["100", "200", "0", "500"]


def test_the_containers_own_sysctls_are_written(caller, rootfs, tmp_path):
    def settings(config: dict) -> None:
        config["linux"]["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": "80",
                                     "kernel.shmmni": "1000"}

    script = ("cat /proc/sys/net/ipv4/ip_unprivileged_port_start "
              "/proc/sys/kernel/shmmni")
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", script], settings)
    assert run_bundle(caller, bundle).split() == ["80", "1000"]


@pytest.mark.parametrize("name, value", [("kernel.core_pattern", "|/tmp/evil"),
                                         ("vm.overcommit_memory", "1"),
                                         ("kernel.shmmni/../core_pattern", "x")])
def test_a_sysctl_of_the_host_is_refused(caller, rootfs, tmp_path, name, value):
    """The attack: a config.json that would have root in the container's
    set-up write a host-wide setting through its /proc/sys."""
    with open("/proc/sys/kernel/core_pattern") as file:
        before = file.read()
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"],
                          lambda config: config["linux"].update(sysctl={name: value}))
    done = caller("run", "--bundle", str(bundle), "evil", check=False)
    assert done.returncode == 125
    assert "is not the container's own" in done.stderr
    with open("/proc/sys/kernel/core_pattern") as file:
        assert file.read() == before


def test_a_network_sysctl_needs_a_network_namespace_of_its_own(caller, rootfs,
                                                              tmp_path):
    def host_network(config: dict) -> None:
        config["linux"]["namespaces"] = [namespace for namespace in
                                         config["linux"]["namespaces"]
                                         if namespace["type"] != "network"]
        config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}

    bundle = write_bundle(tmp_path / "b", rootfs, ["true"], host_network)
    done = caller("run", "--bundle", str(bundle), "hostnet", check=False)
    assert done.returncode == 125 and "is not the container's own" in done.stderr


def test_a_namespace_given_by_path_is_joined(caller, rootfs, tmp_path):
    """Podman's way: netavark makes the network namespace, the config names it."""
    import subprocess

    name = f"dkr-test-{tmp_path.name[-8:]}"
    with named_network_namespace(name) as path:
        subprocess.run(["ip", "-n", name, "link", "add", "marker0", "type", "veth",
                        "peer", "name", "marker1"],
                       check=True)

        def join(config: dict) -> None:
            for namespace in config["linux"]["namespaces"]:
                if namespace["type"] == "network":
                    namespace["path"] = path

        bundle = write_bundle(tmp_path / "b", rootfs, ["ls", "/sys/class/net"], join)
        assert "marker0" in run_bundle(caller, bundle).split()


def test_an_rlimit_that_cannot_be_set_is_one_line(caller, rootfs, tmp_path):
    """A soft limit above its hard one, here; Podman's 1048576 open files
    for root containers on a machine without CAP_SYS_RESOURCE, in use."""
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"], lambda config: config[
        "process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 300,
                                    "hard": 200}]))
    done = caller("run", "--bundle", str(bundle), "rlimit", check=False)
    assert done.returncode == 125
    assert "process.rlimits: RLIMIT_NOFILE 300:200 is above" in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr


def test_a_sysctl_of_a_joined_network_namespace_is_written(caller, rootfs, tmp_path):
    """Podman names the network namespace netavark made, and a sysctl of it
    (net.ipv4.ping_group_range): that namespace is the container's own."""
    name = f"dkr-test-{tmp_path.name[-8:]}"
    with named_network_namespace(name) as path:
        def join(config: dict) -> None:
            for namespace in config["linux"]["namespaces"]:
                if namespace["type"] == "network":
                    namespace["path"] = path
            config["linux"]["sysctl"] = {"net.ipv4.ping_group_range": "0 0"}

        bundle = write_bundle(tmp_path / "b", rootfs,
                              ["cat", "/proc/sys/net/ipv4/ping_group_range"], join)
        assert run_bundle(caller, bundle).split() == ["0", "0"]


def test_a_sysctl_of_the_hosts_network_namespace_joined_by_path_is_refused(
        caller, rootfs, tmp_path):
    before = Path("/proc/sys/net/ipv4/ping_group_range").read_text()

    def join_the_hosts(config: dict) -> None:
        for namespace in config["linux"]["namespaces"]:
            if namespace["type"] == "network":
                namespace["path"] = "/proc/self/ns/net"  # dkr's own
        config["linux"]["sysctl"] = {"net.ipv4.ping_group_range": "0 0"}

    bundle = write_bundle(tmp_path / "b", rootfs, ["true"], join_the_hosts)
    done = caller("run", "--bundle", str(bundle), "hostpath", check=False)
    assert done.returncode == 125 and "is not the container's own" in done.stderr
    assert Path("/proc/sys/net/ipv4/ping_group_range").read_text() == before


def test_a_namespace_path_that_is_not_there_is_one_line(caller, rootfs, tmp_path):
    def join(config: dict) -> None:
        config["linux"]["namespaces"].append({"type": "ipc", "path": "/nonexistent"})
        config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                         if ns.get("path") or ns["type"] != "ipc"]

    bundle = write_bundle(tmp_path / "b", rootfs, ["true"], join)
    done = caller("run", "--bundle", str(bundle), "nopath", check=False)
    assert done.returncode == 125
    assert "cannot join the ipc namespace /nonexistent" in done.stderr


def test_the_configs_devices_are_made(caller, rootfs, tmp_path):
    def devices(config: dict) -> None:
        config["linux"]["devices"] = [
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
             "fileMode": 0o620, "uid": 0, "gid": 5},
            {"path": "/dev/extra/pipe", "type": "p"}]

    script = "stat -c '%F %t:%T %a %g' /dev/fuse; stat -c '%F' /dev/extra/pipe"
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", script], devices)
    assert run_bundle(caller, bundle).splitlines() == [
        "character special file a:e5 620 5", "fifo"]


def test_a_device_outside_dev_is_refused(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"], lambda config: config[
        "linux"].update(devices=[{"path": "/dev/../etc/x", "type": "c", "major": 1,
                                  "minor": 3}]))
    done = caller("run", "--bundle", str(bundle), "outdev", check=False)
    assert done.returncode == 125 and "out of /dev" in done.stderr
    assert not (rootfs / "etc" / "x").exists()


def test_the_root_propagation_is_set(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs,
                          ["grep", "-E", "^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / ",
                           "/proc/self/mountinfo"],
                          lambda config: config["linux"].update(
                              rootfsPropagation="shared"))
    assert "shared:" in run_bundle(caller, bundle)


def test_without_a_cgroup_namespace_the_container_sees_only_its_cgroup(caller, rootfs,
                                                                      tmp_path):
    """Podman's and Docker's bundles on a v1 host have no cgroup namespace:
    /sys/fs/cgroup still shows the container's own cgroup, its limit at the
    top, and no other container's."""
    def no_cgroup_namespace(config: dict) -> None:
        config["linux"]["namespaces"] = [namespace for namespace in
                                         config["linux"]["namespaces"]
                                         if namespace["type"] != "cgroup"]
        config["linux"]["resources"]["memory"] = {"limit": 32 * 1024 * 1024}
        config["linux"]["cgroupsPath"] = f"/dkr-test-parent/{tmp_path.name[-8:]}"

    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null "
              "|| cat /sys/fs/cgroup/memory.max; ls /sys/fs/cgroup/memory "
              "/sys/fs/cgroup 2>/dev/null | grep -c dkr-test-parent || true")
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", script],
                          no_cgroup_namespace)
    try:
        assert run_bundle(caller, bundle).split() == [str(32 * 1024 * 1024), "0"]
    finally:
        for parent in Path("/sys/fs/cgroup").glob("*/dkr-test-parent"):
            parent.rmdir()
        if Path("/sys/fs/cgroup/dkr-test-parent").is_dir():
            Path("/sys/fs/cgroup/dkr-test-parent").rmdir()


def test_a_filter_that_refuses_getcwd_still_lets_the_command_start(caller, rootfs,
                                                                    tmp_path):
    """dkr checks the working directory (CVE-2024-21626) with getcwd before
    the bundle's filter is installed, which may refuse it (runtime-tools'
    seccomp test does); the command itself then lives with the refusal."""
    no_getcwd = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", "echo started; pwd -P"],
                          lambda config: config["linux"].update(seccomp=no_getcwd))
    done = caller("run", "--bundle", str(bundle), "settings", check=False)
    assert done.stdout.splitlines()[:1] == ["started"], done.stderr
