"""``access_level: restricted``: never load a column that looks like unmasked personal data.

The data is unknown at compile time, so the compiler puts a ``RestrictedGuard`` in front of
every load of a restricted pipeline. It samples each batch (``dteg.security.pii``) and fails the
run — before the load commits anything — when a column looks like personal data and no mask
or encrypt step covers it. The message names the columns and the block that fixes it.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchTransform, RunContext, StageResult
from dteg.errors import StepError


def masking_suggestion(columns: dict[str, Any]) -> str:
    """A ``security.data_masking`` block (flow style) for ``{column: PiiMatch}``."""
    parts = []
    for column, match in columns.items():
        strategy = match.kind.suggestion
        if isinstance(strategy, dict):
            inner = ", ".join(f"{k}: {v}" for k, v in strategy.items())
            parts.append(f"{column}: {{{inner}}}")
        else:
            parts.append(f"{column}: {strategy}")
    return "{" + ", ".join(parts) + "}"


class RestrictedGuard(BatchTransform):
    """Passes batches through; raises on PII-looking columns that nothing masks."""

    def __init__(self, ctx: RunContext, load: str, covered: set[str]) -> None:
        self.ctx = ctx
        self.load = load
        self.covered = set(covered)

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        from dteg.security.pii import classify_batch

        found = {c: m for c, m in classify_batch(batch).items() if c not in self.covered}
        if found:
            listed = "; ".join(f"`{c}` ({m.describe()})" for c, m in found.items())
            raise StepError(
                "the pipeline's access_level is `restricted`, but "
                f"{len(found)} column(s) about to be loaded look like unmasked personal data: "
                f"{listed}. Nothing was loaded.",
                hint=f"Mask or encrypt them, e.g. `security: {{data_masking: "
                f"{masking_suggestion(found)}}}` (or list them under `security.encryption`); "
                "or, if they are not personal data, lower `access_level` to `internal`.",
                step=self.load,
            )
        return StageResult(kept=batch)
