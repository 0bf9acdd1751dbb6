"""A REST API for tests and the bench: a real HTTP server on 127.0.0.1 (ThreadingHTTPServer)
that paginates in every style dteg's ``http`` source supports, checks credentials, throttles
and fails on purpose.

Endpoints (all answer JSON unless a failure says otherwise):
  GET  /page?page=&per_page=        {"data": [...]}                      page number
  GET  /offset?offset=&limit=       {"items": [...], "total": n}          offset/limit
  GET  /cursor?cursor=              {"results": [...], "meta": {"next_cursor": c}}
  GET  /link?page=                  [...] with a `Link: <…>; rel="next"` header
  GET  /next?page=                  {"data": [...], "links": {"next": "/next?page=2"}}
  POST /search  {"page": n, ...}    {"data": [...]}                      page in the body
  POST /oauth/token                 client credentials → {"access_token", "expires_in"}
Every listing takes ``updated_since`` (ISO 8601) and returns records updated after it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BASE_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def make_record(i: int) -> dict[str, Any]:
    """Record ``i`` (1-based) of a generated data set: nested object and list included."""
    return {"id": i, "name": f"user{i}", "email": f"user{i}@example.com",
            "amount": round(i * 1.25, 2),
            "updated_at": (BASE_TIME + dt.timedelta(seconds=i)).isoformat().replace(
                "+00:00", "Z"),
            "address": {"city": f"city{i % 7}", "zip": f"{10000 + i}"},
            "tags": [f"t{i % 3}"]}


@dataclass
class RestApi:
    """What the server holds and how it misbehaves; change fields between runs."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    # Generated records 1..count instead of ``rows`` (the bench's million, never held).
    count: int = 0
    page_size: int = 100  # when the client sends none
    auth: str = "none"  # none | bearer | basic | api_key_header | api_key_query | oauth2
    token: str = "s3cret-token"
    username: str = "ada"
    password: str = "pa55word"
    api_key: str = "k3y-value"
    client_id: str = "dteg"
    client_secret: str = "client-s3cret"
    token_lifetime: int = 3600
    # Injected failures: page number → statuses to answer before serving it normally.
    fail_pages: dict[int, list[int]] = field(default_factory=dict)
    retry_after: str | None = "1"  # sent with 429 and 503
    not_json_pages: set[int] = field(default_factory=set)
    slow_pages: dict[int, float] = field(default_factory=dict)  # page → seconds, once
    stop_after_requests: int | None = None  # then the server closes (gone mid-run)
    # What was asked: (method, path, query, body, authorization header or None).
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    tokens_issued: int = 0
    max_rate_seen: float = 0.0
    _issued: dict[str, float] = field(default_factory=dict)
    _times: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def total(self) -> int:
        return self.count or len(self.rows)

    def listing(self, since: str | None) -> list[dict[str, Any]] | None:
        """Rows after ``since`` (None: generated mode, rows are made per page)."""
        if self.count:
            return None
        if not since:
            return self.rows
        after = dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
        return [r for r in self.rows
                if dt.datetime.fromisoformat(str(r["updated_at"]).replace("Z", "+00:00"))
                > after]

    def window(self, since: str | None, start: int, size: int) -> tuple[list[Any], int]:
        rows = self.listing(since)
        if rows is None:
            end = min(self.count, start + size)
            return [make_record(i + 1) for i in range(start, end)], self.count
        return rows[start:start + size], len(rows)


