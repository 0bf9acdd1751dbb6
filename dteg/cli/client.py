"""The command line's client of a dteg server's API: where the server is, the credentials
`dteg login` saved for it (refreshed when they expire), JSON requests whose errors become one
paragraph, and following a run's Server-Sent Events.

Credentials live in ``$XDG_CONFIG_HOME/dteg/credentials.json`` (``~/.config/…``), readable by
the user only, one entry per server URL. ``DTEG_TOKEN`` (an API token) wins over them;
``DTEG_SERVER`` is the default server."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dteg.errors import ConfigError, DtegError

DEFAULT_SERVER = "http://127.0.0.1:8265"


def server_url(given: str | None) -> str:
    return (given or os.environ.get("DTEG_SERVER") or DEFAULT_SERVER).rstrip("/")


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dteg" / "credentials.json"


def _load_all() -> dict[str, Any]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_credentials(server: str, entry: dict[str, Any] | None) -> Path:
    """Keep (or, with None, forget) the credentials of ``server``; the file is 0600."""
    data = _load_all()
    if entry is None:
        data.pop(server, None)
    else:
        data[server] = entry
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(temporary, path)
    return path


class ServerError(DtegError):
    """The server refused or failed a request (its JSON error, in one paragraph)."""

    def __init__(self, status: int, body: dict[str, Any], url: str) -> None:
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        self.status = status
        self.type = str(error.get("type") or "error")
        message = str(error.get("message") or f"HTTP {status}")
        super().__init__(f"{url}: {message}", hint=error.get("hint"))


@dataclass
class ServerClient:
    server: str
    timeout: float = 60.0

    def __post_init__(self) -> None:
        self.server = server_url(self.server)
        self._entry: dict[str, Any] = _load_all().get(self.server, {})

    # --- credentials ---------------------------------------------------------------------

    def _bearer(self) -> str | None:
        token = os.environ.get("DTEG_TOKEN") or self._entry.get("api_token") or self._entry.get(
            "access_token")
        return str(token) if token else None

    def _refresh(self) -> bool:
        refresh = self._entry.get("refresh_token")
        if not refresh or os.environ.get("DTEG_TOKEN"):
            return False
        try:
            answer = self._send("POST", "/api/v1/auth/token", form={
                "grant_type": "refresh_token", "refresh_token": refresh}, auth=False)
        except ServerError:
            return False
        self._entry.update(access_token=answer["access_token"],
                           refresh_token=answer.get("refresh_token") or refresh)
        save_credentials(self.server, self._entry)
        return True

    # --- requests ------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None,
                 form: dict[str, str] | None = None, auth: bool = True,
                 accept: str = "application/json") -> urllib.request.Request:
        headers = {"Accept": accept}
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        bearer = self._bearer() if auth else None
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        return urllib.request.Request(f"{self.server}{path}", data=data, method=method,
                                      headers=headers)

    def _open(self, request: urllib.request.Request) -> Any:
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read() or b"{}")
            except ValueError:
                body = {}
            raise ServerError(exc.code, body if isinstance(body, dict) else {},
                              request.full_url) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConfigError(f"cannot reach the dteg server at {self.server}: {reason}",
                              hint="Is `dteg server` running there? Pass --server URL or "
                              "set DTEG_SERVER.") from None

    def _send(self, method: str, path: str, body: Any = None,
              form: dict[str, str] | None = None, auth: bool = True) -> Any:
        with self._open(self._request(method, path, body, form, auth)) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return self._send(method, path, body)
        except ServerError as exc:
            if exc.status == 401 and self._refresh():
                return self._send(method, path, body)
            if exc.status == 401:
                raise ServerError(401, {"error": {
                    "message": str(exc.message).split(": ", 1)[-1],
                    "hint": f"Sign in: `dteg login --server {self.server}` (or set "
                    "DTEG_TOKEN to an API token)."}}, f"{self.server}{path}") from None
            raise

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, {} if body is None else body)

    def text(self, path: str) -> str:
        with self._open(self._request("GET", path, accept="*/*")) as answer:
            return str(answer.read().decode())

    def login(self, username: str, password: str) -> dict[str, Any]:
        answer = self._send("POST", "/api/v1/auth/token", form={
            "grant_type": "password", "username": username, "password": password},
            auth=False)
        self._entry = {"access_token": answer["access_token"],
                       "refresh_token": answer.get("refresh_token"), "user": username}
        save_credentials(self.server, self._entry)
        return dict(answer)

    def use_api_token(self, token: str) -> None:
        self._entry = {"api_token": token}
        me = self.get("/api/v1/auth/me")
        self._entry["user"] = me["name"]
        save_credentials(self.server, self._entry)

    def logout(self) -> None:
        refresh = self._entry.get("refresh_token")
        if refresh:  # forgotten here either way
            with contextlib.suppress(ServerError, ConfigError):
                self._send("POST", "/api/v1/auth/logout", {"refresh_token": refresh},
                           auth=False)
        save_credentials(self.server, None)

    def events(self, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event, data) pairs of a Server-Sent Events stream, as they arrive."""
        self.get("/api/v1/auth/me")  # refreshes an expired token before the long request
        request = self._request("GET", path, accept="text/event-stream")
        with self._open(request) as stream:
            kind, data = "message", list[str]()
            for raw in stream:
                line = raw.decode().rstrip("\n")
                if not line:
                    if data:
                        yield kind, json.loads("\n".join(data))
                    kind, data = "message", []
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data.append(line[6:])
