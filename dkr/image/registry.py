# chapter: 9
"""A client of the registry HTTP API (the OCI distribution spec), on http.client.

Pulling needs two requests of the API, both GETs:

    GET /v2/<repository>/manifests/<tag or digest>    the manifest (or an index)
    GET /v2/<repository>/blobs/<digest>               a config or a layer

Around them is what real registries add:

- Authentication. A registry that wants it answers 401 with a challenge:
  `WWW-Authenticate: Basic realm=…` (send the user's name and password), or
  `Bearer realm="https://auth…",service="…",scope="repository:app:pull"`
  (fetch a token from the realm, with the password if there is one, then
  send the request again with `Authorization: Bearer <token>`). Tokens are
  kept per scope and used until they expire.
- Redirects. Blobs are often served by storage elsewhere (a CDN, S3): the
  registry answers 307 with its address. The Authorization header is the
  registry's and is never sent to another host.
- Failures on the way. 429 and 5xx answers and dropped connections are
  tried again, waiting longer each time; a blob cut off halfway goes on
  from where it stopped with an HTTP Range request, where the server
  allows it.
- Plain HTTP only where the user allows it: registries given with
  `--insecure-registry`, and the machine itself (localhost, 127.0.0.0/8,
  ::1), as Docker does. Everything else is HTTPS, checked against the
  system's certificate authorities.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import os
import re
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from dkr.errors import DkrError, shorten

USER_AGENT = "dkr"
ATTEMPTS = 5  # tries of one request before giving up
FIRST_WAIT = 0.5  # seconds before the second try; doubled each time after
RETRIED = {429, 500, 502, 503, 504}
REDIRECTS = {301, 302, 303, 307, 308}
MOST_REDIRECTS = 10
TIMEOUT = 60  # seconds without a byte before a connection counts as dropped
CHUNK = 1 << 20
TOKEN_LIFETIME = 60  # seconds, when the token server does not say (the spec's default)
DROPPED = (ConnectionError, TimeoutError, http.client.HTTPException, ssl.SSLError)


class RegistryError(DkrError):
    """The registry said no, or could not be reached: one line saying which."""


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or identity token) for one registry."""

    username: str
    password: str

    def basic(self) -> str:
        pair = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()


def docker_config_path() -> Path:
    """Where the user's registry logins are: $DKR_REGISTRY_AUTH, else
    ~/.docker/config.json (Docker's file, so `docker login` works for dkr)."""
    configured = os.environ.get("DKR_REGISTRY_AUTH")
    if configured:
        return Path(configured)
    directory = os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")
    return Path(directory) / "config.json"


def credentials_for(registry: str) -> Credentials | None:
    """The login saved for `registry` in the config file's `auths`, if any."""
    path = docker_config_path()
    try:
        auths = json.loads(path.read_text()).get("auths", {})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as error:
        raise RegistryError(f"cannot read the registry logins in {path}: "
                            f"{error}") from None
    keys = [registry, f"https://{registry}", f"http://{registry}"]
    if registry == "docker.io":
        keys += ["https://index.docker.io/v1/", "index.docker.io",
                 "registry-1.docker.io"]
    for key in keys:
        entry = auths.get(key) if isinstance(auths, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("auth"), str):
            pair = base64.b64decode(entry["auth"]).decode()
            username, _, password = pair.partition(":")
            return Credentials(username, password)
    return None


