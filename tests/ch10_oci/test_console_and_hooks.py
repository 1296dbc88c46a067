# chapter: 10
"""Chapter 10: the terminal sent over --console-socket, and the bundle's hooks,
each run at its point with the container's state on its standard input."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bundles import caller, read_all, receive_terminal, write_bundle  # noqa: F401


def test_the_terminal_goes_to_the_console_socket(caller, rootfs, tmp_path):
    def with_terminal(config: dict) -> None:
        config["process"]["terminal"] = True

    bundle = write_bundle(tmp_path / "b", rootfs,
                          ["sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo all-tty"],
                          with_terminal)
    sock = tmp_path / "console.sock"
    thread, received = receive_terminal(sock)
    pid = caller.create(bundle, "tty1", "--console-socket", str(sock))
    thread.join(timeout=10)
    message, fds, _, _ = received[0]
    assert message == b"/dev/console" and len(fds) == 1
    caller("start", "tty1")
    output = read_all(fds[0]).decode()
    os.close(fds[0])
    assert caller.wait(pid) == 0
    assert output.split() == ["/dev/pts/0", "all-tty"]


def test_a_terminal_without_a_console_socket_is_refused(caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["true"],
                          lambda config: config["process"].update(terminal=True))
    done = caller("create", "--bundle", str(bundle), "tty2", check=False)
    assert done.returncode == 125 and "--console-socket" in done.stderr
    assert not (caller.state_root / "tty2").exists()


def hook(log: Path, point: str) -> dict:
    """A hook that appends its point and the state it was given to `log`
    (a path both the host and the container see)."""
    script = f'state=$(cat); echo "{point} $state" >> {log}'  # one write: lines stay whole
    return {"path": "/bin/sh", "args": ["sh", "-c", script]}


def test_every_hook_runs_at_its_point_with_the_state(caller, rootfs, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    log = shared / "hooks.log"

    def with_hooks(config: dict) -> None:
        config["mounts"].append({"destination": str(shared), "type": "bind",
                                 "source": str(shared), "options": ["rbind"]})
        config["hooks"] = {point: [hook(log, point)] for point in (
            "prestart", "createRuntime", "createContainer", "startContainer",
            "poststart", "poststop")}

    bundle = write_bundle(tmp_path / "b", rootfs,
                          ["sh", "-c", f"echo command >> {log}"], with_hooks)
    pid = caller.create(bundle, "h1")
    created = [line.split()[0] for line in log.read_text().splitlines()]
    assert created == ["prestart", "createRuntime", "createContainer"]
    caller("start", "h1")
    assert caller.wait(pid) == 0
    caller("delete", "h1")
    lines = log.read_text().splitlines()
    points = [line.split()[0] for line in lines]
    assert points[:4] == ["prestart", "createRuntime", "createContainer",
                          "startContainer"]
    assert set(points[4:6]) == {"command", "poststart"}  # they race, as in runc
    assert points[6:] == ["poststop"]
    states = {line.split()[0]: json.loads(line.split(" ", 1)[1])
              for line in lines if line.split()[0] != "command"}
    assert states["prestart"]["pid"] == pid
    assert states["prestart"]["id"] == "h1"
    assert states["prestart"]["bundle"] == str(bundle)
    assert states["poststop"]["status"] == "stopped"
    # The command may have ended by then; poststart is told of the start.
    assert (states["poststart"]["status"], states["poststart"]["pid"]) == ("running", pid)


def test_a_failing_hook_fails_create_and_leaves_nothing(caller, rootfs, tmp_path):
    def failing(config: dict) -> None:
        config["hooks"] = {"createRuntime": [
            {"path": "/bin/sh", "args": ["sh", "-c", "echo no network >&2; exit 4"]}]}

    bundle = write_bundle(tmp_path / "b", rootfs, ["true"], failing)
    done = caller("create", "--bundle", str(bundle), "h2", check=False)
    assert done.returncode == 125
    assert done.stderr == ("dkr: createRuntime hook /bin/sh failed with status 4: "
                           "no network\n")
    assert not (caller.state_root / "h2").exists()


def test_a_hook_that_hangs_is_ended_at_its_timeout(caller, rootfs, tmp_path):
    def hanging(config: dict) -> None:
        config["hooks"] = {"prestart": [
            {"path": "/bin/sleep", "args": ["sleep", "60"], "timeout": 1}]}

    bundle = write_bundle(tmp_path / "b", rootfs, ["true"], hanging)
    done = caller("create", "--bundle", str(bundle), "h3", check=False)
    assert done.returncode == 125
    assert done.stderr == "dkr: prestart hook /bin/sleep did not finish within 1 s\n"


def test_a_failing_poststart_or_poststop_hook_is_a_warning(caller, rootfs, tmp_path):
    """The spec: the runtime logs a warning, and the remaining hooks and
    the lifecycle continue as if the hook had succeeded."""
    log = tmp_path / "hooks.log"
    failing = {"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 3"]}

    def with_hooks(config: dict) -> None:
        config["hooks"] = {"poststart": [failing, hook(log, "poststart")],
                           "poststop": [failing, hook(log, "poststop")]}

    bundle = write_bundle(tmp_path / "b", rootfs, ["sh", "-c", "exit 5"], with_hooks)
    pid = caller.create(bundle, "h4")
    started = caller("start", "h4")
    assert started.stderr == ("dkr: warning: poststart hook /bin/sh failed with "
                              "status 3: broken\n")
    assert caller.wait(pid) == 5  # the container was not killed for it
    deleted = caller("delete", "h4")
    assert "warning: poststop hook /bin/sh failed with status 3" in deleted.stderr
    assert [line.split()[0] for line in log.read_text().splitlines()] == [
        "poststart", "poststop"]
