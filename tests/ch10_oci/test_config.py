# chapter: 10
"""Chapter 10: config.json read into dkr's model, one clear line for each
mistake, and the runtime commands that need no container: spec, features,
--version, --log; and `run`'s two readings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bundles import caller, write_bundle  # noqa: F401  (caller: a fixture)
from conftest import TREE

# config.json files that Podman, Docker and ctr wrote for their runtime on
# Debian 12 (their paths and ids are an example machine's).
ENGINE_CONFIGS = Path(__file__).resolve().parent / "engine-configs"




def dkr(*args: str, cwd: Path = TREE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dkr", *args], capture_output=True,
                          text=True, cwd=cwd, env={"PYTHONPATH": str(TREE)})


def set_path(config: dict, path: str, value: object) -> None:
    *parents, last = path.split(".")
    for key in parents:
        config = config.setdefault(key, {})
    if value is DELETE:
        del config[last]
    else:
        config[last] = value


DELETE = object()
BAD_CONFIGS = [
    ("process", DELETE, "config.json: process: missing: give it"),
    ("ociVersion", "invalid",
     "config.json: ociVersion: dkr runs configs of the runtime spec 1.x, not 'invalid'"),
    ("ociVersion", "2.0.0", "not '2.0.0'"),
    ("ociVersion", "1.1.0-rc.1", None),
    ("process.args", [], "config.json: process.args: give the command to run"),
    ("process.args", ["sh", 3], "config.json: process.args[1]: give a string"),
    ("process.cwd", "tmp", "config.json: process.cwd: give an absolute path, not 'tmp'"),
    ("process.terminal", "yes", "config.json: process.terminal: give true or false"),
    ("process.user.uid", -1, "config.json: process.user.uid: give a whole number, "
                             "0 or more"),
    ("process.rlimits", [{"type": "NOFILE", "soft": 1, "hard": 1}],
     "config.json: process.rlimits[0].type: give a resource such as RLIMIT_NOFILE"),
    ("root.path", 7, "config.json: root.path: give a string"),
    ("mounts", [{"destination": "proc"}],
     "config.json: mounts[0].destination: give an absolute path, not 'proc'"),
    ("linux.namespaces", [{"type": "moon"}],
     "config.json: linux.namespaces[0].type: no such namespace 'moon'"),
    ("linux.intelRdt", {"closID": "x"},
     "config.json: linux.intelRdt: dkr does not support it: leave it out"),
    ("linux.resources.hugepageLimits", [{"pageSize": "2MB", "limit": 1}],
     "config.json: linux.resources.hugepageLimits: dkr does not support it: leave it out"),
    ("linux.resources.memory.swappiness", 10,
     "config.json: linux.resources.memory.swappiness: dkr does not support it"),
    ("linux.resources.memory.disableOOMKiller", True,
     "config.json: linux.resources.memory.disableOOMKiller: dkr does not support it"),
    ("linux.resources.blockIO.weight", 300,
     "config.json: linux.resources.blockIO.weight: dkr does not support it"),
    ("linux.resources.blockIO", {"weight": 0}, None),  # Docker's "not set"
    ("linux.resources.memory.swappiness", -1, None),
    ("linux.mountLabel", "system_u:object_r:container_file_t:s0",
     "config.json: linux.mountLabel: dkr does not support it: leave it out"),
    ("process.apparmorProfile", "docker-default",
     "config.json: process.apparmorProfile: dkr does not support it: leave it out"),
    ("process.selinuxLabel", "system_u:system_r:container_t:s0",
     "config.json: process.selinuxLabel: dkr does not support it: leave it out"),
    ("linux.namespaces", [{"type": "pid"}],
     "config.json: linux.namespaces: give a mount namespace"),
    ("process.capabilities.bounding", ["CAP_CHOWN", "CAP_TEST"],
     "config.json: process.capabilities.bounding[1]: no such capability 'CAP_TEST'"),
    ("process.rlimits", [{"type": "RLIMIT_TEST", "soft": 1, "hard": 1}],
     "config.json: process.rlimits[0].type: no such resource 'RLIMIT_TEST' here"),
    ("linux.namespaces", [{"type": "mount"}, {"type": "user"}],
     "config.json: linux.uidMappings: a new user namespace needs uidMappings"),
    ("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}],
     "config.json: linux.uidMappings: give a user namespace in linux.namespaces"),
    ("linux.namespaces", [{"type": "mount"}, {"type": "time"}],
     "config.json: linux.namespaces[1]: dkr does not yet run containers in a time"),
    ("linux.annotations", None, None),  # an unknown field: ignored
    ("annotations", {"a": 1}, "config.json: annotations: give an object of strings"),
    ("hooks.prestart", [{"path": "hook"}],
     "config.json: hooks.prestart[0].path: give an absolute path"),
    ("linux.seccomp", {"defaultAction": "SCMP_ACT_NOPE"}, "unknown seccomp action"),
]


@pytest.mark.parametrize("path, value, says", BAD_CONFIGS,
                         ids=[f"{path}={value!r}"[:40] for path, value, _ in BAD_CONFIGS])
def test_a_bad_config_is_one_line_naming_the_field(caller, rootfs, tmp_path, path,
                                                   value, says):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"],
                          lambda config: set_path(config, path, value))
    caller.created.append("bad")  # deleted at the end, if it was made
    done = caller("create", "--bundle", str(bundle), "bad", check=False)
    if says is None:
        assert done.returncode == 0, done.stderr
        return
    assert done.returncode == 125
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert says in done.stderr
    assert not (caller.state_root / "bad").exists()


def test_a_bundle_without_config_says_where_it_looked(caller, tmp_path):
    done = caller("create", "--bundle", str(tmp_path), "none", check=False)
    assert done.stderr == (f"dkr: no config.json in the bundle {tmp_path}: give "
                           f"--bundle the bundle's directory\n")


def test_a_config_that_is_not_json(caller, tmp_path):
    (tmp_path / "config.json").write_text("{")
    done = caller("create", "--bundle", str(tmp_path), "none", check=False)
    assert done.returncode == 125 and "is not JSON" in done.stderr


@pytest.mark.parametrize("name", ["podman-config.json", "docker-config.json",
                                  "ctr-config.json", "docker-config-bridge-hook.json",
                                  "podman-config-privileged.json"])
def test_the_engines_configs_are_read_whole(name):
    from dkr.oci.bundle import spec_from_config

    config = json.loads((ENGINE_CONFIGS / name).read_text())
    spec = spec_from_config(config, "/bundle")
    assert spec.process.args == config["process"]["args"]
    assert spec.linux.cgroups_path == config["linux"]["cgroupsPath"]
    assert len(spec.mounts) == len(config["mounts"])
    # the engine's rules first ("deny all", or privileged's "allow all"), then
    # the devices every container has
    given = config["linux"]["resources"]["devices"]
    assert spec.linux.resources.devices[0].allow is given[0]["allow"]
    assert any(rule.allow and (rule.major, rule.minor) == (1, 3)
               for rule in spec.linux.resources.devices)


def test_spec_writes_a_template_that_runs(caller, rootfs, tmp_path):
    done = dkr("spec", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["process"]["args"] == ["sh"] and config["root"]["path"] == "rootfs"
    again = dkr("spec", cwd=tmp_path)
    assert again.returncode == 125
    assert again.stderr == "dkr: ./config.json exists already: remove it first\n"
    (tmp_path / "rootfs").symlink_to(rootfs)
    config["process"].update(terminal=False, args=["sh", "-c", "echo from the template"])
    config["root"]["readonly"] = False
    (tmp_path / "config.json").write_text(json.dumps(config))
    done = caller("run", "--bundle", str(tmp_path), "tpl")
    assert done.stdout == "from the template\n"


def test_features_and_version():
    features = json.loads(dkr("features").stdout)
    assert features["ociVersionMax"] == "1.0.2"
    assert "createRuntime" in features["hooks"]
    assert "SCMP_ACT_ERRNO" in features["linux"]["seccomp"]["actions"]
    assert "rbind" in features["mountOptions"]
    version = dkr("--version").stdout.splitlines()
    assert version[0].startswith("dkr version ") and version[1] == "spec: 1.0.2"


def test_log_json_holds_the_error_for_the_engine(tmp_path):
    log = tmp_path / "log.json"
    done = dkr("--root", str(tmp_path / "root"), "--log", str(log), "--log-format",
               "json", "state", "nobody")
    assert done.returncode != 0
    entry = json.loads(log.read_text())
    assert entry["level"] == "error"
    assert entry["msg"] == "container nobody does not exist"


def test_run_with_a_bundle_is_runcs_run(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", "echo in $(hostname); exit 5"],
                          lambda config: config.update(hostname="bundled"))
    done = caller("run", "--bundle", str(bundle), "r1", check=False)
    assert (done.returncode, done.stdout) == (5, "in bundled\n")
    assert not (caller.state_root / "r1").exists()  # deleted once it ended


def test_run_detach_leaves_it_running(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["sleep", "30"])
    caller("run", "--bundle", str(bundle), "--detach", "r2")
    caller.created.append("r2")
    assert caller.state("r2")["status"] == "running"


def test_run_without_a_bundle_is_dockers_run(caller, rootfs):
    done = caller("run", "--net", "none", "--rootfs", str(rootfs), "echo", "docker's")
    assert done.stdout == "docker's\n"
    wrong = caller("run", "--bundle", "/nonexistent", "a", "b", check=False)
    assert wrong.stderr == ("dkr: dkr run --bundle DIR takes one word after its "
                            "options: the container's id\n")
