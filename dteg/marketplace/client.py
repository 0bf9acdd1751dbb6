"""The registry's HTTP client: what ``dteg search/install/update`` and ``dteg publish`` ask of
a registry. Every failure is a ``RegistryError`` (a ``ConnectorError``) that names the registry
and says what to do; tokens never appear in messages.

The registry URL comes from the caller, else ``DTEG_MARKETPLACE_URL``, else the local registry
that ``scripts/services/marketplace`` starts (``DEFAULT_URL``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dteg.errors import ConnectorError

DEFAULT_URL = "http://127.0.0.1:58080"


class RegistryError(ConnectorError):
    """The registry refused a request or could not be reached."""

    def __init__(self, message: str, *, hint: str | None = None, retriable: bool = False,
                 status: int | None = None, kind: str | None = None,
                 detail: dict[str, Any] | None = None) -> None:
        self.status = status
        self.kind = kind
        self.detail = detail or {}
        super().__init__(message, hint=hint, retriable=retriable)

    def __reduce__(self) -> Any:  # picklable like every dteg error
        return (_rebuild, (self.message, self.hint, self.retriable, self.status, self.kind,
                           self.detail))


def _rebuild(*args: Any) -> RegistryError:
    message, hint, retriable, status, kind, detail = args
    return RegistryError(message, hint=hint, retriable=retriable, status=status, kind=kind,
                         detail=detail)


def registry_url(url: str | None = None) -> str:
    """The registry to talk to: ``url``, ``DTEG_MARKETPLACE_URL``, or ``DEFAULT_URL``."""
    return (url or os.environ.get("DTEG_MARKETPLACE_URL") or DEFAULT_URL).rstrip("/")


class RegistryClient:
    """A registry at ``url``. Its token (sent with every request): ``token``, else
    ``DTEG_MARKETPLACE_TOKEN``, else the one ``dteg marketplace login`` saved for ``url``."""

    def __init__(self, url: str | None = None, token: str | None = None,
                 timeout: float = 60.0) -> None:
        try:
            import httpx
        except ImportError:
            raise RegistryError("the marketplace client needs httpx",
                                hint="Install it with `pip install 'dteg[marketplace]'`.") from None
        from dteg.marketplace.credentials import saved_token

        self.url = registry_url(url)
        self._token = token or os.environ.get("DTEG_MARKETPLACE_TOKEN") or saved_token(self.url)
        self._http = httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, token: str | None = None,
                 ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        import httpx

        token = token or self._token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise RegistryError(
                f"the marketplace registry at {self.url} did not answer ({type(exc).__name__})",
                hint="Start the local one (scripts/services/marketplace start) or set "
                     "DTEG_MARKETPLACE_URL to a running registry.", retriable=True) from None
        if response.status_code not in ok:
            raise self._refusal(method, path, response)
        return response

    def _refusal(self, method: str, path: str, response: Any) -> RegistryError:
        detail: dict[str, Any] = {}
        try:
            body = response.json()
            detail = body.get("detail") if isinstance(body.get("detail"), dict) else {
                "message": str(body.get("detail"))}
        except (ValueError, AttributeError):
            detail = {"message": response.text[:300]}
        kind = str(detail.get("type") or "")
        hint = {"auth": "Sign in with `dteg marketplace login --token T` (a user token from the "
                        "registry's admin), or set DTEG_MARKETPLACE_TOKEN (publisher token).",
                "not_found": "`dteg search TEXT` lists what the registry has.",
                "version": "Raise `version:` in dteg-component.yaml (semver).",
                "gates": "Fix what the failed gates say, then publish again.",
                "signature": "Register your key (`dteg publisher-key register`) and publish "
                             "again.",
                "incompatible": "Pick a version that fits, or upgrade dteg/Python."}.get(
            kind, "Check the request; the registry's log has more.")
        return RegistryError(
            f"the registry {self.url} refused {method} {path} ({response.status_code}): "
            f"{detail.get('message', '')}", hint=hint, status=response.status_code,
            kind=kind, detail=detail, retriable=response.status_code >= 500)

    # --- reading -------------------------------------------------------------------------

    def search(self, text: str = "", *, kind: str | None = None, category: str | None = None,
               limit: int = 50) -> list[dict[str, Any]]:
        """Ranked components matching ``text`` (and kind/category)."""
        params: dict[str, Any] = {"q": text, "limit": limit}
        if kind:
            params["kind"] = kind
        if category:
            params["category"] = category
        results: list[dict[str, Any]] = self._request(
            "GET", "/api/v1/search", params=params).json()["results"]
        return results

    def component(self, name: str) -> dict[str, Any]:
        """A component with every version (RegistryError kind ``not_found`` if unknown)."""
        found: dict[str, Any] = self._request("GET", f"/api/v1/components/{name}").json()
        return found

    def versions(self, name: str) -> list[dict[str, Any]]:
        """Every published version of ``name``, oldest first."""
        return list(self.component(name)["versions"])

    def latest_version(self, name: str) -> str | None:
        """The newest published version, or None for a name never published."""
        try:
            return self.component(name).get("latest_version")
        except RegistryError as exc:
            if exc.status == 404:
                return None
            raise

    def version(self, name: str, version: str) -> dict[str, Any]:
        found: dict[str, Any] = self._request(
            "GET", f"/api/v1/components/{name}/versions/{version}").json()
        return found

    def compatible(self, name: str, *, dteg: str, python: str) -> dict[str, Any]:
        """The newest version that fits; RegistryError kind ``incompatible`` (with ``detail``
        ["reasons"]) when none does."""
        found: dict[str, Any] = self._request(
            "GET", f"/api/v1/components/{name}/compatible",
            params={"dteg": dteg, "python": python}).json()
        return found

    def gate_report(self, name: str, version: str) -> dict[str, Any]:
        found: dict[str, Any] = self._request(
            "GET", f"/api/v1/components/{name}/versions/{version}/gates").json()
        return found

    def downloads(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._request(
            "GET", f"/api/v1/components/{name}/downloads").json()
        return found

    def advisories(self) -> list[dict[str, Any]]:
        """The registry's vulnerability list (OSV objects)."""
        return list(self._request("GET", "/api/v1/advisories").json()["advisories"])

    def publisher_keys(self, publisher: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"/api/v1/publishers/{publisher}/keys").json()["keys"])

    def download(self, artifact: dict[str, Any], folder: Path) -> Path:
        """Fetch an artifact's file into ``folder`` (streamed); returns its path."""
        target = folder / Path(artifact["filename"]).name
        with self._http.stream("GET", artifact["url"]) as response:
            if response.status_code != 200:
                response.read()
                raise self._refusal("GET", artifact["url"], response)
            with target.open("wb") as out:
                for chunk in response.iter_bytes(1 << 16):
                    out.write(chunk)
        return target

    # --- accounts ------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        """Who this client's token is (RegistryError kind ``auth`` without a valid one)."""
        found: dict[str, Any] = self._request("GET", "/api/v1/me").json()
        return found

    def create_user(self, name: str, admin_token: str, *, organisation: str | None = None,
                    role: str = "user", publisher: str | None = None) -> str:
        """A registry user's token (shown once), made with an admin token."""
        return str(self._request(
            "POST", "/api/v1/users", token=admin_token,
            json={"name": name, "organisation": organisation, "role": role,
                  "publisher": publisher}).json()["token"])

    def audit(self, *, action: str | None = None, target: str | None = None) -> list[Any]:
        """The registry's audit entries, newest first (admin only)."""
        params = {k: v for k, v in (("action", action), ("target", target)) if v}
        return list(self._request("GET", "/api/v1/audit", params=params).json()["items"])

    def publisher(self, publisher: str) -> dict[str, Any]:
        """A publisher's page: ``{name, verified, official, components}``."""
        found: dict[str, Any] = self._request("GET", f"/api/v1/publishers/{publisher}").json()
        return found

    def verify_publisher(self, publisher: str, verified: bool = True) -> dict[str, Any]:
        """Mark a publisher verified (admin token)."""
        found: dict[str, Any] = self._request(
            "POST", f"/api/v1/publishers/{publisher}/verified", json={"verified": verified}).json()
        return found

    # --- any JSON call (dteg.marketplace.community builds on it) ---------------------------

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A JSON API call with this client's token; the parsed answer."""
        return self._request(method, path, **kwargs).json()

    # --- writing -------------------------------------------------------------------------

    def _need_token(self) -> str:
        if not self._token:
            raise RegistryError("publishing needs a publisher token",
                                hint="Set DTEG_MARKETPLACE_TOKEN (or --token); the registry's "
                                     "admin creates one with `dteg marketplace publisher NAME`.")
        return self._token

    def add_publisher_key(self, publisher: str, public_key_b64: str) -> dict[str, Any]:
        """Register an Ed25519 public key (base64, raw 32 bytes) for the token's publisher."""
        found: dict[str, Any] = self._request(
            "POST", f"/api/v1/publishers/{publisher}/keys", token=self._need_token(),
            json={"public_key": public_key_b64}).json()
        return found

    def publish(self, manifest: dict[str, Any], wheel: Path, sdist: Path,
                signatures: dict[str, dict[str, Any]],
                gate_report: dict[str, Any]) -> dict[str, Any]:
        """Upload one version: the manifest, gate report, signatures and both artifacts."""
        with wheel.open("rb") as whl, sdist.open("rb") as sd:
            found: dict[str, Any] = self._request(
                "POST", "/api/v1/publish", token=self._need_token(),
                data={"manifest": json.dumps(manifest, default=str),
                      "gate_report": json.dumps(gate_report, default=str),
                      "signatures": json.dumps(signatures)},
                files={"wheel": (wheel.name, whl, "application/octet-stream"),
                       "sdist": (sdist.name, sd, "application/gzip")}).json()
        return found

    def create_publisher(self, name: str, admin_token: str, *, official: bool = False) -> str:
        """A publisher's token (shown once), made with the registry's admin token."""
        return str(self._request("POST", "/api/v1/publishers", token=admin_token,
                                 json={"name": name, "official": official}).json()["token"])

    def add_advisory(self, advisory: dict[str, Any], admin_token: str) -> None:
        self._request("POST", "/api/v1/advisories", token=admin_token, json=advisory)
