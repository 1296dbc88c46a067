# chapter: 9
"""Chapter 9: image names parsed and completed as Docker does.

The cases come from distribution/reference's own tables (reference_test.go
and normalize_test.go: TestReferenceParse, TestValidateReferenceName,
TestValidateRemoteName, TestParseRepositoryInfo), written out again here
with what dkr must make of each: the full reference, and the familiar form
Docker shows. No root, no network.
"""

from __future__ import annotations

import pytest

from dkr.errors import EXIT_DKR_FAILED, SHOWN_LENGTH
from dkr.image.reference import BadReference, Reference, parse

SHA = "sha256:" + "f" * 64
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"
SONG = "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"

# id, text, registry, repository, tag, digest, familiar form
VALID = [
    ("official", "busybox", "docker.io", "library/busybox", "latest", None,
     "busybox:latest"),
    ("official-tag", "busybox:1.36", "docker.io", "library/busybox", "1.36", None,
     "busybox:1.36"),
    ("hub-official", "docker.io/busybox", "docker.io", "library/busybox",
     "latest", None, "busybox:latest"),
    ("hub-library", "docker.io/library/debian", "docker.io", "library/debian",
     "latest", None, "debian:latest"),
    ("legacy-hub", "index.docker.io/library/debian", "docker.io",
     "library/debian", "latest", None, "debian:latest"),
    ("legacy-hub-official", "index.docker.io/debian", "docker.io",
     "library/debian", "latest", None, "debian:latest"),
    ("library-prefix", "library/ubuntu", "docker.io", "library/ubuntu", "latest",
     None, "ubuntu:latest"),
    ("user-repo", "docker/docker", "docker.io", "docker/docker", "latest", None,
     "docker/docker:latest"),
    ("user-repo-tag", "user/app:1", "docker.io", "user/app", "1", None,
     "user/app:1"),
    ("other-library", "other/library", "docker.io", "other/library", "latest",
     None, "other/library:latest"),
    ("library-nested", "library/foo/bar", "docker.io", "library/foo/bar",
     "latest", None, "library/foo/bar:latest"),
    ("hub-nested", "store/foo/bar", "docker.io", "store/foo/bar", "latest", None,
     "store/foo/bar:latest"),
    ("localhost", "localhost/debian", "localhost", "debian", "latest", None,
     "localhost/debian:latest"),
    ("localhost-port", "localhost:5000/library/debian", "localhost:5000",
     "library/debian", "latest", None, "localhost:5000/library/debian:latest"),
    ("ipv4-port-no-library", "127.0.0.1:5000/busybox", "127.0.0.1:5000",
     "busybox", "latest", None, "127.0.0.1:5000/busybox:latest"),
    ("ipv4-alone-is-a-repo", "192.168.0.1", "docker.io", "library/192.168.0.1",
     "latest", None, "192.168.0.1:latest"),
    ("ipv4-alone-port-is-a-tag", "192.168.0.1:80", "docker.io",
     "library/192.168.0.1", "80", None, "192.168.0.1:80"),
    ("ipv4-registry", "192.168.1.1/repo", "192.168.1.1", "repo", "latest", None,
     "192.168.1.1/repo:latest"),
    ("ipv4-port-tag", "192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo",
     "5050", None, "192.168.1.1:5000/repo:5050"),
    ("dotted-alone-port-is-a-tag", "test.com:5000", "docker.io",
     "library/test.com", "5000", None, "test.com:5000"),
    ("host-port-registry", "test:5000/repo", "test:5000", "repo", "latest", None,
     "test:5000/repo:latest"),
    ("underscore-not-a-host", "foo/foo_bar.com:8080", "docker.io",
     "foo/foo_bar.com", "8080", None, "foo/foo_bar.com:8080"),
    ("underscore-alone", "foo_bar.com:8080", "docker.io", "library/foo_bar.com",
     "8080", None, "foo_bar.com:8080"),
    ("domain-port-path", "example.com:8000/private/moonbase", "example.com:8000",
     "private/moonbase", "latest", None, "example.com:8000/private/moonbase:latest"),
    ("deep-path", "sub-dom1.foo.com/bar/baz/quux:some-long-tag",
     "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag", None,
     "sub-dom1.foo.com/bar/baz/quux:some-long-tag"),
    ("dotted-path-and-tag", "b.gcr.io/test.example.com/my-app:test.example.com",
     "b.gcr.io", "test.example.com/my-app", "test.example.com", None,
     "b.gcr.io/test.example.com/my-app:test.example.com"),
    ("punycode", "xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage",
     "xn--n3h.com", None, "xn--n3h.com/myimage:xn--n3h.com"),
    ("ipv6-loopback", "[::1]:5000/repo", "[::1]:5000", "repo", "latest", None,
     "[::1]:5000/repo:latest"),
    ("ipv6-no-port", "[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest", None,
     "[2001:db8::1]/repo:latest"),
    ("ipv6-full", "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
     "[fc00:1:2:3:4:5:6:7]:5000", "library/debian", "latest", None,
     "[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest"),
    ("capitals-make-a-host", "LOCALDOMAIN/debian", "LOCALDOMAIN", "debian",
     "latest", None, "LOCALDOMAIN/debian:latest"),
    ("capital-first-is-a-host", "Docker/docker", "Docker", "docker", "latest",
     None, "Docker/docker:latest"),
    ("tag-keeps-capitals", "lowercase:Uppercase", "docker.io", "library/lowercase",
     "Uppercase", None, "lowercase:Uppercase"),
    ("many-hyphens", "docker---rules/docker", "docker.io", "docker---rules/docker",
     "latest", None, "docker---rules/docker:latest"),
    ("double-underscore", "dock__er/docker", "docker.io", "dock__er/docker",
     "latest", None, "dock__er/docker:latest"),
    ("one-letter", "jess/t", "docker.io", "jess/t", "latest", None, "jess/t:latest"),
    ("64-not-hex", SONG, "docker.io", f"library/{SONG}", "latest", None,
     f"{SONG}:latest"),
    ("64-hex-with-registry", f"docker.io/{HEX64}", "docker.io", f"library/{HEX64}",
     "latest", None, f"{HEX64}:latest"),
    ("digest-no-tag", f"busybox@{SHA}", "docker.io", "library/busybox", None, SHA,
     f"busybox@{SHA}"),
    ("tag-and-digest", f"busybox:latest@{SHA}", "docker.io", "library/busybox",
     "latest", SHA, f"busybox:latest@{SHA}"),
    ("port-tag-digest", f"test:5000/repo:tag@{SHA}", "test:5000", "repo", "tag",
     SHA, f"test:5000/repo:tag@{SHA}"),
    ("ipv6-tag-digest", f"[2001:db8::1]:5000/repo:tag@{SHA}", "[2001:db8::1]:5000",
     "repo", "tag", SHA, f"[2001:db8::1]:5000/repo:tag@{SHA}"),
    ("longest-path", "example.com/" + "a" * 255 + ":tag", "example.com", "a" * 255,
     "tag", None, "example.com/" + "a" * 255 + ":tag"),
    ("longest-hub-path", "a/" * 127 + "a", "docker.io", "a/" * 127 + "a", "latest",
     None, "a/" * 127 + "a:latest"),
    ("longest-tag", "busybox:" + "T" * 128, "docker.io", "library/busybox",
     "T" * 128, None, "busybox:" + "T" * 128),
    ("dots-in-name", "ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base",
     "latest", None, "ubuntu-12.04-base:latest"),
]

