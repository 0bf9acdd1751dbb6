"""FastAPI dependencies of the registry: its stores, the publisher behind a token, and the one
way routes report errors (JSON ``{"detail": {"type", "message"}}``). Users, the admin check
and the audit log are in ``accounts``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request

from dteg.marketplace.server.artifacts import ArtifactStore
from dteg.marketplace.server.storage import MetadataStore


def fail(status: int, kind: str, message: str, **extra: Any) -> HTTPException:
    """An API error with a type the client can act on."""
    return HTTPException(status, detail={"type": kind, "message": message, **extra})


def component_or_404(store: MetadataStore, name: str) -> dict[str, Any]:
    """The component document of ``name``, or a 404 naming it."""
    found = store.component(name)
    if found is None:
        raise fail(404, "not_found", f"no component `{name}` in this registry")
    return found


def get_store(request: Request) -> MetadataStore:
    """The app's metadata store."""
    store: MetadataStore = request.app.state.store
    return store


def get_artifacts(request: Request) -> ArtifactStore:
    """The app's artifact store."""
    artifacts: ArtifactStore = request.app.state.artifacts
    return artifacts


def bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header ("" without one)."""
    return (authorization or "").removeprefix("Bearer ").strip()


def require_publisher(store: Annotated[MetadataStore, Depends(get_store)],
                      authorization: Annotated[str | None, Header()] = None) -> str:
    """The publisher whose token the request carries."""
    given = bearer(authorization)
    found = store.publisher_of_token(given) if given else None
    if found is None:
        raise fail(401, "auth", "publishing needs a valid publisher token "
                   "(Authorization: Bearer …)")
    return str(found["_id"])


Store = Annotated[MetadataStore, Depends(get_store)]
Artifacts = Annotated[ArtifactStore, Depends(get_artifacts)]
Publisher = Annotated[str, Depends(require_publisher)]