class _Handler(BaseHTTPRequestHandler):
    api: RestApi
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet: tests read `api.requests`
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        api = self.api
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        with api._lock:
            api.requests.append((method, url.path, query, body))
            now = time.monotonic()
            api._times.append(now)
            recent = [t for t in api._times if now - t <= 1.0]
            api.max_rate_seen = max(api.max_rate_seen, float(len(recent)))
            if api.stop_after_requests is not None and \
                    len(api.requests) > api.stop_after_requests:
                # Gone mid-run: stop accepting, and drop this connection unanswered.
                threading.Thread(target=_stop, args=(api,), daemon=True).start()
                self.close_connection = True
                return
        if url.path == "/oauth/token":
            return self._token(body or {})
        if not self._authorized(query):
            return self._send(401, {"error": "unauthorized"})
        page = int((body or {}).get("page") or query.get("page") or 0)
        if not page and "offset" in query:
            page = int(query["offset"]) // int(query.get("limit") or api.page_size) + 1
        if not page and url.path == "/cursor":
            page = int(query.get("cursor") or 1)
        page = page or 1
        with api._lock:
            failures = api.fail_pages.get(page)
            status = failures.pop(0) if failures else None
            slow = api.slow_pages.pop(page, None)
        if status is not None:
            headers = {"Retry-After": api.retry_after} if status in (429, 503) and \
                api.retry_after else {}
            return self._send(status, {"error": f"injected {status}"}, headers)
        if slow:
            time.sleep(slow)
        if page in api.not_json_pages:
            return self._raw(200, b"<html><body>Bad gateway</body></html>", "text/html")
        since = query.get("updated_since") or (body or {}).get("updated_since")
        self._listing(url.path, query, body or {}, page, since)

    def _listing(self, path: str, query: dict[str, str], body: dict[str, Any], page: int,
                 since: str | None) -> None:
        api = self.api
        if path == "/page" or path == "/search":
            size = int(query.get("per_page") or body.get("per_page") or api.page_size)
            rows, _ = api.window(since, (page - 1) * size, size)
            return self._send(200, {"data": rows, "page": page})
        if path == "/offset":
            size = int(query.get("limit") or api.page_size)
            rows, total = api.window(since, int(query.get("offset") or 0), size)
            return self._send(200, {"items": rows, "total": total})
        if path == "/cursor":
            rows, total = api.window(since, (page - 1) * api.page_size, api.page_size)
            nxt = str(page + 1) if page * api.page_size < total else None
            return self._send(200, {"results": rows, "meta": {"next_cursor": nxt}})
        if path == "/link":
            rows, total = api.window(since, (page - 1) * api.page_size, api.page_size)
            headers = {}
            if page * api.page_size < total:
                extra = f"&updated_since={since}" if since else ""
                headers["Link"] = (f'<http://127.0.0.1:{self.server.server_address[1]}/link?'
                                   f'page={page + 1}{extra}>; rel="next"')
            return self._send(200, rows, headers)
        if path == "/next":
            rows, total = api.window(since, (page - 1) * api.page_size, api.page_size)
            extra = f"&updated_since={since}" if since else ""
            nxt = f"/next?page={page + 1}{extra}" if page * api.page_size < total else None
            return self._send(200, {"data": rows, "links": {"next": nxt}})
        return self._send(404, {"error": "no such endpoint"})

    def _authorized(self, query: dict[str, str]) -> bool:
        api = self.api
        header = self.headers.get("Authorization") or ""
        if api.auth == "none":
            return True
        if api.auth == "bearer":
            return header == f"Bearer {api.token}"
        if api.auth == "basic":
            expected = base64.b64encode(f"{api.username}:{api.password}".encode()).decode()
            return header == f"Basic {expected}"
        if api.auth == "api_key_header":
            return self.headers.get("X-API-Key") == api.api_key
        if api.auth == "api_key_query":
            return query.get("api_key") == api.api_key
        if api.auth == "oauth2":
            token = header.removeprefix("Bearer ")
            with api._lock:
                expires = api._issued.get(token)
            return expires is not None and time.monotonic() < expires
        return False

    def _token(self, form: dict[str, Any]) -> None:
        api = self.api
        if form.get("grant_type") != "client_credentials" or \
                form.get("client_id") != api.client_id or \
                form.get("client_secret") != api.client_secret:
            return self._send(401, {"error": "invalid_client",
                                    "error_description": "client authentication failed"})
        with api._lock:
            api.tokens_issued += 1
            token = f"tok-{api.tokens_issued}"
            api._issued[token] = time.monotonic() + api.token_lifetime
        self._send(200, {"access_token": token, "token_type": "bearer",
                         "expires_in": api.token_lifetime})

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _raw(self, status: int, data: bytes, kind: str,
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


def _stop(api: RestApi) -> None:
    if api.server is not None:
        api.server.shutdown()
        api.server.server_close()


@contextmanager
def serve(api: RestApi, port: int = 0) -> Iterator[str]:
    """Serve ``api`` on 127.0.0.1 in a thread; yields its base URL."""
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    api.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        if api.stop_after_requests is None or thread.is_alive():
            server.shutdown()
            server.server_close()
        thread.join(timeout=30)


def main() -> None:
    """``python -m tests.integration.rest_api PORT COUNT``: serve COUNT generated records."""
    import sys

    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    api = RestApi(count=count)
    handler = type("Handler", (_Handler,), {"api": api})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    print(f"serving {count} records on http://127.0.0.1:{server.server_address[1]}",
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
