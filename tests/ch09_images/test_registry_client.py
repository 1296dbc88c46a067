# chapter: 9
"""Chapter 9: the registry client's decisions that need no registry."""

from __future__ import annotations

import base64
import json

import pytest

from dkr.image.registry import Registry, credentials_for, is_local, parse_challenge


def test_a_bearer_challenge_is_read_with_its_quoted_commas():
    header = ('Bearer realm="https://auth.example.com/token",service="registry.example.com",'
              'scope="repository:team/app:pull,push"')
    assert parse_challenge(header) == ("bearer", {
        "realm": "https://auth.example.com/token", "service": "registry.example.com",
        "scope": "repository:team/app:pull,push"})
    assert parse_challenge('Basic realm="Registry Realm"') == ("basic",
                                                               {"realm": "Registry Realm"})


@pytest.mark.parametrize("host, local", [
    ("localhost", True), ("127.0.0.1", True), ("127.8.9.10", True), ("[::1]", True),
    ("::1", True), ("10.0.0.1", False), ("registry.example.com", False),
    ("localhost.example.com", False), ("[2001:db8::1]", False)])
def test_plain_http_is_for_this_machine_only(host: str, local: bool):
    assert is_local(host) is local


def test_an_insecure_registry_is_one_the_user_names():
    assert Registry.for_name("example.com:5000", "example.com:5000", set()).insecure is False
    assert Registry.for_name("example.com:5000", "example.com:5000",
                             {"example.com:5000"}).insecure is True
    assert Registry.for_name("127.0.0.1:5000", "127.0.0.1:5000", set()).insecure is True


def test_logins_come_from_docker_s_config_file(tmp_path, monkeypatch):
    config = tmp_path / "config.json"
    pair = base64.b64encode(b"someone:pass:with:colons").decode()
    config.write_text(json.dumps({"auths": {"example.com": {"auth": pair},
                                            "https://index.docker.io/v1/": {"auth": pair}}}))
    monkeypatch.setenv("DKR_REGISTRY_AUTH", str(config))
    login = credentials_for("example.com")
    assert (login.username, login.password) == ("someone", "pass:with:colons")
    assert credentials_for("docker.io") == login  # Docker Hub under its old name
    assert credentials_for("other.example.com") is None
    assert login.basic() == "Basic " + pair
