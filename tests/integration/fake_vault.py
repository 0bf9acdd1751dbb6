"""A real HTTP server on 127.0.0.1 that answers the few Vault endpoints dteg uses.

No Vault server can be installed here (not in Debian's archive, no binary on PyPI), so the
hvac code paths are tested against this stand-in: KV version 2 reads
(``GET /v1/<mount>/data/<path>``) and transit ``encrypt``/``decrypt`` with ``batch_input``,
with Vault's JSON shapes, token check (403) and errors (400, 404). Transit really encrypts
(AES-256-GCM with a server-side key) and keeps the ``vault:v1:`` ciphertext format.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class FakeVault:
    def __init__(self, token: str = "dev-root-token") -> None:
        self.token = token
        self.kv: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (mount, path) → versions
        self.transit_keys: dict[tuple[str, str], AESGCM] = {}
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def put_kv(self, mount: str, path: str, data: dict[str, Any]) -> None:
        self.kv.setdefault((mount, path), []).append(data)

    def add_transit_key(self, mount: str, name: str) -> None:
        self.transit_keys[(mount, name)] = AESGCM(AESGCM.generate_key(bit_length=256))

    def __enter__(self) -> FakeVault:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        vault = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                vault.requests.append((self.command, self.path))
                if self.headers.get("X-Vault-Token") != vault.token:
                    self._reply(403, {"errors": ["permission denied"]})
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                if len(parts) < 4 or parts[0] != "v1" or parts[2] != "data":
                    self._reply(404, {"errors": []})
                    return
                mount, path = parts[1], "/".join(parts[3:])
                versions = vault.kv.get((mount, path))
                if not versions:
                    self._reply(404, {"errors": []})
                    return
                wanted = parse_qs(url.query).get("version", [str(len(versions))])[0]
                index = int(wanted) - 1
                if not 0 <= index < len(versions):
                    self._reply(404, {"errors": []})
                    return
                self._reply(200, {"data": {"data": versions[index], "metadata": {
                    "version": index + 1, "deletion_time": "", "destroyed": False}}})

            def do_POST(self) -> None:
                if not self._authorized():
                    return
                parts = self.path.strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if len(parts) != 4 or parts[0] != "v1" or parts[2] not in ("encrypt", "decrypt"):
                    self._reply(404, {"errors": []})
                    return
                key = vault.transit_keys.get((parts[1], parts[3]))
                if key is None:
                    self._reply(400, {"errors": ["encryption key not found"]})
                    return
                items = body.get("batch_input") or [body]
                if parts[2] == "encrypt":
                    results = []
                    for item in items:
                        nonce = os.urandom(12)
                        sealed = key.encrypt(nonce, base64.b64decode(item["plaintext"]), None)
                        results.append({"ciphertext": "vault:v1:" + base64.b64encode(
                            nonce + sealed).decode()})
                else:
                    results = []
                    for item in items:
                        text = item.get("ciphertext", "")
                        try:
                            if not text.startswith("vault:v1:"):
                                raise ValueError("invalid ciphertext: no prefix")
                            raw = base64.b64decode(text[len("vault:v1:"):])
                            plain = key.decrypt(raw[:12], raw[12:], None)
                        except (ValueError, InvalidTag):
                            # Vault answers 400 to a batch holding a bad item.
                            self._reply(400, {"errors": [
                                "cipher: message authentication failed"]})
                            return
                        results.append({"plaintext": base64.b64encode(plain).decode()})
                if "batch_input" in body:
                    self._reply(200, {"data": {"batch_results": results}})
                else:
                    self._reply(200, {"data": results[0]})

        return Handler
