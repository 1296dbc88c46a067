# chapter: 10
"""The limits of config.json that the container's process sets on itself.

`process.rlimits` and `process.oomScoreAdj` are set first, while the
process is still root with all of root's capabilities: raising a hard
limit or lowering the OOM score needs CAP_SYS_RESOURCE, which the
container itself may not keep. (`linux.sysctl` is the mounts' business:
see dkr.mounts.write_sysctl.)
"""

from __future__ import annotations

import resource

from dkr.config import Process
from dkr.errors import DkrError, shorten
from dkr.linux.fs import write_file
from dkr.linux.syscall import call


def set_limits(process: Process) -> None:
    """setrlimit(2) for each of `process.rlimits`; the OOM score adjustment."""
    for limit in process.rlimits:
        number = getattr(resource, limit.type, None)
        if number is None:
            raise DkrError(f"config.json: process.rlimits: no such resource "
                           f"{shorten(limit.type)!r} here")
        try:
            call("setrlimit", resource.setrlimit, number, (limit.soft, limit.hard))
        except ValueError:  # Python's word for EPERM here, and for soft > hard
            hard = resource.getrlimit(number)[1]
            raise DkrError(f"config.json: process.rlimits: {limit.type} "
                           f"{limit.soft}:{limit.hard} is above dkr's own hard limit "
                           f"{hard} (or soft above hard), and raising a hard limit "
                           f"needs CAP_SYS_RESOURCE: give at most {hard}") from None
    if process.oom_score_adj is not None:
        write_file("/proc/self/oom_score_adj", str(process.oom_score_adj))
