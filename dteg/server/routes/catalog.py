"""/api/v1/catalog: the datasets the served pipelines read and write, with PII classes,
owners, freshness, schema history and per-run profiles (of the pipelines the caller may
see: a dataset shows when one of its readers or writers is visible)."""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from dteg.governance.anomaly import flag
from dteg.governance.catalog_store import CatalogStore, DatasetDetail, DatasetSummary
from dteg.server.access import requires
from dteg.server.catalog_models import CatalogDataset, CatalogDatasetDetail, DatasetQuality
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


def visible_detail(request: Request, ctx: ServerContext, key: str, runs: int
                    ) -> DatasetDetail:
    detail = catalog_store(ctx).dataset(key, runs=runs)
    allowed = visible_pipelines(request, ctx, "lineage.read")
    if detail is None or detail.summary.key != key or (
            allowed is not None and not ({u["pipeline"] for u in detail.users} & allowed)):
        raise not_found(f"dataset `{key}`", hint="GET /api/v1/catalog lists them.")
    return detail


def schema_changes(detail: DatasetDetail) -> list[dict[str, Any]]:
    """Each schema version after the first, with what changed and who reads the dataset."""
    readers = sorted({u["pipeline"] for u in detail.users if u["role"] == "read"})
    models = [m["model"] for m in detail.models]
    changes = []
    history = detail.schema_history
    for before, after in pairwise(history):
        old = {f["name"]: f["type"] for f in before["schema"]}
        new = {f["name"]: f["type"] for f in after["schema"]}
        changes.append({"version": after["version"], "at": after["at"],
                        "run_id": after["run_id"],
                        "added": [n for n in new if n not in old],
                        "removed": [n for n in old if n not in new],
                        "retyped": [n for n in new if n in old and old[n] != new[n]],
                        "downstream_pipelines": readers, "downstream_models": models})
    return changes


@router.get("/quality", response_model=DatasetQuality,
            summary="A dataset's row counts per run with volume anomalies (rolling median ± "
            "k·MAD), its schema changes with the pipelines and dbt models downstream, and "
            "its freshness")
def catalog_quality(request: Request, ctx: Context,
                    key: Annotated[str, Query(max_length=1000, description="namespace::name")],
                    runs: Annotated[int, Query(ge=1, le=5000)] = 500,
                    window: Annotated[int, Query(ge=3, le=500)] = 20,
                    k: Annotated[float, Query(gt=0, le=50)] = 3.0,
                    _: str = requires("lineage.read")) -> dict[str, Any]:
    detail = visible_detail(request, ctx, key, runs)
    counted = [(r["run_id"], r["at"], int(r["rows"])) for r in reversed(detail.runs)
               if r["rows"] is not None]
    volume = [vars(p) for p in flag(counted, window=window, k=k)]
    return {"key": key, "volume": volume, "anomalies": sum(p["anomaly"] for p in volume),
            "schema_changes": schema_changes(detail),
            "last_written": detail.summary.last_written}


@router.get("/detail", response_model=CatalogDatasetDetail,
            summary="One dataset: columns, schema history, readers, writers, dbt models, "
            "row counts and profiles per run")
def catalog_detail(request: Request, ctx: Context,
                   key: Annotated[str, Query(max_length=1000, description="namespace::name")],
                   runs: Annotated[int, Query(ge=0, le=1000)] = 50,
                   _: str = requires("lineage.read")) -> dict[str, Any]:
    return visible_detail(request, ctx, key, runs).to_dict()
