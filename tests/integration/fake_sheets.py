"""A stand-in for Google's OAuth token endpoint and the Sheets v4 calls dteg makes: a real
HTTP server on 127.0.0.1 (in a thread), talked to by the unmodified google-auth code path.

* ``POST /token``: the JWT-bearer grant of a service account. The assertion's RS256
  signature is verified against the public key of the account named by ``iss`` (made by
  ``service_account_key``), and ``aud``, ``exp`` and ``scope`` are checked; the answer is
  an access token the Sheets routes then require.
* ``GET /v4/spreadsheets/{id}``, ``POST …:batchUpdate`` (addSheet, deleteSheet,
  updateSheetProperties: applied all or nothing), ``GET/PUT …/values/{range}``,
  ``POST …/values/{range}:append`` and ``…:clear``, with A1 ranges (``'My sheet'!A2:D10``,
  ``Sheet1!A5:C``, ``Sheet1!1:1``, ``Sheet1``), values as FORMATTED_VALUE text the way
  Google shows them (3.0 → ``3``, True → ``TRUE``).
* ``throttle(n)``: the next n Sheets calls answer 429 with Retry-After (quota exceeded);
  ``fail_after(n)``: calls after the next n answer 500 (a server gone bad mid-run).
  Requests over the API's 10 MB payload limit are refused with 400, as Google does.

Sheets live in memory (``spreadsheets``: id → title → rows of cells).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MAX_BODY = 10 * 1024 * 1024
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
_CELL = re.compile(r"^([A-Z]*)(\d*)$")


def _b64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def formatted(value: Any) -> str:
    """A cell as Sheets' FORMATTED_VALUE shows it (default number format)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.15g}".replace("e+", "E+").replace("e-", "E-")
    return str(value)


@dataclass
class Range:
    sheet: str
    row0: int = 0            # first row (0-based)
    row1: int | None = None  # last row (inclusive), None: to the end
    col0: int = 0
    col1: int | None = None


def parse_range(a1: str) -> Range:
    if "!" in a1:
        sheet, cells = a1.rsplit("!", 1)
    else:
        sheet, cells = a1, ""
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    if not cells:
        return Range(sheet)
    start, _, end = cells.partition(":")
    end = end or start
    m0, m1 = _CELL.match(start), _CELL.match(end)
    if not m0 or not m1:
        raise ValueError(f"Unable to parse range: {a1}")
    c0, r0 = m0.groups()
    c1, r1 = m1.groups()
    return Range(sheet, row0=int(r0) - 1 if r0 else 0,
                 row1=(int(r1) - 1 if r1 else None) if end else None,
                 col0=col_index(c0) if c0 else 0, col1=col_index(c1) if c1 else None)


@dataclass
class Sheet:
    sheet_id: int
    title: str
    hidden: bool = False
    rows: list[list[Any]] = field(default_factory=list)


