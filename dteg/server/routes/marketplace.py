"""/api/v1/marketplace: a read-only view of the configured marketplace registry for the web
UI — search with filters, a component's page (versions, gates, compatibility with this
server, install command, documentation), its reviews and support threads, publishers, and
for the organisation's admins its licences, usage and invoices.

Everyone who may browse (``marketplace.read``, viewers and up) sees the public registry data;
the organisation pages need ``marketplace.organisation`` (a permission on the whole server)
and are read with the registry token configured for this server, which never leaves it.
Registry failures are API errors: 502 ``registry_unavailable`` when it does not answer.
"""

from __future__ import annotations

import platform
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query

from dteg.marketplace.client import RegistryError
from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.deps import context
from dteg.server.errors import ApiError, ErrorResponse
from dteg.server.marketplace_docs import documentation
from dteg.server.marketplace_models import (
    ComponentHit,
    ComponentPage,
    Documentation,
    Listing,
    Organisation,
    Publisher,
    SearchResult,
)
from dteg.server.marketplace_registry import MarketplaceSettings, install_command, reader
from dteg.version import __version__

# Every route reads the registry: it may not answer, or refuse this server (502); the
# organisation's pages also need the server's registry organisation configured (409).
router = APIRouter(prefix="/marketplace", tags=["marketplace"], responses={
    502: {"model": ErrorResponse, "description": "The registry did not answer or refused"}})
NOT_CONFIGURED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "No registry organisation is configured"}}
Context = Annotated[ServerContext, Depends(context)]
# Path parameters are never `name`: that one names a pipeline to the access check.
ComponentName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9-]{0,99}$")]
VersionText = Annotated[str, Path(pattern=r"^[0-9A-Za-z.+-]{1,64}$")]
PublisherName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
# The whole listing a search filters and counts facets over.
LISTING_LIMIT = 500


def _settings(ctx: ServerContext) -> MarketplaceSettings:
    return ctx.marketplace


def normalize(hit: dict[str, Any]) -> dict[str, Any]:
    """A registry component as the pages read it, old registries included (a bare number
    for the rating, no badges, no pricing object)."""
    out = dict(hit)
    rating = hit.get("rating")
    if not isinstance(rating, dict):
        out["rating"] = {"average": rating, "count": int(hit.get("rating_count") or 0)}
    pricing = hit.get("pricing")
    if isinstance(pricing, str):
        out["pricing"] = {"tier": pricing}
    elif not isinstance(pricing, dict):
        out["pricing"] = {"tier": "free"}
    out["badges"] = [str(b) for b in hit.get("badges") or []]
    out.setdefault("tier", "community")
    out["downloads"] = int(hit.get("downloads") or 0)
    return out


def _facets(hits: list[dict[str, Any]]) -> dict[str, list[str]]:
    def values(pick: Any) -> list[str]:
        return sorted({str(v) for h in hits for v in pick(h) if v})

    return {"kinds": values(lambda h: [h.get("kind")]),
            "categories": values(lambda h: [h.get("category")]),
            "tiers": values(lambda h: [h.get("tier")]),
            "badges": values(lambda h: h["badges"]),
            "pricing": values(lambda h: [h["pricing"].get("tier")])}


@router.get("/search", response_model=SearchResult,
            summary="Search the registry: text, kind, category, tier, badge, pricing")
def search(ctx: Context, q: Annotated[str, Query(max_length=200)] = "",
           kind: str | None = None, category: str | None = None, tier: str | None = None,
           badge: str | None = None, pricing: str | None = None,
           limit: Annotated[int, Query(ge=1, le=LISTING_LIMIT)] = 50,
           _: str = requires("marketplace.read")) -> dict[str, Any]:
    settings = _settings(ctx)
    with reader(settings) as client:
        everything = [normalize(h) for h in client.search("", limit=LISTING_LIMIT)]
        ranked = everything if not q.strip() else [
            normalize(h) for h in client.search(q, limit=LISTING_LIMIT)]
    found = [h for h in ranked
             if (not kind or h.get("kind") == kind)
             and (not category or h.get("category") == category)
             and (not tier or h.get("tier") == tier)
             and (not badge or badge in h["badges"])
             and (not pricing or h["pricing"].get("tier") == pricing)]
    return {"registry": settings.url, "results": found[:limit], "total": len(found),
            "facets": _facets(everything)}


def _compatibility(client: Any, component: str) -> dict[str, Any]:
    python = platform.python_version()
    base = {"dteg": __version__, "python": python}
    try:
        found = client.compatible(component, dteg=__version__, python=python)
    except RegistryError as exc:
        if exc.kind != "incompatible":
            raise
        reasons = exc.detail.get("reasons") or {}
        return {**base, "fits": False, "reasons": {str(k): str(v) for k, v in reasons.items()}}
    return {**base, "fits": True, "version": found["version"]["version"],
            "reasons": {str(k): str(v) for k, v in (found.get("skipped") or {}).items()}}


@router.get("/components/{component}", response_model=ComponentPage,
            summary="A component: versions with gate reports, compatibility with this "
            "server, install command, downloads")
def component_page(component: ComponentName, ctx: Context,
                   _: str = requires("marketplace.read")) -> dict[str, Any]:
    settings = _settings(ctx)
    with reader(settings) as client:
        found = normalize(client.component(component))
        compatibility = _compatibility(client, component)
        downloads = client.optional(f"/api/v1/components/{quote(component)}/downloads")
    pinned = compatibility.get("version") or found.get("latest_version")
    return {**found, "install": install_command(component, pinned, settings.url),
            "compatibility": compatibility, "downloads_detail": downloads,
            "registry": settings.url}


