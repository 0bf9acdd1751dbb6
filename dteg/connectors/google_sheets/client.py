"""The few Sheets v4 calls dteg makes (spreadsheets.get/batchUpdate,
values.get/append/update/clear),
through google-auth: a service account's credentials (a JWT signed with its key, exchanged
at its token endpoint) and an ``AuthorizedSession``, which adds the access token and
refreshes it. 429 (quota) and 5xx answers are retried with backoff, honouring Retry-After.
google-auth and requests are imported here, on first use."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from dteg.connectors.google_sheets.config import SheetsConnection
from dteg.connectors.retry import call
from dteg.errors import ConnectorError

SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
_TIMEOUT = (5, 120)


class SheetsHttpError(Exception):
    """A non-2xx answer; ``status`` makes ``dteg.connectors.retry`` retry 429 and 5xx."""

    def __init__(self, status: int, message: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after = retry_after


def a1_sheet(sheet: str) -> str:
    """A sheet name as A1 notation wants it: quoted, with quotes doubled."""
    return "'" + sheet.replace("'", "''") + "'"


def column_letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass
class SheetsClient:
    """One authorized session for one step's settings (built lazily, per process)."""

    config: SheetsConnection
    step: str | None = None
    _session: Any = field(default=None, init=False, repr=False)

    def _credentials_info(self) -> dict[str, Any]:
        cfg = self.config
        try:
            if cfg.credentials_json is not None:
                info = json.loads(cfg.credentials_json.get_secret_value())
            else:
                assert cfg.credentials_file is not None
                with open(cfg.credentials_file, encoding="utf-8") as f:
                    info = json.load(f)
        except FileNotFoundError:
            raise ConnectorError(
                f"the service-account key file {cfg.credentials_file} does not exist",
                step=self.step, hint="Point `credentials_file` at the JSON key you downloaded "
                "for the service account.") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ConnectorError(
                "the service-account key is not valid JSON", step=self.step,
                hint="Use the JSON key file Google Cloud made for the service account.",
            ) from None
        if not isinstance(info, dict) or info.get("type") != "service_account":
            raise ConnectorError(
                "the credentials are not a service-account key (`type: service_account`)",
                step=self.step, hint="Create a key for a service account and share the "
                "spreadsheet with its e-mail address.")
        if cfg.token_uri:
            info["token_uri"] = cfg.token_uri
        return info

    def session(self) -> Any:
        if self._session is None:
            try:
                from google.auth.transport.requests import AuthorizedSession
                from google.oauth2 import service_account
            except ImportError:
                raise ConnectorError(
                    "google_sheets needs google-auth and requests", step=self.step,
                    hint="Install them with `pip install 'dteg[sheets]'`.") from None
            try:
                creds = service_account.Credentials.from_service_account_info(
                    self._credentials_info(), scopes=list(SCOPES))
            except ConnectorError:
                raise
            except Exception as exc:  # a malformed private key, a missing field
                raise ConnectorError(
                    f"cannot load the service-account key: {type(exc).__name__}",
                    step=self.step, hint="Use the unmodified JSON key file of the account.",
                ) from None
            self._session = AuthorizedSession(creds)
        return self._session

    # --- the calls -----------------------------------------------------------------------

    def spreadsheet(self) -> dict[str, Any]:
        """spreadsheets.get (properties and sheet titles only)."""
        return self._call("GET", "", params={"fields": "spreadsheetId,sheets.properties"},
                          what="reading the spreadsheet")

    def sheet_titles(self) -> list[str]:
        return [s["properties"]["title"] for s in self.spreadsheet().get("sheets", [])]

    def get_values(self, a1: str) -> list[list[Any]]:
        """values.get of a range, as formatted text (what a person sees in the cell)."""
        body = self._call("GET", f"/values/{quote(a1, safe='')}",
                          params={"majorDimension": "ROWS", "valueRenderOption":
                                  "FORMATTED_VALUE"}, what=f"reading {a1}")
        return list(body.get("values", []))

    def update(self, a1: str, values: list[list[Any]]) -> None:
        """values.update with RAW input (no formula or date parsing of what dteg writes)."""
        self._call("PUT", f"/values/{quote(a1, safe='')}", params={"valueInputOption": "RAW"},
                   body={"range": a1, "majorDimension": "ROWS", "values": values},
                   what=f"writing {a1}")

    def append(self, a1: str, values: list[list[Any]]) -> None:
        """values.append below the table in ``a1`` (new rows are inserted)."""
        self._call("POST", f"/values/{quote(a1, safe='')}:append",
                   params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                   body={"majorDimension": "ROWS", "values": values},
                   what=f"appending to {a1}", retry=False)

    def batch_update(self, requests: list[dict[str, Any]], *, what: str) -> dict[str, Any]:
        """spreadsheets.batchUpdate: the API applies all ``requests`` or none."""
        return self._call("POST", ":batchUpdate", body={"requests": requests}, what=what)

    def clear(self, a1: str) -> None:
        self._call("POST", f"/values/{quote(a1, safe='')}:clear", body={},
                   what=f"clearing {a1}")

    # --- plumbing -------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        root = self.config.api_endpoint.rstrip("/")
        return f"{root}/v4/spreadsheets/{quote(self.config.spreadsheet_id, safe='')}{path}"

    def _call(self, method: str, path: str, *, what: str, params: dict[str, str] | None = None,
              body: dict[str, Any] | None = None, retry: bool = True) -> dict[str, Any]:
        session = self.session()
        url = self._url(path)

        def once() -> dict[str, Any]:
            try:
                response = session.request(method, url, params=params, json=body,
                                           timeout=_TIMEOUT)
            except Exception as exc:
                _refused(exc, self.step)
                raise
            if response.status_code >= 400:
                raise _http_error(response)
            return dict(response.json()) if response.content else {}

        def guarded() -> dict[str, Any]:
            try:
                return once()
            except SheetsHttpError as exc:
                _fatal(exc, self.config, self.step)
                if exc.retry_after:  # the server said how long; the backoff adds its own
                    time.sleep(min(exc.retry_after, 60.0))
                raise

        if retry:
            return call(guarded, what=what, settings=self.config.retry, step=self.step)
        # An append is not idempotent: only an answer that refused it (429 quota, 503) is
        # retried, never a dropped connection, after which the rows may have been added.
        return call(guarded, what=what, settings=self.config.retry, step=self.step,
                    transient=_refusal)