@dataclass
class FakeSheets:
    """The server's state and knobs (thread-safe through ``lock``)."""

    port: int = 0
    accounts: dict[str, Any] = field(default_factory=dict)  # client_email → public key
    tokens: dict[str, float] = field(default_factory=dict)  # access token → expiry
    books: dict[str, list[Sheet]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: list[str] = field(default_factory=list)
    token_requests: int = 0
    _throttle: int = 0
    _fail_after: int | None = None
    _next_id: int = 100

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.endpoint}/token"

    # --- test helpers ---------------------------------------------------------------------

    def service_account_key(self, folder: Path, email: str = "loader@dteg-test.iam."
                            "gserviceaccount.com", *, trusted: bool = True) -> Path:
        """A real RSA service-account key file; ``trusted``: the server knows its public key."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        if trusted:
            self.accounts[email] = key.public_key()
        path = folder / f"{email.split('@')[0]}-{secrets.token_hex(3)}.json"
        path.write_text(json.dumps({
            "type": "service_account", "project_id": "dteg-test",
            "private_key_id": secrets.token_hex(8), "private_key": pem,
            "client_email": email, "client_id": "1234567890",
            "token_uri": self.token_uri}), encoding="utf-8")
        return path

    def create(self, spreadsheet_id: str, sheets: dict[str, list[list[Any]]]) -> None:
        with self.lock:
            self.books[spreadsheet_id] = [self._sheet(t, [list(r) for r in rows])
                                          for t, rows in sheets.items()]

    def values(self, spreadsheet_id: str, title: str) -> list[list[str]]:
        """What values.get of the whole sheet would answer (formatted, trailing empties cut)."""
        with self.lock:
            sheet = self._find(spreadsheet_id, title)
            return _trim([[formatted(v) for v in row] for row in sheet.rows])

    def titles(self, spreadsheet_id: str) -> list[str]:
        with self.lock:
            return [s.title for s in self.books[spreadsheet_id]]

    def throttle(self, n: int) -> None:
        self._throttle = n

    def fail_after(self, n: int | None) -> None:
        self._fail_after = n

    # --- internals -----------------------------------------------------------------------

    def _sheet(self, title: str, rows: list[list[Any]] | None = None) -> Sheet:
        self._next_id += 1
        return Sheet(self._next_id, title, rows=rows or [])

    def _find(self, spreadsheet_id: str, title: str) -> Sheet:
        for sheet in self.books[spreadsheet_id]:
            if sheet.title == title:
                return sheet
        raise KeyError(title)

    def grant(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        self.token_requests += 1
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return 400, {"error": "unsupported_grant_type"}
        try:
            head, body, signature = form["assertion"][0].split(".")
            claims = json.loads(_b64(body))
            header = json.loads(_b64(head))
        except (KeyError, ValueError):
            return 400, {"error": "invalid_grant", "error_description": "Bad JWT."}
        public = self.accounts.get(claims.get("iss", ""))
        if public is None or header.get("alg") != "RS256":
            return 400, {"error": "invalid_grant",
                         "error_description": "Invalid JWT Signature."}
        try:
            public.verify(_b64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(),
                          hashes.SHA256())
        except Exception:
            return 400, {"error": "invalid_grant",
                         "error_description": "Invalid JWT Signature."}
        now = time.time()
        # google-auth always names Google's token endpoint as the audience.
        if claims.get("aud") not in (GOOGLE_TOKEN_URI, self.token_uri) or not (
                claims.get("iat", 0) - 300 <= now <= claims.get("exp", 0) + 300):
            return 400, {"error": "invalid_grant",
                         "error_description": "Invalid JWT: Token must be a short-lived "
                         "token and in a reasonable timeframe."}
        if "https://www.googleapis.com/auth/spreadsheets" not in str(claims.get("scope")):
            return 400, {"error": "invalid_scope"}
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.tokens[token] = now + 3600
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def sheets_call(self, method: str, path: str, query: dict[str, list[str]],
                    body: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        m = re.fullmatch(r"/v4/spreadsheets/([^/:]+)(:batchUpdate)?(?:/values/([^/]+?)"
                         r"(:append|:clear)?)?", path)
        if not m:
            return 404, _error(404, "Not found"), {}
        book_id, batch, a1, action = m.group(1), m.group(2), m.group(3), m.group(4)
        if book_id not in self.books:
            return 404, _error(404, "Requested entity was not found."), {}
        self.calls.append(f"{method} {(batch or '') or (action or '')} {unquote(a1 or '')}")
        if self._throttle > 0:
            self._throttle -= 1
            return 429, _error(429, "Quota exceeded for quota metric 'Write requests'"), {
                "Retry-After": "1"}
        if self._fail_after is not None:
            if self._fail_after <= 0:
                return 500, _error(500, "Internal error encountered."), {}
            self._fail_after -= 1
        try:
            if batch:
                return 200, self._batch_update(book_id, body["requests"]), {}
            if a1 is None:
                return 200, {"spreadsheetId": book_id, "sheets": [
                    {"properties": {"sheetId": s.sheet_id, "title": s.title, "index": i,
                                    "hidden": s.hidden}}
                    for i, s in enumerate(self.books[book_id])]}, {}
            rng = parse_range(unquote(a1))
            sheet = self._find(book_id, rng.sheet)
        except KeyError as exc:
            return 400, _error(400, f"Unable to parse range: {exc}"), {}
        except ValueError as exc:
            return 400, _error(400, str(exc)), {}
        if method == "GET":
            return 200, {"range": unquote(a1), "majorDimension": "ROWS",
                         "values": _read(sheet, rng)}, {}
        if action == ":clear":
            _clear(sheet, rng)
            return 200, {"spreadsheetId": book_id, "clearedRange": unquote(a1)}, {}
        values = body.get("values", [])
        if query.get("valueInputOption") != ["RAW"]:
            return 400, _error(400, "valueInputOption is required"), {}
        if action == ":append":
            _trim_rows(sheet)
            start = len(sheet.rows)
            for row in values:
                sheet.rows.append([""] * rng.col0 + list(row))
            return 200, {"updates": {"updatedRows": len(values),
                                     "updatedRange": f"{sheet.title}!A{start + 1}"}}, {}
        _write(sheet, rng, values)
        return 200, {"updatedRows": len(values)}, {}

    def _batch_update(self, book_id: str, requests: list[dict[str, Any]]) -> dict[str, Any]:
        sheets = list(self.books[book_id])  # applied to a copy: all or nothing
        for request in requests:
            if "addSheet" in request:
                props = request["addSheet"]["properties"]
                if any(s.title == props["title"] for s in sheets):
                    raise ValueError(f"A sheet with the name \"{props['title']}\" already exists.")
                new = self._sheet(props["title"])
                new.hidden = bool(props.get("hidden"))
                sheets.append(new)
            elif "deleteSheet" in request:
                sid = request["deleteSheet"]["sheetId"]
                if not any(s.sheet_id == sid for s in sheets):
                    raise ValueError(f"No grid with id: {sid}")
                sheets = [s for s in sheets if s.sheet_id != sid]
            elif "updateSheetProperties" in request:
                props = request["updateSheetProperties"]["properties"]
                target = next((s for s in sheets if s.sheet_id == props["sheetId"]), None)
                if target is None:
                    raise ValueError(f"No grid with id: {props['sheetId']}")
                if any(s.title == props.get("title") and s is not target for s in sheets):
                    raise ValueError("A sheet with that name already exists.")
                renamed = Sheet(target.sheet_id, props.get("title", target.title),
                                bool(props.get("hidden", target.hidden)), target.rows)
                sheets = [renamed if s is target else s for s in sheets]
            else:
                raise ValueError(f"unsupported request {sorted(request)}")
        self.books[book_id] = sheets
        return {"spreadsheetId": book_id, "replies": [{} for _ in requests]}


def _error(code: int, message: str) -> dict[str, Any]:
    status = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND",
              429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}.get(code, "UNKNOWN")
    return {"error": {"code": code, "message": message, "status": status}}


def _trim(rows: list[list[str]]) -> list[list[str]]:
    out = [list(r) for r in rows]
    for row in out:
        while row and row[-1] == "":
            row.pop()
    while out and not out[-1]:
        out.pop()
    return out


def _trim_rows(sheet: Sheet) -> None:
    while sheet.rows and all(v == "" for v in sheet.rows[-1]):
        sheet.rows.pop()


def _read(sheet: Sheet, rng: Range) -> list[list[str]]:
    last = len(sheet.rows) - 1 if rng.row1 is None else min(rng.row1, len(sheet.rows) - 1)
    rows = []
    for r in range(rng.row0, last + 1):
        row = sheet.rows[r]
        end = len(row) if rng.col1 is None else rng.col1 + 1
        rows.append([formatted(v) for v in row[rng.col0:end]])
    return _trim(rows)


def _write(sheet: Sheet, rng: Range, values: list[list[Any]]) -> None:
    for i, row in enumerate(values):
        r = rng.row0 + i
        while len(sheet.rows) <= r:
            sheet.rows.append([])
        target = sheet.rows[r]
        for j, value in enumerate(row):
            c = rng.col0 + j
            while len(target) <= c:
                target.append("")
            target[c] = "" if value is None else value


def _clear(sheet: Sheet, rng: Range) -> None:
    last = len(sheet.rows) - 1 if rng.row1 is None else min(rng.row1, len(sheet.rows) - 1)
    for r in range(rng.row0, last + 1):
        row = sheet.rows[r]
        end = len(row) if rng.col1 is None else min(rng.col1 + 1, len(row))
        for c in range(rng.col0, end):
            row[c] = ""


def _handler(state: FakeSheets) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, code: int, body: dict[str, Any],
                  headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self.rfile.read(length)
                return None
            return self.rfile.read(length) if length else b""

        def _dispatch(self, method: str) -> None:
            url = urlparse(self.path)
            raw = self._body()
            if raw is None:
                self._send(400, _error(400, "Request payload size exceeds the limit: "
                                            f"{MAX_BODY} bytes."))
                return
            if url.path == "/token" and method == "POST":
                with state.lock:
                    code, answer = state.grant(parse_qs(raw.decode()))
                self._send(code, answer)
                return
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ")
            if not auth.startswith("Bearer ") or state.tokens.get(token, 0) < time.time():
                self._send(401, _error(401, "Request had invalid authentication credentials."))
                return
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                self._send(400, _error(400, "Invalid JSON payload received."))
                return
            with state.lock:
                try:
                    code, answer, headers = state.sheets_call(
                        method, url.path, parse_qs(url.query), body)
                except ValueError as exc:
                    code, answer, headers = 400, _error(400, str(exc)), {}
            self._send(code, answer, headers)

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

    return Handler


@pytest.fixture
def fake_sheets() -> Iterator[FakeSheets]:
    """A running stand-in on a free 127.0.0.1 port, stopped after the test."""
    state = FakeSheets()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
