# chapter: 1
"""The container's configuration, named as in the OCI runtime spec.

Field names follow config.json (snake_case here: `masked_paths` is
`maskedPaths`), so `dkr run` builds the same model from its options that
chapter 10 reads from a bundle, and the runtime never needs to know which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


# chapter: 6 {
@dataclass
class User:
    """`process.user`: whom the command runs as.

    `lookup` and `add_groups` are dkr's own: the `--user` text (NAME, UID,
    NAME:GROUP…) and the `--group-add` names, looked up in the container's
    /etc/passwd and /etc/group as it starts, because the names are the
    container's, never the host's. A bundle gives numbers and no lookup."""

    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: list[int] = field(default_factory=list)
    lookup: str | None = None
    add_groups: list[str] = field(default_factory=list)


@dataclass
class Capabilities:
    """`process.capabilities`: the five sets, by name ("CAP_CHOWN", …).
    A process without them (None) keeps all of root's, as in runc."""

    bounding: list[str] = field(default_factory=list)
    effective: list[str] = field(default_factory=list)
    inheritable: list[str] = field(default_factory=list)
    permitted: list[str] = field(default_factory=list)
    ambient: list[str] = field(default_factory=list)
# }


# chapter: 10 {
@dataclass
class Rlimit:
    """One entry of `process.rlimits`: setrlimit(2)'s resource, by name
    ("RLIMIT_NOFILE"), and its soft and hard limits."""

    type: str
    soft: int
    hard: int
# }


@dataclass
class Process:
    """What runs in the container: `process` in config.json."""

    args: list[str]
    env: list[str] = field(default_factory=lambda: [f"PATH={DEFAULT_PATH}"])
    cwd: str = "/"
    terminal: bool = False
    user: User = field(default_factory=User)  # chapter: 6
    capabilities: Capabilities | None = None  # chapter: 6
    no_new_privileges: bool = False  # chapter: 6
    # chapter: 10 {
    rlimits: list[Rlimit] = field(default_factory=list)
    oom_score_adj: int | None = None
    # dkr's own: how many descriptors from 3 on the command inherits
    # (`--preserve-fds`); every other one is closed at exec.
    preserve_fds: int = 0
    # }

    def environ(self) -> dict[str, str]:
        """`env` ("KEY=VALUE" strings) as a dict for exec."""
        return dict(item.partition("=")[::2] for item in self.env)


@dataclass
class Root:
    """The container's root file system: `root` in config.json."""

    path: str
    readonly: bool = False
    # chapter: 8 {
    # dkr's own: the read-only directories, lowest first, that an overlay
    # with a writable layer of the container's own stacks at `path`.
    layers: list[str] = field(default_factory=list)
    # }


@dataclass
class Mount:
    """One entry of `mounts`: mounted under the root, in order."""

    destination: str
    type: str | None = None
    source: str | None = None
    options: list[str] = field(default_factory=list)


@dataclass
class Namespace:
    """One entry of `linux.namespaces`: a new namespace, or `path` to join one."""

    type: str
    path: str | None = None
    # chapter: 10 {
    # dkr's own: set as the namespace at `path` is joined, if it is dkr's
    # (the host's) own namespace, so that nothing the container may change
    # only in a namespace of its own (a sysctl) is changed there.
    is_hosts: bool = False
    # }


# chapter: 10 {
@dataclass
class IDMapping:
    """One line of a user namespace's uid_map or gid_map: the `size` ids
    from `container_id` in the container are the host's from `host_id`."""

    container_id: int
    host_id: int
    size: int

    def line(self) -> str:
        """The line as /proc/PID/uid_map takes it."""
        return f"{self.container_id} {self.host_id} {self.size}\n"
# }


# chapter: 5 {
@dataclass
class Memory:
    """`linux.resources.memory`, in bytes. `swap` is memory and swap together,
    as in cgroup v1; -1 means unlimited, None leaves the host's default."""

    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None


@dataclass
class CPU:
    """`linux.resources.cpu`: a relative share, a quota of CPU time per
    period (microseconds), and the CPUs and memory nodes allowed ("0-1,3")."""

    shares: int | None = None
    quota: int | None = None
    period: int | None = None
    cpus: str | None = None
    mems: str | None = None


@dataclass
class Pids:
    """`linux.resources.pids`: at most `limit` tasks; -1 means unlimited."""

    limit: int | None = None


