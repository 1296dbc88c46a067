# chapter: 9
"""Chapter 9: manifests, indexes and configs as dkr reads them (no registry)."""

from __future__ import annotations

import json

import pytest

from dkr.errors import DkrError
from dkr.image import manifest
from dkr.image.manifest import Descriptor, Index, Manifest, Platform
from dkr.image.store import Digest

DIGEST = "sha256:" + "a" * 64


def descriptor(media_type: str, **more) -> dict:
    return {"mediaType": media_type, "digest": DIGEST, "size": 1, **more}


def test_an_oci_manifest_and_a_docker_one_read_alike():
    for kind, layer in ((manifest.OCI_MANIFEST, "application/vnd.oci.image.layer.v1.tar+gzip"),
                        (manifest.DOCKER_MANIFEST,
                         "application/vnd.docker.image.rootfs.diff.tar.gzip")):
        data = json.dumps({"schemaVersion": 2, "config": descriptor(manifest.CONFIGS[0]),
                           "layers": [descriptor(layer)]}).encode()
        parsed = manifest.parse(data, kind, "here")
        assert isinstance(parsed, Manifest)
        assert parsed.layers == [Descriptor(layer, Digest.parse(DIGEST), 1)]
        assert manifest.compression(parsed.layers[0], "here") == "gzip"


def test_an_index_chooses_this_machines_platform_and_says_what_it_has():
    data = json.dumps({"schemaVersion": 2, "manifests": [
        descriptor(manifest.OCI_MANIFEST, platform={"os": "linux", "architecture": "amd64"}),
        descriptor(manifest.OCI_MANIFEST, platform={"os": "linux", "architecture": "arm64",
                                                    "variant": "v8"})]}).encode()
    index = manifest.parse(data, manifest.DOCKER_LIST, "app")
    assert isinstance(index, Index)
    assert manifest.choose(index, Platform.parse("linux/arm64"), "app").platform.variant == "v8"
    assert manifest.choose(index, Platform.parse("linux/arm64/v8"), "app").platform.variant == "v8"
    with pytest.raises(DkrError, match=r"^app has no image for linux/arm/v7 \(it has: "
                                       r"linux/amd64, linux/arm64/v8\): give --platform"):
        manifest.choose(index, Platform.parse("linux/arm/v7"), "app")


@pytest.mark.parametrize("data, kind, says", [
    (b'{"schemaVersion": 1, "fsLayers": []}', "application/vnd.docker.distribution.manifest.v1+prettyjws",
     "app is a Docker schema 1 image, which dkr (like current Docker) does not pull"),
    (b"not json", manifest.OCI_MANIFEST, "app is not JSON: "),
    (b"[]", manifest.OCI_MANIFEST, "app: give a JSON object"),
    (b'{"layers": []}', manifest.OCI_MANIFEST, "app: config: give an object"),
    (json.dumps({"config": descriptor(manifest.CONFIGS[0], digest="sha256:../../etc"),
                 "layers": []}).encode(), manifest.OCI_MANIFEST, "app: config: digest: "),
    (json.dumps({"config": descriptor(manifest.CONFIGS[0], size=-1), "layers": []}).encode(),
     manifest.OCI_MANIFEST, "app: config: size: give a whole number, 0 or more"),
    (b"{}", "application/vnd.example+json", "app has the media type 'application/vnd.example+json'"),
])
def test_what_is_not_a_manifest_is_one_line(data: bytes, kind: str, says: str):
    with pytest.raises(DkrError) as raised:
        manifest.parse(data, kind, "app")
    assert str(raised.value).startswith(says) and "\n" not in str(raised.value)


def test_a_zstd_layer_is_refused_by_name():
    layer = Descriptor("application/vnd.oci.image.layer.v1.tar+zstd", Digest.parse(DIGEST), 1)
    with pytest.raises(DkrError, match=r"is zstd-compressed \(application/vnd\.oci\.image\."
                                       r"layer\.v1\.tar\+zstd\), which this Python cannot read"):
        manifest.compression(layer, "app")


def test_a_config_gives_what_run_needs():
    config = manifest.parse_config(json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-01-02T03:04:05Z",
        "config": {"Entrypoint": ["/app"], "Cmd": ["--serve"], "Env": ["A=1"],
                   "WorkingDir": "/srv", "User": "1000:1000", "ExposedPorts": {"80/tcp": {}}},
        "rootfs": {"type": "layers", "diff_ids": [DIGEST]}}).encode(), "app")
    assert (config.entrypoint, config.cmd, config.env, config.working_dir, config.user,
            config.exposed_ports) == (["/app"], ["--serve"], ["A=1"], "/srv", "1000:1000",
                                      ["80/tcp"])
    assert str(config.platform) == "linux/amd64"