@router.get("/components/{component}/versions/{version}/docs", response_model=Documentation,
            summary="A version's documentation sections (Markdown), or its README")
def component_docs(component: ComponentName, version: VersionText, ctx: Context,
                   _: str = requires("marketplace.read")) -> dict[str, Any]:
    with reader(_settings(ctx)) as client:
        found = client.version(component, version)
        docs = documentation(client, found)
    return {"component": component, "version": version, **docs}


@router.get("/components/{component}/versions/{version}/gates",
            summary="A version's quality gate report, as it was published")
def component_gates(component: ComponentName, version: VersionText, ctx: Context,
                    _: str = requires("marketplace.read")) -> dict[str, Any]:
    with reader(_settings(ctx)) as client:
        return dict(client.gate_report(component, version))


def _listing(found: Any, key: str = "items") -> dict[str, Any]:
    if found is None:
        return {"items": [], "total": 0, "supported": False}
    items = list(found.get(key) or [])
    return {**found, "items": items, "total": found.get("total", len(items)),
            "supported": True}


@router.get("/components/{component}/reviews", response_model=Listing,
            summary="A component's reviews (rating, text, the publisher's reply)")
def component_reviews(component: ComponentName, ctx: Context,
                      _: str = requires("marketplace.read")) -> dict[str, Any]:
    with reader(_settings(ctx)) as client:
        client.component(component)  # an unknown name is a 404, not an empty list
        found = client.optional(f"/api/v1/components/{quote(component)}/reviews")
    listing = _listing(found)
    listing["items"] = [r for r in listing["items"] if not r.get("hidden")]
    return listing


@router.get("/components/{component}/threads", response_model=Listing,
            summary="A component's support threads")
def component_threads(component: ComponentName, ctx: Context,
                      _: str = requires("marketplace.read")) -> dict[str, Any]:
    with reader(_settings(ctx)) as client:
        client.component(component)
        return _listing(client.optional(f"/api/v1/components/{quote(component)}/threads"))


@router.get("/publishers/{publisher}", response_model=Publisher,
            summary="A publisher: whether it is verified, its components, its keys")
def publisher_page(publisher: PublisherName, ctx: Context,
                   _: str = requires("marketplace.read")) -> dict[str, Any]:
    with reader(_settings(ctx)) as client:
        found = client.optional(f"/api/v1/publishers/{quote(publisher)}")
        keys = client.publisher_keys(publisher)
        if found is None:  # an older registry: gather it from the listing
            hits = [h for h in client.search("", limit=LISTING_LIMIT)
                    if h.get("publisher") == publisher]
            found = {"name": publisher, "components": hits,
                     "official": any(h.get("tier") == "official" for h in hits) or None}
    components = [normalize(h) for h in found.get("components") or []]
    if not components and not keys and not found.get("verified"):
        raise ApiError(404, "not_found", f"publisher `{publisher}` not found in the registry",
                       hint="A component's page links to its publisher.")
    return {**found, "name": found.get("name") or publisher, "components": components,
            "keys": keys}


# --- the organisation's pages ------------------------------------------------------------

def _organisation(settings: MarketplaceSettings) -> tuple[str, str]:
    if not settings.organisation or not settings.token:
        raise ApiError(409, "not_configured", "this server has no registry organisation "
                       "configured", hint="Set DTEG_MARKETPLACE_ORG (the organisation) and "
                       "DTEG_MARKETPLACE_ORG_TOKEN (a registry token of one of its admins) "
                       "for dteg server, then restart it.")
    return settings.organisation, settings.token


@router.get("/organisation", response_model=Organisation,
            summary="The registry organisation this server belongs to")
def organisation(ctx: Context, _: str = requires("marketplace.organisation")
                 ) -> dict[str, Any]:
    settings = _settings(ctx)
    return {"organisation": settings.organisation, "registry": settings.url,
            "configured": bool(settings.organisation and settings.token)}


def _org_listing(ctx: ServerContext, what: str, params: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    settings = _settings(ctx)
    org, token = _organisation(settings)
    with reader(settings) as client:
        found = client.optional(f"/api/v1/organisations/{quote(org)}/{what}", params=params,
                                token=token)
    return {**_listing(found), "organisation": org}


@router.get("/organisation/licences", response_model=Listing, responses=NOT_CONFIGURED,
            summary="The organisation's licences: components, seats, expiry, status")
def licences(ctx: Context, _: str = requires("marketplace.organisation")) -> dict[str, Any]:
    return _org_listing(ctx, "licences")


@router.get("/organisation/usage", response_model=Listing, responses=NOT_CONFIGURED,
            summary="Metered usage per component and licence in one month")
def usage(ctx: Context,
          period: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                              description="YYYY-MM (default: this month)")]
          = None,
          _: str = requires("marketplace.organisation")) -> dict[str, Any]:
    found = _org_listing(ctx, "usage", {"period": period} if period else None)
    return {**found, "period": found.get("period") or period}


@router.get("/organisation/invoices", response_model=Listing, responses=NOT_CONFIGURED,
            summary="The organisation's invoices per period")
def invoices(ctx: Context, _: str = requires("marketplace.organisation")) -> dict[str, Any]:
    return _org_listing(ctx, "invoices")


__all__ = ["ComponentHit", "normalize", "router"]
