# chapter: 10
"""The documents dkr writes about itself: `dkr spec` and `dkr features`."""

from __future__ import annotations

from dkr import OCI_VERSION, defaults
from dkr.config import DEFAULT_PATH

# The capabilities of `dkr spec`'s template: runc's, a short list to add to.
TEMPLATE_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def config_template() -> dict:
    """A config.json for ./rootfs, running sh with a terminal, as `runc spec`'s."""
    capabilities = {name: list(TEMPLATE_CAPABILITIES)
                    for name in ("bounding", "effective", "permitted")}
    mounts = [{"destination": mount.destination, "type": mount.type,
               "source": mount.source, "options": list(mount.options)}
              for mount in defaults.MOUNTS]
    return {
        "ociVersion": OCI_VERSION,
        "process": {"terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
                    "env": [f"PATH={DEFAULT_PATH}", "TERM=xterm"], "cwd": "/",
                    "capabilities": capabilities,
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                    "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "dkr",
        "mounts": mounts,
        "linux": {"resources": {"devices": [{"allow": False, "access": "rwm"}]},
                  "namespaces": [{"type": kind} for kind in
                                 ("pid", "network", "ipc", "uts", "mount", "cgroup")],
                  "maskedPaths": list(defaults.MASKED_PATHS),
                  "readonlyPaths": list(defaults.READONLY_PATHS)},
    }


def features() -> dict:
    """The runtime spec's features document: what this dkr carries out."""
    from dkr import capabilities
    from dkr.mounts import FLAG_OPTIONS, PROPAGATION_OPTIONS
    from dkr.seccomp.compiler import ACTIONS

    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": sorted([*FLAG_OPTIONS, *PROPAGATION_OPTIONS]),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "uts"],
            "capabilities": capabilities.every_name(),
            "cgroup": {"v1": True, "v2": True, "systemd": False,
                       "systemdUser": False},
            "seccomp": {"enabled": True, "actions": sorted(ACTIONS),
                        "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                      "SCMP_CMP_LE", "SCMP_CMP_LT",
                                      "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"]},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
        },
    }
