# chapter: 10
"""A bundle's config.json, read into the model `dkr run` builds.

The runtime spec's config.json and dkr's `Spec` have the same fields (the
model was named after it from chapter 1 on), so reading one is a walk
over the JSON: each field is checked for its type as it is read, and a
wrong one is one error that names it (`config.json: process.args[2]: give
a string`). Fields the spec does not define are ignored, as it says;
fields it defines that dkr cannot honour (`linux.intelRdt`, a time
namespace) are refused, never silently dropped: a container that runs
with less confinement than asked for is worse than one that does not run.
"""

from __future__ import annotations

import json
import os
import resource
import sys

from dkr import defaults
from dkr.config import (CPU, Capabilities, Device, DeviceRule, Hook, Hooks,
                        IDMapping, Linux, Memory, Mount, Namespace, Pids, Process,
                        Resources, Rlimit, Root, Spec, User)
from dkr.errors import DkrError, shorten
from dkr.linux.capability_table import Cap
from dkr.seccomp.load import Fields, from_json

NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")
# Fields of the spec that dkr does not carry out, refused when they ask for
# something rather than ignored: a container must not run less confined
# than its config says (an AppArmor profile or SELinux label left
# unapplied), nor differently.
UNSUPPORTED = {"linux": ("intelRdt", "personality", "timeOffsets", "memoryPolicy",
                         "mountLabel"),
               "linux.resources": ("hugepageLimits", "rdma", "network"),
               "linux.resources.memory": ("swappiness", "disableOOMKiller", "kernel",
                                          "kernelTCP"),
               "linux.resources.cpu": ("realtimeRuntime", "realtimePeriod", "burst",
                                       "idle"),
               "linux.resources.blockIO": ("weight", "leafWeight", "weightDevice",
                                           "throttleReadBpsDevice",
                                           "throttleWriteBpsDevice",
                                           "throttleReadIOPSDevice",
                                           "throttleWriteIOPSDevice"),
               "process": ("ioPriority", "scheduler", "execCPUAffinity",
                           "apparmorProfile", "selinuxLabel")}
RLIMIT_PREFIX = "RLIMIT_"


def load(bundle: str) -> Spec:
    """The container configuration in `bundle`/config.json."""
    data = read_json(os.path.join(bundle, "config.json"),
                     missing=f"no config.json in the bundle {shorten(bundle)}: "
                             f"give --bundle the bundle's directory")
    return spec_from_config(data, os.path.abspath(bundle))