# id, text, what the message must say
INVALID = [
    ("empty", "", "at least one component"),
    ("tag-only", ":justtag", "at least one component"),
    ("digest-only", f"@{SHA}", "at least one component"),
    ("uppercase-official", "Busybox", "repository name (library/Busybox) must be "
     "lowercase"),
    ("uppercase-with-tag", "Uppercase:tag", "must be lowercase"),
    ("uppercase-repo", "docker/Docker", "must be lowercase"),
    ("uppercase-after-registry", "test:5000/Uppercase/lowercase:tag",
     "must be lowercase"),
    ("uppercase-after-hub", "docker.io/docker/Docker", "must be lowercase"),
    ("leading-hyphen", "-docker", "is not lowercase letters"),
    ("leading-hyphen-namespace", "-docker/docker", "is not lowercase letters"),
    ("trailing-hyphen", "docker-/docker", "is not lowercase letters"),
    ("hyphens-around", "-docker-/docker", "is not lowercase letters"),
    ("only-underscores", "____/____", "is not lowercase letters"),
    ("leading-underscore", "_docker/_docker", "is not lowercase letters"),
    ("two-periods-a-bad-host", "dock..er/docker", 'registry "dock..er"'),
    ("underscore-period", "dock_.er/docker", 'registry "dock_.er"'),
    ("hyphen-period", "dock-.er/docker", 'registry "dock-.er"'),
    ("two-periods-in-path", "docker/dock..er", "is not lowercase letters"),
    ("underscore-period-in-path", "docker/dock_.er", "is not lowercase letters"),
    ("triple-slash", "docker///docker", "empty component"),
    ("hub-triple-slash", "docker.io/docker///docker", "empty component"),
    ("trailing-slash", "docker/", "empty component"),
    ("symbols", "aa/asdf$$^/aa", "is not lowercase letters"),
    ("space", "bus box", "is not lowercase letters"),
    ("url", "https://github.com/docker/docker", "invalid reference format"),
    ("bad-registry", "-docker.io/docker/docker", 'registry "-docker.io"'),
    ("port-not-a-number", "localhost:port/app", 'registry "localhost:port"'),
    ("ipv6-unbracketed", "fc00::1:5000/debian", 'registry "fc00::1:5000"'),
    ("ipv6-zone", "[fe80::1%eth0]:5000/debian", "registry"),
    ("ipv6-v4-mapped", "[2001:db8:3:4::192.0.2.33]:5000/debian", "registry"),
    ("ipv6-alone", "[fc00::1]", "invalid reference format"),
    ("ipv6-port-alone", "[fc00::1]:5000", "invalid reference format"),
    ("ipv6-tag-alone", "[2001:db8::1]:tag", "invalid reference format"),
    ("image-id", HEX64, "cannot specify 64-byte hexadecimal strings"),
    ("too-long", "domain/" + "a" * 256 + ":tag", "not be more than 255 characters"),
    ("too-long-official", "a" * 248, "not be more than 255 characters"),
    ("empty-tag", "busybox:", "a tag is at most 128"),
    ("tag-leading-hyphen", "busybox:-x", "a tag is at most 128"),
    ("tag-leading-period", "busybox:.x", "a tag is at most 128"),
    ("tag-too-long", "busybox:" + "a" * 129, "a tag is at most 128"),
    ("two-tags", "busybox:a:b", "is not lowercase letters"),
    ("empty-digest", "busybox@", "invalid checksum digest format"),
    ("digest-short", "repo@sha256:" + "f" * 34, "invalid checksum digest length"),
    ("digest-long", "repo@sha256:" + "f" * 65, "invalid checksum digest length"),
    ("digest-unknown-algorithm", "validname@invaliddigest:" + "f" * 64,
     "unsupported digest algorithm invaliddigest"),
    ("digest-sha512", "validname@sha512:" + "f" * 128,
     "unsupported digest algorithm sha512"),
    ("digest-md5", "busybox@md5:" + "f" * 32, "unsupported digest algorithm md5"),
    ("digest-uppercase-hex", "busybox@sha256:" + "F" * 64,
     "invalid checksum digest format"),
    ("digest-path", "busybox@sha256:../../etc/passwd",
     "invalid checksum digest format"),
    ("two-digests", f"busybox@{SHA}@{SHA}", "invalid checksum digest format"),
]


