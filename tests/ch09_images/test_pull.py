# chapter: 9
"""Chapter 9: `dkr pull` from a real registry (Debian's docker-registry), with
each of its three ways of authenticating, then `dkr run IMAGE`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from registry import (Image, Registry, TokenServer, busybox_layer, htpasswd, oci_layout,
                      tar_of)

NET = ("--net", "none")
USER, PASSWORD = "reader", "s3cret pass"
CONFIG = {"Cmd": ["sh", "-c", "echo from the Cmd"], "Env": ["GREETING=hello"],
          "WorkingDir": "/srv"}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> dict[str, Path]:
    """The tests' images, as OCI layouts: busybox with a second layer (a file,
    a whiteout, a working directory), and a two-platform index of it."""
    tmp = tmp_path_factory.mktemp("layouts")
    base = busybox_layer(tmp)
    top = tar_of({"srv": None, "etc/motd": "from the image\n"}, whiteouts=("etc/.wh.group",))
    arm = tar_of({"srv": None, "etc/motd": "from the arm64 image\n"})
    return {
        "busybox": oci_layout(tmp / "busybox", "latest", Image([base, top], CONFIG)),
        "nobody": oci_layout(tmp / "nobody", "latest",
                             Image([base, top], {**CONFIG, "User": "nobody"})),
        "multi": oci_layout(tmp / "multi", "latest", Image([base, top], CONFIG),
                            Image([base, arm], CONFIG, architecture="arm64", variant="v8")),
    }


def started(directory: Path, layouts: dict[str, Path], auth: dict | None = None,
            creds: tuple[str, ...] = ()) -> Registry:
    directory.mkdir(exist_ok=True)
    registry = Registry(directory, auth).start()
    for name, layout in layouts.items():
        registry.push(layout, "latest", f"{name}:latest", *creds)
    return registry


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory, layouts):
    registry = started(tmp_path_factory.mktemp("anonymous"), layouts)
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def basic(tmp_path_factory, layouts):
    directory = tmp_path_factory.mktemp("basic")
    registry = started(directory, {"busybox": layouts["busybox"]},
                       htpasswd(directory, USER, PASSWORD), (f"{USER}:{PASSWORD}",))
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def token(tmp_path_factory, layouts):
    directory = tmp_path_factory.mktemp("token")
    server = TokenServer(directory, USER, PASSWORD).start()
    registry = started(directory, {"busybox": layouts["busybox"]}, server.registry_auth(),
                       (f"{USER}:{PASSWORD}",))
    registry.token_server = server
    yield registry
    registry.stop()
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> dict[str, str]:
    """dkr's environment with a data directory of the test's own, so that
    what it finds in the image store is what the test put there."""
    return {"DKR_DATA": str(tmp_path / "data"),
            "DKR_REGISTRY_AUTH": str(tmp_path / "auth.json")}


def tree(top: Path) -> dict[str, tuple]:
    """Each entry's type, mode, owner, size, mtime and content hash."""
    found = {}
    for path in [top, *sorted(top.rglob("*"))]:
        info = os.lstat(path)
        data = (os.readlink(path).encode() if stat.S_ISLNK(info.st_mode) else
                path.read_bytes() if stat.S_ISREG(info.st_mode) else b"")
        found[str(path.relative_to(top))] = (info.st_mode, info.st_uid, info.st_size,
                                             info.st_mtime_ns, info.st_rdev,
                                             hashlib.sha256(data).hexdigest())
    return found


def login(dkr, registry: Registry, store: dict[str, str], password: str = PASSWORD) -> None:
    result = dkr("login", registry.address, "-u", USER, "--password-stdin", input=password,
                 env=store, default_rootfs=True)
    assert result.returncode == 0, result.stderr


# Pull, then run, with each kind of registry ---------------------------------------


@pytest.mark.parametrize("kind", ["anonymous", "basic", "token"])
def test_pull_then_run(kind: str, dkr, store, request):
    registry = request.getfixturevalue(kind)
    if kind != "anonymous":
        login(dkr, registry, store)
    name = f"{registry.address}/busybox"
    pulled = dkr("pull", name, env=store, default_rootfs=True)
    assert (pulled.returncode, pulled.stdout.splitlines()[-1]) == (0, f"{name}:latest"), \
        pulled.stderr
    result = dkr("run", *NET, name, "sh", "-c", "echo hi", env=store, default_rootfs=True)
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")
    if kind == "token":  # one token, for the one scope, kept for every request
        assert registry.token_server.requests[-1].endswith(
            "scope=repository%3Abusybox%3Apull")


