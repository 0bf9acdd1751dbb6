"""FastAPI dependencies of the registry: its stores, the publisher behind a token, the admin
check, and the one way routes report errors (JSON ``{"detail": {"type", "message"}}``)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request

from dteg.marketplace.server.artifacts import ArtifactStore
from dteg.marketplace.server.storage import MetadataStore


def fail(status: int, kind: str, message: str, **extra: Any) -> HTTPException:
    """An API error with a type the client can act on."""
    return HTTPException(status, detail={"type": kind, "message": message, **extra})


def get_store(request: Request) -> MetadataStore:
    """The app's metadata store."""
    store: MetadataStore = request.app.state.store
    return store


def get_artifacts(request: Request) -> ArtifactStore:
    """The app's artifact store."""
    artifacts: ArtifactStore = request.app.state.artifacts
    return artifacts


def _bearer(authorization: str | None) -> str:
    return (authorization or "").removeprefix("Bearer ").strip()


def require_admin(request: Request,
                  authorization: Annotated[str | None, Header()] = None) -> None:
    """The registry's admin token (set at start); without one, admin routes are closed."""
    expected = request.app.state.admin_token
    if not expected or not hmac.compare_digest(_bearer(authorization), expected):
        raise fail(401, "auth", "this needs the registry's admin token")


def require_publisher(store: Annotated[MetadataStore, Depends(get_store)],
                      authorization: Annotated[str | None, Header()] = None) -> str:
    """The publisher whose token the request carries."""
    given = _bearer(authorization)
    found = store.publisher_of_token(given) if given else None
    if found is None:
        raise fail(401, "auth", "publishing needs a valid publisher token "
                   "(Authorization: Bearer …)")
    return str(found["_id"])


Store = Annotated[MetadataStore, Depends(get_store)]
Artifacts = Annotated[ArtifactStore, Depends(get_artifacts)]
Publisher = Annotated[str, Depends(require_publisher)]
