"""dteg server's side of the marketplace registry: which registry (settings), a read-only
client over it, its refusals as API errors, and the install command a page shows.

The registry's user token (``DTEG_MARKETPLACE_ORG_TOKEN``) is sent only to the registry, for
the organisation's licence, usage and invoice pages; no answer of dteg server contains it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dteg.marketplace.client import DEFAULT_URL, RegistryClient, RegistryError, registry_url
from dteg.server.errors import ApiError

# A page waits at most this long for the registry (a registry that is down refuses at once).
TIMEOUT_S = 20.0


@dataclass(frozen=True)
class MarketplaceSettings:
    """``DTEG_MARKETPLACE_URL`` (default: the local registry), and for the organisation pages
    ``DTEG_MARKETPLACE_ORG`` (the registry organisation this server belongs to) with
    ``DTEG_MARKETPLACE_ORG_TOKEN`` (a registry token of one of its admins)."""

    url: str = DEFAULT_URL
    organisation: str | None = None
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls) -> MarketplaceSettings:
        env = os.environ
        return cls(url=registry_url(), organisation=env.get("DTEG_MARKETPLACE_ORG") or None,
                   token=env.get("DTEG_MARKETPLACE_ORG_TOKEN") or None)


class RegistryReader(RegistryClient):
    """GETs against the registry's JSON API (what the marketplace pages show)."""

    def get(self, path: str, *, params: dict[str, Any] | None = None,
            token: str | None = None) -> Any:
        return self._request("GET", path, params=params, token=token).json()

    def optional(self, path: str, *, params: dict[str, Any] | None = None,
                 token: str | None = None) -> Any | None:
        """The answer, or None when the registry has no such route (an older registry: its
        404 names no error type, unlike a 404 for an unknown component)."""
        try:
            return self.get(path, params=params, token=token)
        except RegistryError as exc:
            if exc.status in (404, 405) and not exc.kind:
                return None
            raise


@contextmanager
def reader(settings: MarketplaceSettings) -> Iterator[RegistryReader]:
    """A client of the configured registry, whose refusals become API errors."""
    try:
        client = RegistryReader(settings.url, token=None, timeout=TIMEOUT_S)
        try:
            yield client
        finally:
            client.close()
    except RegistryError as exc:
        raise as_api_error(exc) from None


def as_api_error(exc: RegistryError) -> ApiError:
    """404 stays 404; a registry that does not answer is 502 ``registry_unavailable``; any
    other refusal is 502 ``registry_error`` with the registry's own words."""
    if exc.status == 404 and exc.kind == "not_found":
        return ApiError(404, "not_found", str(exc.detail.get("message") or exc.message),
                        hint="Search the marketplace for the name.")
    if exc.status is None:
        return ApiError(502, "registry_unavailable", exc.message,
                        hint=exc.hint or "Check DTEG_MARKETPLACE_URL and that the registry "
                        "runs.")
    if exc.status in (401, 403):
        return ApiError(502, "registry_refused", exc.message,
                        hint="The registry refused this server's token: set "
                        "DTEG_MARKETPLACE_ORG_TOKEN to a token of an organisation admin.")
    return ApiError(502, "registry_error", exc.message, hint=exc.hint)


def install_command(name: str, version: str | None, registry: str) -> str:
    """What a user types to install ``name`` (pinned), from this server's registry."""
    ref = f"marketplace://{name}@{version}" if version else f"marketplace://{name}"
    command = f"dteg install {ref}"
    return command if registry.rstrip("/") == DEFAULT_URL else f"{command} --registry {registry}"