def test_a_registry_that_wants_a_login_says_so(dkr, store, basic):
    result = dkr("pull", f"{basic.address}/busybox", env=store, default_rootfs=True)
    assert (result.returncode, result.stderr) == (
        125, f"dkr: {basic.address} wants a login: `dkr login {basic.address}`, or add it "
             f"to {store['DKR_REGISTRY_AUTH']}\n")


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_a_wrong_password_is_refused_in_one_line(kind: str, dkr, store, request):
    registry = request.getfixturevalue(kind)
    login(dkr, registry, store, password="wrong")
    result = dkr("pull", f"{registry.address}/busybox", env=store, default_rootfs=True)
    assert result.returncode == 125
    assert result.stderr.count("\n") == 1 and "login" in result.stderr, result.stderr


# What the image brings ----------------------------------------------------------------


def test_the_image_config_gives_the_command_env_workdir_and_user(dkr, store, anonymous):
    name = f"{anonymous.address}/nobody"
    assert dkr("pull", "-q", name, env=store, default_rootfs=True).returncode == 0
    default = dkr("run", *NET, name, env=store, default_rootfs=True)
    assert (default.returncode, default.stdout) == (0, "from the Cmd\n")
    result = dkr("run", *NET, "-e", "EXTRA=1", name, "sh", "-c",
                 "pwd; id -un; echo $GREETING $EXTRA; cat /etc/motd; ls /etc/group",
                 env=store, default_rootfs=True)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "/srv\nnobody\nhello 1\nfrom the image\n",
        "ls: /etc/group: No such file or directory\n")  # the top layer's whiteout
    chosen = dkr("run", *NET, "-w", "/tmp", "-u", "root", name, "sh", "-c", "pwd; id -un",
                 env=store, default_rootfs=True)
    assert chosen.stdout == "/tmp\nroot\n"


def test_a_second_pull_takes_only_the_manifest(dkr, store, anonymous):
    name = f"{anonymous.address}/busybox"
    first = dkr("pull", name, env=store, default_rootfs=True)
    assert "Pull complete" in first.stdout and "Downloaded newer image" in first.stdout
    second = dkr("pull", name, env=store, default_rootfs=True)
    assert second.returncode == 0
    assert second.stdout.count("Already exists") == 2
    assert "Status: Image is up to date for" in second.stdout


def test_the_platform_of_a_multi_platform_image(dkr, store, anonymous):
    name = f"{anonymous.address}/multi"
    assert dkr("pull", "-q", name, env=store, default_rootfs=True).returncode == 0
    mine = dkr("run", *NET, name, "cat", "/etc/motd", env=store, default_rootfs=True)
    assert mine.stdout == "from the image\n"  # this machine's: linux/amd64
    arm = dkr("pull", "-q", "--platform", "linux/arm64", name, env=store, default_rootfs=True)
    assert arm.returncode == 0, arm.stderr
    other = dkr("run", *NET, name, "cat", "/etc/motd", env=store, default_rootfs=True)
    assert other.stdout == "from the arm64 image\n"
    missing = dkr("pull", "--platform", "linux/s390x", name, env=store, default_rootfs=True)
    assert (missing.returncode, missing.stderr) == (
        125, f"dkr: {name}:latest has no image for linux/s390x (it has: linux/amd64, "
             f"linux/arm64/v8): give --platform to choose one\n")


# Nothing trusted by name ---------------------------------------------------------------


