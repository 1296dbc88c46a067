"""What chapter 9's tests build for themselves: layers, images in OCI layouts,
and a real registry (Debian's docker-registry) to push them to with skopeo."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of_directory(directory: Path) -> bytes:
    """A layer of a directory's contents, as `tar -C DIR -c .` makes one
    (names relative, owners kept, sorted for a stable digest)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return buffer.getvalue()


def tar_of(files: dict[str, bytes | str | None], whiteouts: tuple[str, ...] = ()) -> bytes:
    """A small layer: files (None for a directory) and whiteout names."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                data = content.encode() if isinstance(content, str) else content
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        for name in whiteouts:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(b""))
    return buffer.getvalue()


@dataclass
class Image:
    """An image to write as an OCI layout: layers (tar bytes), a config."""

    layers: list[bytes]
    config: dict = field(default_factory=dict)
    architecture: str = "amd64"
    variant: str = ""
    compress: bool = True

    def config_json(self) -> bytes:
        document = {"architecture": self.architecture, "os": "linux",
                    "created": "2026-01-02T03:04:05Z",
                    "config": self.config,
                    "rootfs": {"type": "layers", "diff_ids": [sha256(layer)
                                                               for layer in self.layers]}}
        if self.variant:
            document["variant"] = self.variant
        return json.dumps(document).encode()


def write_blob(layout: Path, data: bytes) -> dict:
    digest = sha256(data)
    path = layout / "blobs" / "sha256" / digest.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def write_manifest(layout: Path, image: Image) -> dict:
    """The image's blobs and manifest in `layout`: the manifest's descriptor."""
    layers = []
    for layer in image.layers:
        data = gzip.compress(layer, mtime=0) if image.compress else layer
        layers.append({"mediaType": OCI_LAYER_GZIP if image.compress else OCI_LAYER,
                       **write_blob(layout, data)})
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, **write_blob(layout, image.config_json())},
                "layers": layers}
    platform = {"architecture": image.architecture, "os": "linux"}
    if image.variant:
        platform["variant"] = image.variant
    return {"mediaType": OCI_MANIFEST, **write_blob(layout, json.dumps(manifest).encode()),
            "platform": platform}


def oci_layout(layout: Path, tag: str, *images: Image) -> Path:
    """An OCI layout directory with `images` under `tag`: one image's
    manifest, or (for several) an index of them, one per platform."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    manifests = [write_manifest(layout, image) for image in images]
    if len(manifests) == 1:
        top = {key: manifests[0][key] for key in ("mediaType", "digest", "size")}
    else:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        top = {"mediaType": OCI_INDEX, **write_blob(layout, json.dumps(index).encode())}
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    return layout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Registry:
    """Debian's docker-registry on 127.0.0.1, with its own storage."""

    directory: Path
    auth: dict | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Registry:
        config = {"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": False}},
                  "storage": {"filesystem": {"rootdirectory": str(self.directory / "storage")},
                              "delete": {"enabled": True}},
                  "http": {"addr": self.address}}
        if self.auth:
            config["auth"] = self.auth
        (self.directory / "config.yml").write_text(json.dumps(config))  # YAML takes JSON
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(self.directory / "config.yml")],
            stdout=open(self.directory / "access.log", "ab"),
            stderr=open(self.directory / "registry.log", "wb"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None:
                raise RuntimeError((self.directory / "registry.log").read_text())
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def push(self, layout: Path, tag: str, name: str, *creds: str) -> None:
        """Copy the layout's `tag` to NAME:… in this registry, with skopeo."""
        command = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                   "--preserve-digests", f"oci:{layout}:{tag}",
                   f"docker://{self.address}/{name}"]
        if _is_index(layout):
            command.insert(2, "--all")
        if creds:
            command.insert(2, f"--dest-creds={creds[0]}")
        subprocess.run(command, check=True, env={**os.environ, "HOME": str(self.directory)})

    def blob_files(self) -> list[Path]:
        """The blobs as the registry keeps them on disk."""
        return sorted((self.directory / "storage").rglob("blobs/sha256/*/*/data"))


def _is_index(layout: Path) -> bool:
    index = json.loads((layout / "index.json").read_text())
    return index["manifests"][0]["mediaType"] == OCI_INDEX


def busybox_layer(tmp: Path) -> bytes:
    """A layer with busybox and its applets, from the same code as dkr's
    default rootfs."""
    from dkr.rootfs import build_rootfs, find_busybox

    root = tmp / "busybox-root"
    if not root.exists():
        build_rootfs(root, find_busybox())
    data = tar_of_directory(root)
    shutil.rmtree(root)
    return data


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler of the tests' small servers, which log nothing."""

    def log_message(self, *args) -> None:
        pass