def read_json(path: str, missing: str | None = None) -> object:
    """The JSON in the file at `path` ("-": standard input); one line if it
    cannot be read, `missing` if it is not there."""
    try:
        if path == "-":
            return json.load(sys.stdin)
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError as error:
        raise DkrError(missing or f"cannot read {shorten(path)}: "
                                  f"{error.strerror}") from None
    except OSError as error:
        raise DkrError(f"cannot read {shorten(path)}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DkrError(f"{shorten(path)} is not JSON: {error}") from None


def spec_from_config(data: object, bundle: str) -> Spec:
    """config.json's JSON as a Spec; `root.path` is taken relative to `bundle`."""
    config = Fields(data, "config.json")
    version = config.string("ociVersion")
    if version.split(".")[0] != "1":
        raise DkrError(f"config.json: ociVersion: dkr runs configs of the runtime "
                       f"spec 1.x, not {shorten(version)!r}")
    root = config.required("root")
    spec = Spec(process=_process(config.required("process")),
                root=Root(os.path.join(bundle, root.string("path")),
                          readonly=root.boolean("readonly")),
                hostname=config.text("hostname") or None,
                mounts=[_mount(entry) for entry in config.objects("mounts")],
                linux=_linux(config.object("linux")),
                annotations=config.mapping("annotations"),
                hooks=_hooks(config.object("hooks")),
                bundle=bundle)
    if config.text("domainname"):
        raise DkrError("config.json: domainname: dkr does not set a NIS domain "
                       "name: leave it out")
    return spec


def load_process(path: str) -> Process:
    """The process in the JSON file at `path` (`dkr exec --process`): the
    `process` object of config.json, on its own."""
    return _process(Fields(read_json(path), os.path.basename(path)))


def _process(process: Fields) -> Process:
    _refuse(process, "process")
    args = process.strings("args")
    if not args:
        raise DkrError(f"{process.name('args')}: give the command to run")
    cwd = process.string("cwd")
    if not cwd.startswith("/"):
        raise DkrError(f"{process.name('cwd')}: give an absolute path, not "
                       f"{shorten(cwd)!r}")
    user = process.object("user")
    result = Process(
        args=args, env=process.strings("env"), cwd=cwd,
        terminal=process.boolean("terminal"),
        user=User(uid=user.number("uid") or 0, gid=user.number("gid") or 0,
                  umask=user.number("umask"),
                  additional_gids=user.numbers("additionalGids")),
        no_new_privileges=process.boolean("noNewPrivileges"),
        oom_score_adj=process.integer("oomScoreAdj"),
        rlimits=[_rlimit(entry) for entry in process.objects("rlimits")])
    if "capabilities" in process.data:
        sets = process.object("capabilities")
        result.capabilities = Capabilities(
            *(_capabilities(sets, name) for name in
              ("bounding", "effective", "inheritable", "permitted", "ambient")))
    return result


def _capabilities(sets: Fields, name: str) -> list[str]:
    """One capability set, each name one capabilities(7) knows (a name this
    kernel lacks is left out later, as runc leaves it; one no kernel has
    is a mistake)."""
    names = sets.strings(name)
    for place, capability in enumerate(names):
        if capability not in Cap.__members__:
            raise DkrError(f"{sets.where}.{name}[{place}]: no such capability "
                           f"{shorten(capability)!r}")
    return names


def _rlimit(entry: Fields) -> Rlimit:
    kind = entry.string("type")
    if not kind.startswith(RLIMIT_PREFIX):
        raise DkrError(f"{entry.where}.type: give a resource such as RLIMIT_NOFILE")
    if not hasattr(resource, kind):
        raise DkrError(f"{entry.where}.type: no such resource {shorten(kind)!r} here")
    return Rlimit(kind, entry.number("soft", required=True) or 0,
                  entry.number("hard", required=True) or 0)


def _mount(entry: Fields) -> Mount:
    destination = entry.string("destination")
    if not destination.startswith("/"):
        raise DkrError(f"{entry.where}.destination: give an absolute path, not "
                       f"{shorten(destination)!r}")
    return Mount(destination, entry.text("type") or None, entry.text("source") or None,
                 entry.strings("options"))


def _linux(linux: Fields) -> Linux:
    _refuse(linux, "linux")
    namespaces = []
    for entry in linux.objects("namespaces"):
        kind = entry.string("type")
        if kind not in NAMESPACE_TYPES:
            raise DkrError(f"{entry.where}.type: no such namespace {shorten(kind)!r}")
        if kind == "time":
            raise DkrError(f"{entry.where}: dkr does not yet run containers in a "
                           f"time namespace")
        namespaces.append(Namespace(kind, entry.text("path") or None))
    if not any(namespace.type == "mount" for namespace in namespaces):
        # Without one, the root file system's set-up (its mounts, pivot_root)
        # would happen in dkr's own mount namespace: the host's.
        raise DkrError("config.json: linux.namespaces: give a mount namespace; dkr "
                       "sets the root file system up in one")
    uid_mappings = [_id_mapping(entry) for entry in linux.objects("uidMappings")]
    gid_mappings = [_id_mapping(entry) for entry in linux.objects("gidMappings")]
    new_user = any(namespace.type == "user" and not namespace.path
                   for namespace in namespaces)
    if new_user and not (uid_mappings and gid_mappings):
        # Unmapped, the container's root would be no one (65534), with none
        # of the ids its files and setresuid(2) need.
        raise DkrError("config.json: linux.uidMappings: a new user namespace needs "
                       "uidMappings and gidMappings")
    if (uid_mappings or gid_mappings) and not any(
            namespace.type == "user" for namespace in namespaces):
        raise DkrError("config.json: linux.uidMappings: give a user namespace in "
                       "linux.namespaces for the mappings to apply to")
    result = Linux(namespaces=namespaces,
                   masked_paths=linux.strings("maskedPaths"),
                   readonly_paths=linux.strings("readonlyPaths"),
                   resources=_resources(linux.object("resources")),
                   cgroups_path=linux.text("cgroupsPath") or None,
                   devices=[_device(entry) for entry in linux.objects("devices")],
                   sysctl=linux.mapping("sysctl"),
                   rootfs_propagation=linux.text("rootfsPropagation") or None,
                   uid_mappings=uid_mappings, gid_mappings=gid_mappings)
    if "seccomp" in linux.data and linux.data["seccomp"] is not None:
        result.seccomp = from_json(linux.data["seccomp"], [], os.uname().machine,
                                   where="config.json: linux.seccomp")
    return result


def _id_mapping(entry: Fields) -> IDMapping:
    mapping = IDMapping(entry.number("containerID", required=True) or 0,
                        entry.number("hostID", required=True) or 0,
                        entry.number("size", required=True) or 0)
    if mapping.size == 0:
        raise DkrError(f"{entry.where}.size: give 1 or more")
    return mapping


def resources_from(data: object, where: str) -> Resources:
    """A `linux.resources` object on its own (`dkr update --resources`)."""
    return _resources(Fields(data, where))


def _resources(resources: Fields) -> Resources:
    _refuse(resources, "linux.resources")
    memory, cpu = resources.object("memory"), resources.object("cpu")
    for name, part in (("memory", memory), ("cpu", cpu),
                       ("blockIO", resources.object("blockIO"))):
        _refuse(part, f"linux.resources.{name}")
    rules = [DeviceRule(allow=rule.boolean("allow"), type=rule.text("type") or "a",
                        major=_any(rule.integer("major")),
                        minor=_any(rule.integer("minor")),
                        access=rule.text("access") or "rwm")
             for rule in resources.objects("devices")]
    # After the bundle's rules, the devices every container has (as runc):
    # an engine's "deny all" would otherwise deny /dev/null.
    rules += defaults.DEVICE_RULES[1:]
    return Resources(
        memory=Memory(limit=memory.integer("limit"),
                      reservation=memory.integer("reservation"),
                      swap=memory.integer("swap")),
        cpu=CPU(shares=cpu.number("shares") or None, quota=cpu.integer("quota"),
                period=cpu.number("period") or None, cpus=cpu.text("cpus") or None,
                mems=cpu.text("mems") or None),
        pids=Pids(resources.object("pids").integer("limit")),
        devices=rules)


def _any(number: int | None) -> int | None:
    """A device rule's major or minor: -1 (or none) means any."""
    return None if number is None or number < 0 else number


def _device(entry: Fields) -> Device:
    kind = entry.string("type")
    if kind not in ("c", "b", "u", "p"):
        raise DkrError(f"{entry.where}.type: give c, b, u or p")
    path = entry.string("path")
    if not path.startswith("/dev/"):
        raise DkrError(f"{entry.where}.path: give a path under /dev, not "
                       f"{shorten(path)!r}")
    return Device(path, kind, entry.number("major") or 0, entry.number("minor") or 0,
                  entry.number("fileMode"), entry.number("uid"), entry.number("gid"))


def _hooks(hooks: Fields) -> Hooks:
    def read(point: str) -> list[Hook]:
        found = []
        for entry in hooks.objects(point):
            path = entry.string("path")
            if not path.startswith("/"):
                raise DkrError(f"{entry.where}.path: give an absolute path")
            found.append(Hook(path, entry.strings("args"), entry.strings("env"),
                              entry.number("timeout")))
        return found

    return Hooks(prestart=read("prestart"), create_runtime=read("createRuntime"),
                 create_container=read("createContainer"),
                 start_container=read("startContainer"),
                 poststart=read("poststart"), poststop=read("poststop"))


def _refuse(fields: Fields, where: str) -> None:
    """Refuse the fields of `where` that dkr does not carry out, when set."""
    for key in UNSUPPORTED.get(where, ()):
        value = fields.data.get(key)
        if value and value != -1:  # engines send 0, false or -1 for "not set"
            raise DkrError(f"config.json: {where}.{key}: dkr does not support "
                           f"it: leave it out")