def _refusal(exc: BaseException) -> bool:
    return isinstance(exc, SheetsHttpError) and exc.status in (429, 503)


def _http_error(response: Any) -> SheetsHttpError:
    try:
        error = response.json().get("error", {})
        message = str(error.get("message") or error.get("status") or response.reason)
    except ValueError:
        message = str(response.reason or response.text[:200])
    retry_after = response.headers.get("Retry-After")
    try:
        wait = float(retry_after) if retry_after else None
    except ValueError:
        wait = None
    return SheetsHttpError(response.status_code, message, wait)


def _fatal(exc: SheetsHttpError, cfg: SheetsConnection, step: str | None) -> None:
    """Answers no retry can fix become one clear error; 429 and 5xx return (retried)."""
    if exc.status == 404:
        raise ConnectorError(
            f"spreadsheet {cfg.spreadsheet_id} was not found", step=step,
            hint="Check `spreadsheet_id` (the id in the spreadsheet's URL).") from None
    if exc.status in (401, 403):
        raise ConnectorError(
            f"Google Sheets refused access to spreadsheet {cfg.spreadsheet_id} "
            f"({exc.status}): {exc}", step=step,
            hint="Share the spreadsheet with the service account's e-mail address (Editor "
            "for a sink, Viewer for a source).") from None
    if exc.status == 400:
        raise ConnectorError(f"Google Sheets rejected the request: {exc}", step=step,
                             hint="Check `sheet` (the tab's name) and the data.") from None


def _refused(exc: BaseException, step: str | None) -> None:
    """The token endpoint refused the service account (a RefreshError)."""
    if type(exc).__name__ == "RefreshError":
        detail = str(exc.args[0]) if exc.args else "refused"
        raise ConnectorError(
            f"the token endpoint refused the service account's credentials: {detail}",
            step=step, hint="The key may be revoked or belong to another account: create a "
            "new key for the service account and use its JSON file.") from None
