"""A local HTTP API that holds each request until the test releases it. The browser tests'
``held_run`` pipeline reads it (a ``rest`` source), so a run stays queued behind another, then
running, for exactly as long as the test wants — whatever the machine's speed (a run of a
small file takes well under a second; a test that hoped to see it "running" would be luck)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Held at most this long (then answered anyway), so a test that fails never hangs the server.
HOLD_S = 240.0
PIPELINE = """\
pipeline:
  name: held_run
  steps:
    - extract:
        type: rest
        config:
          url: {url}/records
          records: $.data
          timeout_seconds: 300
          schema: {{id: int, name: string}}
    - load:
        type: parquet
        config: {{path: out/held.parquet}}
"""


class RunGate:
    """``GET /records`` waits for one ``GET /release`` each (released ones are kept, so a
    release may come before the request it lets through); ``close`` lets everything through."""

    def __init__(self) -> None:
        self.tokens = threading.Semaphore(0)
        self.closed = threading.Event()
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/release"):
                    gate.tokens.release()
                    self._send({"released": True})
                    return
                if not gate.closed.is_set():
                    gate.tokens.acquire(timeout=HOLD_S)
                self._send({"data": [{"id": 1, "name": "held"}]})

            def _send(self, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.release_url = f"{self.url}/release"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def pipeline(self) -> str:
        """The ``held_run`` pipeline, reading this gate."""
        return PIPELINE.format(url=self.url)

    def close(self) -> None:
        self.closed.set()
        for _ in range(16):
            self.tokens.release()
        self.server.shutdown()
        self.server.server_close()