@dataclass
class Resources:
    """`linux.resources`: the limits the container's cgroup enforces."""

    memory: Memory = field(default_factory=Memory)
    cpu: CPU = field(default_factory=CPU)
    pids: Pids = field(default_factory=Pids)
    devices: list[DeviceRule] = field(default_factory=list)  # chapter: 6
# }


# chapter: 6 {
@dataclass
class DeviceRule:
    """One entry of `linux.resources.devices`: whether the container may
    make (m), read (r) or write (w) the devices of `type` ("c" character,
    "b" block, "a" all) numbered major:minor (None: any). Later rules win."""

    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"
# }


# chapter: 7 {
@dataclass
class SeccompArg:
    """One condition on a syscall's argument: `linux.seccomp.syscalls[].args[]`.
    `op` is one of SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ (for
    which the argument ANDed with `value` must equal `value_two`)."""

    index: int
    value: int
    op: str
    value_two: int = 0


@dataclass
class SyscallRule:
    """`linux.seccomp.syscalls[]`: what happens to calls of `names` whose
    arguments meet every one of `args`."""

    names: list[str]
    action: str
    errno_ret: int | None = None
    args: list[SeccompArg] = field(default_factory=list)


@dataclass
class Seccomp:
    """`linux.seccomp`: the filter every syscall of the container passes.
    `default_action` for calls no rule names; `architectures` (SCMP_ARCH_…)
    are the ABIs whose calls the filter decides, any other ABI's are
    refused."""

    default_action: str
    default_errno_ret: int | None = None
    architectures: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    syscalls: list[SyscallRule] = field(default_factory=list)
# }


# chapter: 10 {
@dataclass
class Device:
    """One entry of `linux.devices`: a node the runtime makes in /dev."""

    path: str
    type: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


@dataclass
class Hook:
    """One program of `hooks`: `args` is its whole argv, argv[0] included."""

    path: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    timeout: int | None = None


@dataclass
class Hooks:
    """`hooks`: the programs run at each point of the container's life."""

    prestart: list[Hook] = field(default_factory=list)
    create_runtime: list[Hook] = field(default_factory=list)
    create_container: list[Hook] = field(default_factory=list)
    start_container: list[Hook] = field(default_factory=list)
    poststart: list[Hook] = field(default_factory=list)
    poststop: list[Hook] = field(default_factory=list)

    def any(self) -> bool:
        """Whether a hook runs during create or start (the child's part)."""
        return bool(self.prestart or self.create_runtime or self.create_container
                    or self.start_container)
# }


@dataclass
class Linux:
    """The Linux-specific part: `linux` in config.json."""

    namespaces: list[Namespace] = field(default_factory=list)
    masked_paths: list[str] = field(default_factory=list)
    readonly_paths: list[str] = field(default_factory=list)
    resources: Resources = field(default_factory=Resources)  # chapter: 5
    cgroups_path: str | None = None  # chapter: 5
    seccomp: Seccomp | None = None  # chapter: 7
    # chapter: 10 {
    devices: list[Device] = field(default_factory=list)
    sysctl: dict[str, str] = field(default_factory=dict)
    rootfs_propagation: str | None = None
    uid_mappings: list[IDMapping] = field(default_factory=list)
    gid_mappings: list[IDMapping] = field(default_factory=list)
    # }


@dataclass
class Spec:
    """A whole container configuration: config.json."""

    process: Process
    root: Root
    hostname: str | None = None
    mounts: list[Mount] = field(default_factory=list)
    linux: Linux = field(default_factory=Linux)
    annotations: dict[str, str] = field(default_factory=dict)  # chapter: 4
    # chapter: 10 {
    hooks: Hooks = field(default_factory=Hooks)
    # dkr's own: the bundle's directory, for the state; "" for `dkr run`.
    bundle: str = ""
    # }

    def has_namespace(self, kind: str) -> bool:
        """Whether the container gets (or joins) a namespace of `kind`."""
        return any(ns.type == kind for ns in self.linux.namespaces)
    # chapter: 10 {

    def new_namespace(self, kind: str) -> bool:
        """Whether the container gets a new namespace of `kind` (not one it joins)."""
        return any(ns.type == kind and not ns.path for ns in self.linux.namespaces)

    def own_namespace(self, kind: str) -> bool:
        """Whether the container's namespace of `kind` is not the host's: a
        new one, or one it joined (an engine made it for the container)."""
        return any(ns.type == kind and not ns.is_hosts for ns in self.linux.namespaces)
    # }