def is_local(host: str) -> bool:
    """Whether `host` (without its port) is this machine, where Docker allows
    plain HTTP without asking."""
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def split_host(registry: str) -> tuple[str, int | None]:
    """"host:port" (or "[v6]:port") as the host and the port, if one is given."""
    match = re.fullmatch(r"(\[[^]]+\]|[^:]+)(?::([0-9]+))?", registry)
    if not match:
        raise RegistryError(f"bad registry address {shorten(registry)!r}")
    host, port = match.groups()
    return host, int(port) if port else None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="…",service="…"` as ("bearer", {"realm": …, "service": …})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {key.lower(): value.replace('\\"', '"') for key, value in
              re.findall(r'([A-Za-z_]+)\s*=\s*"((?:[^"\\]|\\.)*)"', rest)}
    unquoted = re.findall(r'([A-Za-z_]+)\s*=\s*([^",\s]+)', rest)
    params.update({key.lower(): value for key, value in unquoted
                   if key.lower() not in params})
    return scheme.lower(), params


@dataclass
class Token:
    value: str
    expires: float


@dataclass
class Answer:
    """A response whose body is still to be read (`read`, or `chunks`)."""

    status: int
    headers: http.client.HTTPMessage
    response: http.client.HTTPResponse
    url: str

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def read(self, most: int) -> bytes:
        """The whole body, refused if it is longer than `most` bytes."""
        length = self.header("Content-Length")
        if length.isdigit() and int(length) > most:
            raise RegistryError(f"{self.url}: the answer is {length} bytes, more than "
                                f"the {most} dkr takes")
        body = self.response.read(most + 1)
        if len(body) > most:
            raise RegistryError(f"{self.url}: the answer is more than the {most} bytes "
                                f"dkr takes")
        return body

    def chunks(self) -> Iterator[bytes]:
        while chunk := self.response.read(CHUNK):
            yield chunk


@dataclass
class Registry:
    """One registry, as one user sees it: its address, whether plain HTTP is
    allowed, the user's login, and the tokens got so far."""

    address: str  # host[:port] where the API answers
    insecure: bool = False
    credentials: Credentials | None = None
    tokens: dict[str, Token] = field(default_factory=dict)
    scheme: str | None = None  # found by the first request: https, or http
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @classmethod
    def for_name(cls, registry: str, api_host: str, insecure: set[str]) -> Registry:
        """The registry of an image reference, with the user's saved login."""
        plain = is_local(split_host(api_host)[0]) or registry in insecure \
            or api_host in insecure
        return cls(api_host, insecure=plain, credentials=credentials_for(registry))

    # The two requests of a pull ---------------------------------------------

    def get(self, path: str, scope: str, accept: str = "",
            offset: int = 0) -> Answer:
        """GET `path` of the API, authenticated for `scope`, following
        redirects and trying again where that can help. With `offset`, ask
        for the bytes from there on (the answer's status says if it did)."""
        headers = {"Accept": accept} if accept else {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        wait = FIRST_WAIT
        for attempt in range(1, ATTEMPTS + 1):
            try:
                answer = self._authenticated(path, scope, headers)
            except ConnectionRefusedError:  # nothing listens there: no use waiting
                raise RegistryError(f"cannot connect to {self.address}: nothing "
                                    f"answers there (is the address right?)") from None
            except DROPPED as error:
                if attempt == ATTEMPTS:
                    raise RegistryError(f"{self.address}: {describe_failure(error)} "
                                        f"(tried {ATTEMPTS} times)") from None
            else:
                if answer.status not in RETRIED or attempt == ATTEMPTS:
                    return answer
                wait = max(wait, _retry_after(answer))
                answer.response.close()
            self.drop_connections()
            time.sleep(wait)
            wait *= 2
        raise AssertionError("unreachable")

    # Authentication ------------------------------------------------------------

    def _authenticated(self, path: str, scope: str, headers: dict[str, str]) -> Answer:
        """Send the request; on a 401, answer the challenge once and send it again."""
        answer = self._follow(path, {**headers, **self._authorization(scope)})
        if answer.status != 401:
            return answer
        challenge = answer.header("WWW-Authenticate")
        answer.response.read()
        scheme, params = parse_challenge(challenge)
        if scheme == "bearer":
            self._fetch_token(params, scope)
        elif scheme == "basic" and self.credentials:
            self.tokens[scope] = Token(self.credentials.basic(), float("inf"))
        else:
            raise RegistryError(f"{self.address} wants a login: `dkr login "
                                f"{self.address}`, or add it to {docker_config_path()}")
        answer = self._follow(path, {**headers, **self._authorization(scope)})
        if answer.status == 401:
            raise RegistryError(f"{self.address} refused the login for {scope}: "
                                f"check the user name and password (`dkr login "
                                f"{self.address}`)")
        return answer

    def _authorization(self, scope: str) -> dict[str, str]:
        token = self.tokens.get(scope)
        if token and token.expires > time.monotonic():
            return {"Authorization": token.value}
        return {}

    def _fetch_token(self, params: dict[str, str], scope: str) -> None:
        """The bearer-token flow of the distribution spec's auth: ask the
        realm for a token for the scope, with the user's login if any."""
        realm = params.get("realm", "")
        url = urllib.parse.urlsplit(realm)
        if url.scheme != "https" and not (url.scheme == "http" and self.insecure):
            raise RegistryError(f"{self.address} sends dkr to get a token from "
                                f"{shorten(realm)!r}: dkr asks only https:// token "
                                f"servers")
        query = [("service", params["service"])] if "service" in params else []
        query += [("scope", wanted) for wanted in {params.get("scope", scope), scope}]
        headers = {}
        if self.credentials:
            headers["Authorization"] = self.credentials.basic()
        target = urllib.parse.urlunsplit(
            (url.scheme, url.netloc, url.path or "/",
             "&".join(filter(None, [url.query, urllib.parse.urlencode(query)])), ""))
        answer = self._request_url(target, headers)
        body = answer.read(1 << 20)
        if answer.status != 200:
            raise RegistryError(f"the token server {url.netloc} answered "
                                f"{answer.status} for {scope}: check the login "
                                f"(`dkr login {self.address}`)")
        try:
            reply = json.loads(body)
            value = reply.get("token") or reply.get("access_token")
            lifetime = float(reply.get("expires_in") or TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            value = None
        if not isinstance(value, str) or not value:
            raise RegistryError(f"the token server {url.netloc} gave no token for "
                                f"{scope}")
        self.tokens[scope] = Token(f"Bearer {value}", time.monotonic() + lifetime - 5)

    # Redirects and connections -----------------------------------------------------

    def _follow(self, path: str, headers: dict[str, str]) -> Answer:
        """GET the API's `path`, following redirects; the Authorization
        header goes only to the registry itself."""
        url = f"{self._scheme()}://{self.address}{path}"
        for _ in range(MOST_REDIRECTS):
            answer = self._request_url(url, headers)
            if answer.status not in REDIRECTS:
                return answer
            answer.response.read()
            location = urllib.parse.urljoin(url, answer.header("Location"))
            target = urllib.parse.urlsplit(location)
            downgrade = target.scheme == "http" and url.startswith("https:")
            if target.scheme not in ("https", "http") or downgrade:
                raise RegistryError(f"{self.address} redirects to "
                                    f"{shorten(location)!r}: dkr follows only https:// "
                                    f"from an https registry")
            if target.netloc != self.address:
                headers = {key: value for key, value in headers.items()
                           if key != "Authorization"}
            url = location
        raise RegistryError(f"{self.address}: more than {MOST_REDIRECTS} redirects "
                            f"for {path}")

    def _scheme(self) -> str:
        """https; for a registry allowed plain HTTP, https if it speaks it
        (as Docker tries), else http. Found once, by the first request."""
        if self.scheme is None:
            self.scheme = "https"
            if self.insecure:
                try:
                    self._request_url(f"https://{self.address}/v2/", {}).response.read()
                except DROPPED:
                    self.drop_connections()
                    self.scheme = "http"
        return self.scheme

    def _request_url(self, url: str, headers: dict[str, str]) -> Answer:
        """One GET on a kept-alive connection of this thread."""
        parts = urllib.parse.urlsplit(url)
        connection = self._connection(parts.scheme, parts.netloc)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", target or "/", headers={"User-Agent": USER_AGENT,
                                                              **headers})
            response = connection.getresponse()
        except DROPPED:
            self.drop_connections(parts.netloc)
            raise
        return Answer(response.status, response.headers, response, url)

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        connections = self._local.__dict__.setdefault("connections", {})
        key = (scheme, netloc)
        if key not in connections:
            host, port = split_host(netloc)
            host = host.strip("[]")
            if scheme == "https":
                connections[key] = http.client.HTTPSConnection(
                    host, port, timeout=TIMEOUT, context=_tls_context())
            else:
                connections[key] = http.client.HTTPConnection(host, port,
                                                              timeout=TIMEOUT)
        return connections[key]

    def drop_connections(self, netloc: str | None = None) -> None:
        """Close this thread's connections (to `netloc` only, if given)."""
        connections = self._local.__dict__.get("connections", {})
        for key in [key for key in connections if netloc in (None, key[1])]:
            connections.pop(key).close()


_context: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    """The system's certificate authorities (or those of SSL_CERT_FILE), once."""
    global _context
    if _context is None:
        _context = ssl.create_default_context()
    return _context


def _retry_after(answer: Answer) -> float:
    value = answer.header("Retry-After")
    return min(float(value), 30.0) if value.isdigit() else 0.0


def describe_failure(error: BaseException) -> str:
    """A dropped connection as a few words."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its certificate is not trusted ({error.verify_message})"
    text = str(error) or type(error).__name__
    return getattr(error, "strerror", None) or text

