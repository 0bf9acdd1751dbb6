"""Every route of the registry that changes something needs a signed-in caller (a user, an
admin or a publisher), except the anonymous usage reports, which carry no identity on purpose,
and metered (billing) usage reports, which are authenticated by the Ed25519 signature of the
installation registered for their licence (tests/integration/marketplace/test_premium.py
checks that a forged or replayed one is refused)."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from dteg.marketplace.server.accounts import require_admin, require_user
from dteg.marketplace.server.app import create_app
from dteg.marketplace.server.deps import require_publisher

ANONYMOUS_WRITES = {("POST", "/api/v1/usage-reports")}
SIGNED_WRITES = {("POST", "/api/v1/usage")}
GUARDS = {require_user, require_admin, require_publisher}


def _calls(dependant: Any) -> set[Any]:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _routes(routes: list[Any]) -> list[APIRoute]:
    # FastAPI ≥ 0.16x keeps an included router as one entry wrapping the original router.
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif getattr(route, "original_router", None) is not None:
            found += _routes(list(route.original_router.routes))
    return found


def test_every_mutation_needs_a_signed_in_caller() -> None:
    app = create_app(store=None, artifacts=None)  # type: ignore[arg-type]
    writes = [(method, route.path, route) for route in _routes(list(app.routes))
              for method in (route.methods or ()) if method in ("POST", "PUT", "PATCH", "DELETE")]
    assert len(writes) >= 12  # users, reviews, replies, hide, threads, posts, solutions, …
    unguarded = [(m, p) for m, p, route in writes
                 if not _calls(route.dependant) & GUARDS
                 and (m, p) not in ANONYMOUS_WRITES | SIGNED_WRITES]
    assert unguarded == []
