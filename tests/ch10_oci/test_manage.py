# chapter: 10
"""Chapter 10: Docker's commands on `dkr run`'s own containers: run -d and
its monitor, --name, ps, stop, rm and logs; and `dkr ps`'s two readings."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request

from bundles import caller, write_bundle  # noqa: F401  (caller: a fixture)
from conftest import alive, free_port, take_back_after_killed_dkr, wait_for_line

# A command that ends on SIGTERM with a status of its own.
TRAPS_TERM = 'trap "echo bye; exit 3" TERM; echo hello; echo oops >&2; ' \
             'while :; do sleep 0.1; done'


def listed(dkr, *options: str) -> list[dict]:
    done = dkr("ps", "--format", "json", *options)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_for_log(dkr, name: str, text: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = dkr("logs", name).stdout
        if text in log:
            return log
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the log of {name}: {log!r}")


def test_a_detached_container_runs_under_its_monitor_to_stop_and_rm(dkr):
    started = dkr("run", "-d", "--name", "web", "--net", "none", "sh", "-c", TRAPS_TERM)
    assert started.returncode == 0, started.stderr
    container_id = started.stdout.strip()
    assert len(container_id) == 12 and started.stderr == ""
    [shown] = listed(dkr)
    assert shown["id"] == container_id and shown["name"] == "web"
    assert shown["status"].startswith("Up ")
    assert dkr("ps", "-q").stdout == f"{container_id}\n"
    assert "hello\noops\n" in wait_for_log(dkr, "web", "oops")
    stopped = dkr("stop", "web")
    assert (stopped.returncode, stopped.stdout) == (0, "web\n"), stopped.stderr
    assert listed(dkr) == []  # ended: only -a shows it
    [ended] = listed(dkr, "-a")
    assert ended["exit_code"] == 3 and ended["status"].startswith("Exited (3)")
    assert dkr("logs", container_id[:5]).stdout == "hello\noops\nbye\n"
    table = dkr("ps", "-a").stdout.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED",
                                "STATUS", "NAMES"]
    assert container_id in table[1] and table[1].endswith("web")
    assert dkr("rm", "web").stdout == "web\n"
    assert listed(dkr, "-a") == []


def test_stop_kills_what_ignores_sigterm_after_its_timeout(dkr):
    # PID 1 of a namespace ignores a signal it has no handler for.
    dkr("run", "-d", "--name", "stubborn", "--net", "none", "sleep", "100")
    began = time.monotonic()
    assert dkr("stop", "-t", "1", "stubborn").returncode == 0
    assert 1 <= time.monotonic() - began < 8
    [ended] = listed(dkr, "-a")
    assert ended["exit_code"] == 137
    dkr("rm", "stubborn")


def test_a_name_is_one_containers_and_rm_refuses_a_running_one(dkr):
    dkr("run", "-d", "--name", "taken", "--net", "none", "sleep", "100")
    again = dkr("run", "-d", "--name", "taken", "--net", "none", "true")
    assert again.returncode == 125
    assert "the name 'taken' is in use already" in again.stderr
    refused = dkr("rm", "taken")
    assert refused.returncode == 1 and "it is running" in refused.stderr
    assert dkr("rm", "-f", "taken").returncode == 0
    assert listed(dkr, "-a") == []
    unknown = dkr("stop", "nosuch")
    assert unknown.returncode == 1 and "no such container: nosuch" in unknown.stderr


def test_run_d_reports_a_command_that_cannot_start_and_keeps_nothing(dkr):
    missing = dkr("run", "-d", "--net", "none", "nosuchcommand")
    assert missing.returncode == 127 and missing.stdout == ""
    assert "executable file not found" in missing.stderr
    assert listed(dkr, "-a") == []
    tty = dkr("run", "-d", "-t", "--net", "none", "true")
    assert tty.returncode == 125 and "drop -t" in tty.stderr


def test_run_d_rm_leaves_no_record_once_it_ends(dkr):
    dkr("run", "-d", "--rm", "--name", "brief", "--net", "none", "true")
    deadline = time.monotonic() + 10
    while listed(dkr, "-a") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert listed(dkr, "-a") == []


def test_logs_follow_prints_until_the_container_ends(dkr):
    dkr("run", "-d", "--name", "counter", "--net", "none",
        "sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done")
    assert dkr("logs", "-f", "counter", timeout=20).stdout == "1\n2\n3\n"
    dkr("rm", "counter")


def test_the_monitor_keeps_a_published_port(dkr):
    port = free_port()
    serve = 'mkdir /www && echo "hello from $(hostname)" > /www/index.html && ' \
            'httpd -f -p 80 -h /www'
    dkr("run", "-d", "--name", "served", "--hostname", "served", "-p", f"{port}:80",
        "sh", "-c", serve)
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                assert reply.read() == b"hello from served\n"
            break
        except OSError:
            assert time.monotonic() < deadline, "the published port never answered"
            time.sleep(0.1)
    assert dkr("stop", "-t", "1", "served").returncode == 0
    dkr("rm", "served")


def test_a_foreground_container_is_listed_and_stopped_by_name(dkr, start_dkr):
    process = start_dkr("run", "--name", "fg", "--net", "none",
                        "sh", "-c", f"{TRAPS_TERM.replace('while', 'echo ready; while')}")
    wait_for_line(process, "ready")
    [shown] = listed(dkr)
    assert shown["name"] == "fg" and shown["status"].startswith("Up ")
    assert "dkr run -d" in dkr("logs", "fg").stderr
    assert dkr("stop", "fg").returncode == 0
    assert process.wait(timeout=10) == 3
    assert listed(dkr, "-a") == []  # a foreground container leaves nothing


def test_ps_with_an_id_is_runcs_and_without_it_dockers(dkr, caller, rootfs, tmp_path):
    bundle = write_bundle(tmp_path / "b", rootfs, ["sleep", "100"])
    pid = caller.create(bundle, "engines-one")
    caller("start", "engines-one")
    dkr("run", "-d", "--name", "peoples-one", "--net", "none", "sleep", "100")
    assert json.loads(caller("ps", "--format", "json", "engines-one").stdout) == [pid]
    assert [item["name"] for item in listed(dkr)] == ["peoples-one"]
    refused = dkr("ps", "-a", "engines-one")
    assert refused.returncode == 125 and "give it no ID" in refused.stderr
    caller("delete", "--force", "engines-one")
    dkr("rm", "-f", "peoples-one")


def test_a_killed_monitors_container_ends_and_is_taken_back(dkr, data_dir):
    dkr("run", "-d", "--name", "orphan", "--net", "none", "sleep", "100")
    [shown] = listed(dkr)
    record = data_dir / "containers" / shown["id"]
    monitor = int((record / "owner").read_text().split()[0])
    os.kill(monitor, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(shown["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(shown["pid"])  # the container dies with its monitor
    [dead] = listed(dkr, "-a")
    assert dead["status"] == "Dead"
    take_back_after_killed_dkr(dkr)  # the next dkr run takes back all it left
    assert listed(dkr, "-a") == []