@pytest.mark.parametrize("text, registry, repository, tag, digest, familiar",
                         [case[1:] for case in VALID], ids=[c[0] for c in VALID])
def test_valid(text: str, registry: str, repository: str, tag: str | None,
               digest: str | None, familiar: str) -> None:
    reference = parse(text)
    assert reference == Reference(registry, repository, tag, digest)
    assert reference.familiar == familiar
    suffix = (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    assert str(reference) == f"{registry}/{repository}{suffix}"


@pytest.mark.parametrize("text, problem", [case[1:] for case in INVALID],
                         ids=[c[0] for c in INVALID])
def test_invalid(text: str, problem: str) -> None:
    with pytest.raises(BadReference) as caught:
        parse(text)
    message = str(caught.value)
    assert problem in message
    assert "\n" not in message and caught.value.exit_code == EXIT_DKR_FAILED


def test_the_canonical_form_parses_to_itself() -> None:
    for _, text, *_ in VALID:
        reference = parse(text)
        assert parse(str(reference)) == reference
        assert parse(reference.familiar) == reference


def test_the_message_names_the_text() -> None:
    with pytest.raises(BadReference, match=r'must be lowercase: "Busybox:1"$'):
        parse("Busybox:1")


def test_a_long_text_is_shortened_in_the_message() -> None:
    with pytest.raises(BadReference) as caught:
        parse("x" * 1000 + "!")
    assert len(str(caught.value)) < 2 * SHOWN_LENGTH + 150


def test_the_api_lives_on_registry_1_for_docker_hub() -> None:
    assert parse("busybox").api_host == "registry-1.docker.io"
    assert parse("index.docker.io/user/app").api_host == "registry-1.docker.io"
    assert parse("127.0.0.1:5000/busybox").api_host == "127.0.0.1:5000"
    assert parse("[::1]:5000/busybox").api_host == "[::1]:5000"
    assert parse("localhost/busybox").api_host == "localhost"


def test_the_manifest_is_asked_for_by_digest_when_there_is_one() -> None:
    assert parse("busybox").identifier == "latest"
    assert parse("busybox:1.36").identifier == "1.36"
    assert parse(f"busybox@{SHA}").identifier == SHA
    assert parse(f"busybox:1.36@{SHA}").identifier == SHA
    assert parse("user/app:1").name == "docker.io/user/app"


def test_the_table_is_big_enough() -> None:
    assert len(VALID) + len(INVALID) >= 40
    assert len({case[0] for case in VALID + INVALID}) == len(VALID) + len(INVALID)
