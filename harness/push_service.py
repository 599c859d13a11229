"""A stand-in Web Push service on a free loopback port, and a browser's side of a
subscription: what the tests need to receive a push as a browser would.

`PushService` is a plain HTTP server in a thread of the test process: it keeps
every request (path, headers, body) and answers each path with the status set
for it (201 by default). `BrowserKeys` is a subscription's key pair and auth
secret: it makes the `PushSubscription.toJSON()` a browser sends, decrypts what
the server encrypted for it (RFC 8291, aes128gcm) and checks the VAPID
`Authorization` header (RFC 8292: an ES256 JWT with `aud`, `exp` and `sub`).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class PushService:
    """Answers POSTs like a push service; `statuses[path]` overrides 201."""

    host: str = "127.0.0.1"
    statuses: dict[str, int] = field(default_factory=dict)
    # path -> Location header to answer with (a redirect the server must not follow).
    redirects: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                service.received.append(Received(self.path, headers, body))
                status = service.statuses.get(self.path, 201)
                self.send_response(status)
                if self.path in service.redirects:
                    self.send_header("Location", service.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PushService:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def to(self, name: str) -> list[Received]:
        """What was posted to `endpoint(name)`."""
        return [item for item in self.received if item.path == f"/push/{name}"]


class BrowserKeys:
    """One browser's subscription keys: the P-256 pair and the 16-byte auth secret."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def subscription(self, endpoint: str) -> dict:
        """The browser's `PushSubscription.toJSON()`."""
        return {
            "endpoint": endpoint,
            "expirationTime": None,
            "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)},
        }

    def decrypt(self, received: Received) -> dict:
        """Decrypt a push as the browser would; return its JSON payload."""
        assert received.headers.get("content-encoding") == "aes128gcm"
        plain = http_ece.decrypt(
            received.body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def verify_vapid(received: Received, *, public_key: str, audience: str) -> dict:
    """Check the VAPID `Authorization` header; return the JWT's claims.

    Raises AssertionError (or InvalidSignature) when the header is not signed by
    `public_key` (base64url point), names another audience or has expired.
    """
    scheme, _, params = received.headers["authorization"].partition(" ")
    assert scheme.lower() == "vapid", scheme
    parts = dict(item.split("=", 1) for item in params.split(","))
    assert parts["k"] == public_key, "signed with another key"
    signing_input, _, signature = parts["t"].rpartition(".")
    header = json.loads(b64url_decode(signing_input.split(".")[0]))
    assert header["alg"] == "ES256", header
    raw = b64url_decode(signature)
    assert len(raw) == 64, "an ES256 signature is r || s, 32 bytes each"
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(public_key))
    try:
        key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AssertionError("the VAPID signature does not verify") from None
    claims = json.loads(b64url_decode(signing_input.split(".")[1]))
    assert claims["aud"] == audience, claims
    now = time.time()
    # RFC 8292: not expired, and at most 24 hours ahead.
    assert now < claims["exp"] <= now + 24 * 60 * 60, claims
    return claims