def test_a_corrupted_blob_is_refused_and_nothing_is_kept(dkr, store, tmp_path, layouts):
    registry = started(tmp_path / "corrupt", {"busybox": layouts["busybox"]})
    try:
        largest = max(registry.blob_files(), key=lambda path: path.stat().st_size)
        data = bytearray(largest.read_bytes())
        data[len(data) // 2] ^= 0xFF
        largest.write_bytes(bytes(data))
        result = dkr("pull", f"{registry.address}/busybox", env=store, default_rootfs=True)
    finally:
        registry.stop()
    assert result.returncode == 125
    assert "blob content does not match its digest: expected sha256:" in result.stderr
    image = Path(store["DKR_DATA"]) / "image"
    assert largest.parent.parent.name not in {path.name for path in
                                              (image / "blobs" / "sha256").iterdir()}
    assert not list((image / "ingest").iterdir())
    assert dkr("images", "-q", env=store, default_rootfs=True).stdout == ""


def test_two_containers_of_one_image_never_see_each_others_writes(
        dkr, start_dkr, store, anonymous, tmp_path):
    name = f"{anonymous.address}/busybox"
    assert dkr("pull", "-q", name, env=store, default_rootfs=True).returncode == 0
    layers = Path(store["DKR_DATA"]) / "image" / "layers"
    before = tree(layers)
    first = start_dkr("run", *NET, "-v", f"{tmp_path}:/sync", name, "sh", "-c",
                      "mkdir /ours; echo first > /ours/mine; rm /etc/motd; echo ready; "
                      "for i in $(seq 600); do [ -e /sync/go ] && break; sleep 0.05; done; "
                      "ls /ours; ls /etc/motd", env=store, default_rootfs=True)
    assert "ready" in first.stdout.readline()
    second = dkr("run", *NET, name, "sh", "-c", "mkdir /ours && cat /etc/motd", env=store, default_rootfs=True)
    (tmp_path / "go").touch()
    out, err = first.communicate(timeout=30)
    assert (second.returncode, second.stdout) == (0, "from the image\n")
    assert (first.returncode, out) == (1, "mine\n")
    assert tree(layers) == before


def test_rmi_keeps_what_another_image_uses(dkr, store, anonymous):
    for name in ("busybox", "multi"):
        assert dkr("pull", "-q", f"{anonymous.address}/{name}", env=store, default_rootfs=True).returncode == 0
    layers = Path(store["DKR_DATA"]) / "image" / "layers"
    assert len(list(layers.iterdir())) == 2  # the two images share both layers
    listed = dkr("images", env=store, default_rootfs=True).stdout.splitlines()
    assert listed[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert sorted(line.split()[0] for line in listed[1:]) == [
        f"{anonymous.address}/busybox", f"{anonymous.address}/multi"]
    removed = dkr("rmi", f"{anonymous.address}/multi", env=store, default_rootfs=True)
    assert removed.returncode == 0, removed.stderr
    assert len(list(layers.iterdir())) == 2  # busybox still uses them
    assert dkr("run", *NET, f"{anonymous.address}/busybox", "true", env=store, default_rootfs=True).returncode == 0
    assert dkr("rmi", f"{anonymous.address}/busybox", env=store, default_rootfs=True).returncode == 0
    assert list(layers.iterdir()) == []
    assert list((Path(store["DKR_DATA"]) / "image" / "blobs" / "sha256").iterdir()) == []


def test_an_image_not_pulled_is_named_and_a_command_stays_a_command(dkr, store):
    missing = dkr("run", *NET, "127.0.0.1:1/app:1", "true", env=store, default_rootfs=True)
    assert (missing.returncode, missing.stderr) == (
        125, "dkr: no such image here: 127.0.0.1:1/app:1 (pull it first: `python3 -m dkr "
             "pull 127.0.0.1:1/app:1`)\n")
    command = dkr("run", *NET, "echo", "a command of the default rootfs", env=store, default_rootfs=True)
    assert (command.returncode, command.stdout) == (0, "a command of the default rootfs\n")


def test_nothing_answers_is_one_line(dkr, store):
    result = dkr("pull", "127.0.0.1:1/busybox", env=store, default_rootfs=True)
    assert (result.returncode, result.stderr) == (
        125, "dkr: cannot connect to 127.0.0.1:1: nothing answers there (is the address "
             "right?)\n")


def test_skopeo_sees_what_dkr_pulled_as_the_registry_has_it(dkr, store, anonymous, tmp_path):
    """The manifest dkr keeps is byte for byte the registry's."""
    name = f"{anonymous.address}/busybox"
    assert dkr("pull", "-q", name, env=store, default_rootfs=True).returncode == 0
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                          f"docker://{name}"], check=True, capture_output=True).stdout
    digest = hashlib.sha256(raw).hexdigest()
    kept = Path(store["DKR_DATA"]) / "image" / "blobs" / "sha256" / digest
    assert kept.read_bytes() == raw
    record = json.loads((Path(store["DKR_DATA"]) / "image" / "images.json").read_text())
    assert record["names"] == {f"{name}:latest": json.loads(raw)["config"]["digest"]}
    shutil.rmtree(tmp_path / "data")


