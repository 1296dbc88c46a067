# chapter: 10
"""The limits of config.json that the container's process sets on itself.

`process.rlimits` and `process.oomScoreAdj` are set first, while the
process is still root with all of root's capabilities: raising a hard
limit or lowering the OOM score needs CAP_SYS_RESOURCE, which the
container itself may not keep. In a user namespace of its own the process
has no capability the host honours from its first instruction on, so dkr
sets them on it from outside (`pid`). (`linux.sysctl` is the mounts'
business: see dkr.mounts.write_sysctl.)
"""

from __future__ import annotations

import resource

from dkr.config import Process
from dkr.errors import DkrError
from dkr.linux.fs import write_file
from dkr.linux.syscall import call


def set_limits(process: Process, pid: int = 0) -> None:
    """prlimit(2) for each of `process.rlimits`, and the OOM score
    adjustment, of the process `pid` (0: this one)."""
    for limit in process.rlimits:
        number = getattr(resource, limit.type)  # the loader checked it is there
        try:
            call("prlimit", resource.prlimit, pid, number, (limit.soft, limit.hard))
        except (ValueError, PermissionError):  # ValueError: Python's for soft > hard
            hard = resource.getrlimit(number)[1]
            raise DkrError(f"config.json: process.rlimits: {limit.type} "
                           f"{limit.soft}:{limit.hard} is above dkr's own hard limit "
                           f"{hard} (or soft above hard), and raising a hard limit "
                           f"needs CAP_SYS_RESOURCE: give at most {hard}") from None
    if process.oom_score_adj is not None:
        write_file(f"/proc/{pid or 'self'}/oom_score_adj", str(process.oom_score_adj))
