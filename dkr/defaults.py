# chapter: 1
"""What `dkr run` gives every container unless told otherwise: Docker's defaults."""

from __future__ import annotations

import os
from pathlib import Path

from dkr.config import Mount  # chapter: 2
from dkr.config import DeviceRule  # chapter: 6

# Where dkr keeps what it makes once and uses again: the default root file
# system, and from later chapters more (DKR_DATA chooses another place).
DATA_DIR = Path(os.environ.get("DKR_DATA", "/var/lib/dkr"))

# The device nodes every container gets (name, major, minor), as runc makes them.
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
           ("urandom", 1, 9), ("tty", 5, 0))

NAMESPACES = (
    "uts",
    "pid",  # chapter: 2
    "mount",  # chapter: 2
    "network",  # chapter: 4
    "ipc",  # chapter: 6
    "cgroup",  # chapter: 6
)

MOUNTS = (
    Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),  # chapter: 2
    # chapter: 3 {
    Mount("/dev", "tmpfs", "tmpfs",
          ["nosuid", "strictatime", "mode=755", "size=65536k"]),
    Mount("/dev/pts", "devpts", "devpts",
          ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
    Mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
    Mount("/dev/shm", "tmpfs", "shm",
          ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]),
    # }
    Mount("/sys/fs/cgroup", "cgroup", "cgroup",  # chapter: 6
          ["nosuid", "noexec", "nodev", "relatime", "ro"]),  # chapter: 6
)

# chapter: 3 {
# Files in /proc and /sys that tell about, or reach into, the host.
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                  "/proc/sysrq-trigger")
# }

# chapter: 6 {
# The devices a container may use (`linux.resources.devices`), as Docker's:
# none, then make any node, then use the nodes of DEVICES, the terminals
# (5:0 tty, 5:1 console, 5:2 ptmx, 136:* the pseudo-terminals) and tun.
DEVICE_RULES = (
    DeviceRule(allow=False),
    DeviceRule(True, "c", None, None, "m"), DeviceRule(True, "b", None, None, "m"),
    *(DeviceRule(True, "c", major, minor) for _, major, minor in DEVICES),
    DeviceRule(True, "c", 5, 1), DeviceRule(True, "c", 5, 2),
    DeviceRule(True, "c", 136, None), DeviceRule(True, "c", 10, 200),
)
# Docker's default capabilities: what root in a container keeps (capabilities(7)).
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
# }
