# chapter: 10
"""The bundle's hooks: programs the runtime runs at points of the life.

config.json's `hooks` names programs for six points. Each gets the
container's state (the JSON of `dkr state`) on its standard input, and a
hook that fails, or outlives its `timeout`, fails the step it belongs to:

    prestart, createRuntime   on the host, once the namespaces exist
    createContainer           in the container, before its root is pivoted
    startContainer            in the container, when `start` lets it go
    poststart                 on the host, after `start`
    poststop                  on the host, when `delete` removes it

Docker relies on them: its bridge networking is a prestart hook
(`libnetwork-setkey`) that finds the container's network namespace by the
pid in the state. A hook's `args[0]` is its argv[0], not its path.

The child asks dkr for the host's hooks with a "hooks" message, once its
namespaces exist, and dkr's "go" carries the state, which the child then
hands to the hooks it runs itself.
"""

from __future__ import annotations

import json
import sys

from dkr import OCI_VERSION
from dkr.channel import Channel
from dkr.config import Hook, Spec
from dkr.errors import DkrError, describe, shorten, warn

# How long a hook without a timeout may take: a hook that hangs should not
# hang its engine for ever.
DEFAULT_TIMEOUT = 120.0


def state_json(container_id: str, status: str, pid: int, spec: Spec) -> str:
    """The state the runtime spec defines, as a hook and `dkr state` see it."""
    return json.dumps({"ociVersion": OCI_VERSION, "id": container_id, "status": status,
                       "pid": pid, "bundle": spec.bundle,
                       "annotations": spec.annotations})


def prepare(spec: Spec) -> None:
    """Before fork: load what running a hook needs, which the child could
    not import once its root is the container's."""
    if spec.hooks.any():
        __import__("subprocess")  # kept in sys.modules for the child


def run(hooks: list[Hook], state: str, point: str, warn_only: bool = False) -> None:
    """Run each hook in turn with `state` on its standard input; DkrError
    naming the hook if one fails or times out. With `warn_only` (poststart,
    poststop: the spec's "log a warning, but the remaining hooks and
    lifecycle continue"), a failure is a warning and the next hook runs."""
    for hook in hooks:
        try:
            _run_one(hook, state, point)
        except DkrError as error:
            if not warn_only:
                raise
            warn(str(error))


def _run_one(hook: Hook, state: str, point: str) -> None:
    import subprocess

    shown = f"{point} hook {shorten(hook.path)}"
    try:
        done = subprocess.run(
            hook.args or [hook.path], executable=hook.path, input=state.encode(),
            env=dict(item.partition("=")[::2] for item in hook.env),
            stdout=sys.stderr.fileno() if sys.stderr else None,
            stderr=subprocess.PIPE, timeout=hook.timeout or DEFAULT_TIMEOUT,
            close_fds=True)
    except subprocess.TimeoutExpired:
        raise DkrError(f"{shown} did not finish within "
                       f"{hook.timeout or DEFAULT_TIMEOUT:g} s") from None
    except OSError as error:
        raise DkrError(f"{shown}: {describe(error)}") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        why = f": {shorten(said[-1])}" if said else ""
        raise DkrError(f"{shown} failed with status {done.returncode}{why}")


def run_on_host(spec: Spec, container_id: str, pid: int) -> str:
    """In dkr, at the child's "hooks": prestart and createRuntime; the state
    for the child's own hooks."""
    state = state_json(container_id, "created", pid, spec)
    run(spec.hooks.prestart, state, "prestart")
    run(spec.hooks.create_runtime, state, "createRuntime")
    return state


def run_before_mounts(spec: Spec, channel: Channel) -> str:
    """In the child, its namespaces made: have dkr run the host's hooks,
    then run createContainer; the state, for startContainer."""
    if not spec.hooks.any():
        return ""
    state = channel.ask("hooks").text  # no "go": dkr's hook failed, and dkr says so
    run(spec.hooks.create_container, state, "createContainer")
    return state
