"""/api/v1/lineage and /api/v1/datasets: datasets, the pipelines between them, schema
history (of the pipelines the caller may see)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.deps import context
from dteg.server.errors import not_found
from dteg.server.lineage import lineage
from dteg.server.models import Dataset, Lineage
from dteg.server.visibility import visible_pipelines

router = APIRouter(tags=["lineage"])
Context = Annotated[ServerContext, Depends(context)]


def _lineage(request: Request, ctx: ServerContext) -> Lineage:
    return lineage(ctx.current_catalog(), ctx.store,
                   visible_pipelines(request, ctx, "lineage.read"))


@router.get("/lineage", response_model=Lineage,
            summary="The graph of datasets and the pipelines that read and write them")
def get_lineage(request: Request, ctx: Context, _: str = requires("lineage.read")) -> Lineage:
    return _lineage(request, ctx)


@router.get("/datasets", response_model=list[Dataset], summary="Every dataset")
def list_datasets(request: Request, ctx: Context, _: str = requires("lineage.read")
                  ) -> list[Dataset]:
    return _lineage(request, ctx).datasets


@router.get("/datasets/detail", response_model=Dataset,
            summary="One dataset with its schema history")
def get_dataset(request: Request, ctx: Context,
                id: Annotated[str, Query(max_length=1000, description="namespace/name")],
                _: str = requires("lineage.read")) -> Dataset:
    for dataset in _lineage(request, ctx).datasets:
        if dataset.id == id:
            return dataset
    raise not_found(f"dataset `{id}`", hint="GET /api/v1/datasets lists them.")
