"""What a pipeline says about the data it holds, for the catalog and for privacy: ``owners:``,
``tags:`` and ``retention:``.

``retention: {column: created_at, keep: 400d}`` applies to every load of the pipeline;
``sinks: {step: {column, keep}}`` overrides it for one load (or, with ``keep: forever``,
exempts it). ``dteg privacy retention`` and the server's retention job enforce it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dteg.spec.durations import Duration

# Owners are people (emails) or teams (`team:data-platform`): anything without spaces.
OWNER_PATTERN = r"^[^\s]+$"
TAG_PATTERN = r"^[A-Za-z0-9_.:\-/]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SinkRetention(_Strict):
    """One load's retention: rows whose ``column`` is older than ``keep`` are deleted."""

    column: str | None = Field(default=None, description="The time column (default: the "
                               "pipeline's retention column)")
    keep: Duration | Literal["forever"] = Field(
        description="How long rows are kept, e.g. 400d; `forever` exempts this load")


class RetentionSpec(_Strict):
    """``retention:`` of a pipeline: how long its loads keep rows, by a time column."""

    column: str | None = Field(default=None, description="The time column rows are aged by")
    keep: Duration | None = Field(default=None, description="How long rows are kept, e.g. 400d")
    sinks: dict[str, SinkRetention] = Field(
        default_factory=dict, description="Per load step: its own column/keep")

    def for_sink(self, step: str) -> tuple[str, timedelta] | None:
        """(time column, how long) for the load ``step``; None when it keeps rows forever."""
        own = self.sinks.get(step)
        column = (own.column if own and own.column else None) or self.column
        keep = own.keep if own is not None else self.keep
        if column is None or keep is None or keep == "forever":
            return None
        assert isinstance(keep, timedelta)
        return column, keep
