"""/api/v1/lineage and /api/v1/datasets: datasets, the pipelines between them, schema
history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dteg.server.access import requires
from dteg.server.context import ServerContext
from dteg.server.deps import context
from dteg.server.errors import not_found
from dteg.server.lineage import lineage
from dteg.server.models import Dataset, Lineage

router = APIRouter(tags=["lineage"])
Context = Annotated[ServerContext, Depends(context)]


@router.get("/lineage", response_model=Lineage,
            summary="The graph of datasets and the pipelines that read and write them")
def get_lineage(ctx: Context, _: str = requires("lineage.read")) -> Lineage:
    return lineage(ctx.current_catalog(), ctx.store)


@router.get("/datasets", response_model=list[Dataset], summary="Every dataset")
def list_datasets(ctx: Context, _: str = requires("lineage.read")) -> list[Dataset]:
    return lineage(ctx.current_catalog(), ctx.store).datasets


@router.get("/datasets/detail", response_model=Dataset,
            summary="One dataset with its schema history")
def get_dataset(ctx: Context,
                id: Annotated[str, Query(max_length=1000, description="namespace/name")],
                _: str = requires("lineage.read")) -> Dataset:
    for dataset in lineage(ctx.current_catalog(), ctx.store).datasets:
        if dataset.id == id:
            return dataset
    raise not_found(f"dataset `{id}`", hint="GET /api/v1/datasets lists them.")
