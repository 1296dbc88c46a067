# chapter: 9
"""Chapter 9: `dkr load -i` of an OCI layout and of a `docker save` tar file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from registry import Image, busybox_layer, oci_layout, tar_of

NET = ("--net", "none")


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("load")
    top = tar_of({"etc/motd": "loaded\n"})
    return oci_layout(tmp / "app", "1.0", Image([busybox_layer(tmp), top],
                                               {"Cmd": ["cat", "/etc/motd"]}))


@pytest.fixture
def store(tmp_path: Path) -> dict[str, str]:
    return {"DKR_DATA": str(tmp_path / "data")}


def test_an_oci_layout_loads_under_its_ref_name(dkr, store, layout):
    loaded = dkr("load", "-i", str(layout), env=store)
    assert (loaded.returncode, loaded.stdout, loaded.stderr) == (
        0, "Loaded image: localhost/app:1.0\n", "")
    result = dkr("run", *NET, "localhost/app:1.0", env=store, default_rootfs=True)
    assert (result.returncode, result.stdout) == (0, "loaded\n")


def test_a_docker_save_tar_file_loads_under_its_repo_tags(dkr, store, layout, tmp_path):
    archive = tmp_path / "saved.tar"
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{layout}:1.0",
                    f"docker-archive:{archive}:example.com/team/app:2"], check=True)
    loaded = dkr("load", "-i", str(archive), env=store)
    assert (loaded.returncode, loaded.stdout) == (
        0, "Loaded image: example.com/team/app:2\n"), loaded.stderr
    result = dkr("run", *NET, "example.com/team/app:2", env=store, default_rootfs=True)
    assert (result.returncode, result.stdout) == (0, "loaded\n")
    listed = dkr("images", env=store).stdout.splitlines()
    assert listed[1].split()[:2] == ["example.com/team/app", "2"]


def test_a_file_that_is_neither_is_one_line(dkr, store, tmp_path):
    junk = tmp_path / "junk"
    junk.write_text("not a tar file")
    result = dkr("load", "-i", str(junk), env=store)
    assert result.returncode == 125
    assert result.stderr.startswith(f"dkr: cannot read {junk} as a `docker save` tar file")
    missing = dkr("load", "-i", str(tmp_path / "nothing"), env=store)
    assert (missing.returncode, missing.stderr) == (
        125, f"dkr: no such file or directory: {tmp_path / 'nothing'}\n")