# A flaky network, and hostile layers -------------------------------------------------


def test_a_download_cut_off_goes_on_from_where_it_stopped(dkr, store, tmp_path, layouts):
    """A 3 MB layer of random bytes (gzip cannot shrink it), cut off after
    its first megabyte: dkr asks for the rest with a Range request."""
    from registry import CuttingProxy

    noise = tar_of({"noise": os.urandom(3 << 20)})
    layout = oci_layout(tmp_path / "large", "latest",
                        Image([busybox_layer(tmp_path), noise], {"Cmd": ["sh"]}))
    registry = started(tmp_path / "registry", {"large": layout})
    proxy = CuttingProxy(registry.address).start()
    try:
        result = dkr("pull", f"{proxy.address}/large", env=store, default_rootfs=True)
    finally:
        proxy.stop()
        registry.stop()
    assert result.returncode == 0, result.stderr
    assert "bytes=1048576-" in proxy.ranges
    run = dkr("run", *NET, f"{proxy.address}/large", "wc", "-c", "/noise", env=store,
              default_rootfs=True)
    assert (run.returncode, run.stdout.split()[:1], run.stderr) == (0, [str(3 << 20)], "")


def test_a_busy_registry_is_asked_again(dkr, store, anonymous):
    """503, then 429: dkr waits (as Retry-After says, longer each time) and
    asks again, for the manifest and for each blob."""
    from registry import CuttingProxy

    proxy = CuttingProxy(anonymous.address, mode="busy").start()
    try:
        result = dkr("pull", f"{proxy.address}/busybox", env=store, default_rootfs=True)
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    blobs = [path for path in proxy.paths if "/blobs/" in path]
    assert blobs and all(proxy.paths.count(path) == 3 for path in blobs)


def test_blobs_sent_elsewhere_get_no_authorization(dkr, store, basic):
    """A registry may send blobs to storage on another host (a CDN): the
    registry's login goes to the registry only."""
    from registry import CuttingProxy

    proxy = CuttingProxy(basic.address, mode="redirect").start()
    try:
        login(dkr, proxy, store)
        result = dkr("pull", f"{proxy.address}/busybox", env=store, default_rootfs=True)
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    assert len(proxy.storage_authorization) == 3  # the config and two layers
    assert set(proxy.storage_authorization) == {""}


ESCAPES = {
    "dot-dot": lambda: tar_of({"../escaped": "x"}),
    "through-a-symlink": lambda: _tar_with_symlink("link", "/", "link/escaped"),
    "symlink-to-dot-dot": lambda: _tar_with_symlink("up", "..", "up/escaped"),
}


def _tar_with_symlink(name: str, target: str, then: str) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        link = tarfile.TarInfo(name)
        link.type, link.linkname = tarfile.SYMTYPE, target
        tar.addfile(link)
        data = b"escaped\n"
        info = tarfile.TarInfo(then)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("kind", sorted(ESCAPES))
def test_a_layer_that_would_escape_writes_nothing_outside_the_store(
        kind: str, dkr, store, tmp_path, anonymous):
    """Pulled like any image: refused at the entry, nothing written outside
    the layer, the partial layer removed, no image recorded. (The unpacker's
    own tests try some fifty ways out: test_unpack.py.)"""
    layout = oci_layout(tmp_path / "evil", "latest", Image([ESCAPES[kind]()], CONFIG))
    anonymous.push(layout, "latest", f"evil-{kind}:latest")
    Path(store["DKR_DATA"]).mkdir()
    before = tree(tmp_path)
    result = dkr("pull", f"{anonymous.address}/evil-{kind}", env=store, default_rootfs=True)
    assert result.returncode == 125
    assert result.stderr.count("\n") == 1 and "escaped" in result.stderr, result.stderr
    after = {path: entry for path, entry in tree(tmp_path).items()
             if not path.startswith("data")}
    assert after == {path: entry for path, entry in before.items()
                     if not path.startswith("data")}
    assert not (Path("/") / "escaped").exists()
    layers = Path(store["DKR_DATA"]) / "image" / "layers"
    assert list(layers.iterdir()) == []
    assert dkr("images", "-q", env=store).stdout == ""