def serve_in_thread(port: int, handler: type) -> http.server.ThreadingHTTPServer:
    """Serve HTTP on 127.0.0.1:PORT from a thread, until `shutdown`."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


# Token authentication ------------------------------------------------------------
#
# The registry's `auth: token` trusts tokens signed by a certificate it is
# given. The test's own token server makes the key and certificate with
# openssl, checks each request's Basic login, and signs a JWT (RS256, the
# certificate in its x5c header) that grants what the scope asks for.


def _b64url(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenServer:
    """A token server for the registry's `auth: token`, on 127.0.0.1."""

    directory: Path
    username: str
    password: str
    service: str = "dkr-tests"
    port: int = field(default_factory=free_port)
    requests: list[str] = field(default_factory=list)

    def start(self) -> TokenServer:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", str(self.directory / "key.pem"),
                        "-out", str(self.directory / "cert.pem"), "-days", "1",
                        "-subj", "/CN=dkr-tests"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.directory / "cert.pem"),
                              "-outform", "DER"], check=True, capture_output=True).stdout
        import base64

        self.x5c = base64.b64encode(der).decode()
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                expected = "Basic " + base64.b64encode(
                    f"{server.username}:{server.password}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                import urllib.parse

                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                body = json.dumps({"token": server.token(query.get("scope", [])),
                                   "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = serve_in_thread(self.port, Handler)
        return self

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.service, "sub": self.username, "aud": self.service,
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(),
                  "access": access}
        signed = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                                    str(self.directory / "key.pem")], input=signed.encode(),
                                   check=True, capture_output=True).stdout
        return f"{signed}.{_b64url(signature)}"

    def registry_auth(self) -> dict:
        return {"token": {"realm": f"http://127.0.0.1:{self.port}/token",
                          "service": self.service, "issuer": self.service,
                          "rootcertbundle": str(self.directory / "cert.pem")}}

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def htpasswd(directory: Path, username: str, password: str) -> dict:
    """The registry's `auth: htpasswd`, with one bcrypt-hashed user."""
    line = subprocess.run(["htpasswd", "-Bbn", username, password], check=True,
                          capture_output=True, text=True).stdout.strip()
    (directory / "htpasswd").write_text(line + "\n")
    return {"htpasswd": {"realm": "dkr-tests", "path": str(directory / "htpasswd")}}


@dataclass
class CuttingProxy:
    """An HTTP proxy in front of a registry that does to a pull what flaky
    networks and real registries do, as `mode` says:

    - "cut": break off the first download of each large blob halfway;
    - "busy": answer each path's first request 503 (then 429), as an
      overloaded registry does;
    - "redirect": send blobs to a second server, "storage", as registries
      send them to a CDN, and note the Authorization headers it is sent.

    It records the Range headers it is sent, and every request's path."""

    upstream: str
    mode: str = "cut"
    cut_after: int = 1 << 20
    port: int = field(default_factory=free_port)
    ranges: list[str] = field(default_factory=list)
    cut: set[str] = field(default_factory=set)
    paths: list[str] = field(default_factory=list)
    storage_authorization: list[str] = field(default_factory=list)
    login: str = ""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> CuttingProxy:
        import http.client

        proxy = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.paths.append(self.path)
                if self.path.startswith("/storage/"):  # the "CDN": no login needed
                    proxy.storage_authorization.append(self.headers.get("Authorization", ""))
                    self.path = self.path[len("/storage"):]
                    del self.headers["Authorization"]
                    self.headers["Authorization"] = proxy.login
                elif proxy.mode == "busy" and proxy.paths.count(self.path) <= 2:
                    self.send_response(503 if proxy.paths.count(self.path) == 1 else 429)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                elif proxy.mode == "redirect" and "/blobs/" in self.path:
                    proxy.login = self.headers.get("Authorization", "")
                    self.send_response(307)
                    self.send_header("Location", f"http://localhost:{proxy.port}/storage"
                                                 f"{self.path}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                connection = http.client.HTTPConnection(proxy.upstream, timeout=30)
                headers = {key: value for key, value in self.headers.items()
                           if key.lower() not in ("host", "connection")}
                if "Range" in self.headers:
                    proxy.ranges.append(self.headers["Range"])
                connection.request("GET", self.path, headers=headers)
                answer = connection.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection",
                                           "content-length"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                large = proxy.mode == "cut" and "/blobs/" in self.path \
                    and len(body) > proxy.cut_after
                if large and self.path not in proxy.cut:
                    proxy.cut.add(self.path)
                    self.wfile.write(body[:proxy.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.httpd = serve_in_thread(self.port, Handler)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve(directory: Path, port: int) -> None:
    """Start a registry on 127.0.0.1:PORT that outlives this process, with
    a busybox image in it (for the book's transcripts), its pid in DIR/pid."""
    directory.mkdir(parents=True, exist_ok=True)
    registry = Registry(directory, port=port).start()
    top = tar_of({"etc/motd": "Hello from an image of dkr's book.\n"})
    layout = oci_layout(directory / "layout", "latest", Image(
        [busybox_layer(directory), top],
        {"Cmd": ["cat", "/etc/motd"], "Env": ["GREETING=hello"], "WorkingDir": "/root"}))
    registry.push(layout, "latest", "busybox:latest")
    (directory / "pid").write_text(f"{registry.process.pid}\n")


def stop(directory: Path) -> None:
    """Stop the registry `serve` started, and remove its directory."""
    import signal

    pid = int((directory / "pid").read_text())
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    shutil.rmtree(directory)


if __name__ == "__main__":  # python3 tests/ch09_images/registry.py serve|stop DIR [PORT]
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    if sys.argv[1] == "serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        stop(Path(sys.argv[2]))
