"""/api/v1/catalog: the datasets the served pipelines read and write, with PII classes,
owners, freshness, schema history and per-run profiles (of the pipelines the caller may
see: a dataset shows when one of its readers or writers is visible)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from dteg.governance.catalog_store import CatalogStore, DatasetSummary
from dteg.server.access import requires
from dteg.server.catalog_models import CatalogDataset, CatalogDatasetDetail
from dteg.server.context import ServerContext
from dteg.server.deps import context
from dteg.server.errors import not_found
from dteg.server.visibility import visible_pipelines

router = APIRouter(prefix="/catalog", tags=["catalog"])
Context = Annotated[ServerContext, Depends(context)]


def catalog_store(ctx: ServerContext) -> CatalogStore:
    """The catalog the served pipelines' runs write (their folder's ``.dteg``)."""
    return CatalogStore.for_folder(ctx.pipelines_dir)


def visible_datasets(request: Request, ctx: ServerContext, search: str | None = None,
                     pii_only: bool = False) -> list[DatasetSummary]:
    store = catalog_store(ctx)
    found = store.datasets(search, pii_only=pii_only)
    allowed = visible_pipelines(request, ctx, "lineage.read")
    if allowed is None:
        return found
    users = store.users_by_dataset()
    return [d for d in found if users.get(d.key, set()) & allowed]


@router.get("", response_model=list[CatalogDataset],
            summary="Every cataloged dataset (search by name, owner, tag, column, PII class)")
def list_catalog(request: Request, ctx: Context,
                 q: Annotated[str | None, Query(max_length=200)] = None,
                 pii: Annotated[bool, Query(description="Only datasets with personal data")]
                 = False,
                 _: str = requires("lineage.read")) -> list[dict[str, Any]]:
    return [d.to_dict() for d in visible_datasets(request, ctx, q, pii)]


@router.get("/detail", response_model=CatalogDatasetDetail,
            summary="One dataset: columns, schema history, readers, writers, dbt models, "
            "row counts and profiles per run")
def catalog_detail(request: Request, ctx: Context,
                   key: Annotated[str, Query(max_length=1000, description="namespace::name")],
                   runs: Annotated[int, Query(ge=0, le=1000)] = 50,
                   _: str = requires("lineage.read")) -> dict[str, Any]:
    store = catalog_store(ctx)
    detail = store.dataset(key, runs=runs)
    allowed = visible_pipelines(request, ctx, "lineage.read")
    if detail is None or detail.summary.key != key or (
            allowed is not None and not ({u["pipeline"] for u in detail.users} & allowed)):
        raise not_found(f"dataset `{key}`", hint="GET /api/v1/catalog lists them.")
    return detail.to_dict()
