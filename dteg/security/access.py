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
from dteg.spec.masking import MASKING_KEY_FLOW, MASKING_KEY_REF


def _strategies(columns: dict[str, Any]) -> tuple[str, bool]:
    """``{column: strategy, …}`` (flow style) for ``{column: PiiMatch}``, and whether one of
    them is ``hash`` (which needs the masking key)."""
    parts = []
    hashed = False
    for column, match in columns.items():
        strategy = match.kind.suggestion
        if isinstance(strategy, dict):
            inner = ", ".join(f"{k}: {v}" for k, v in strategy.items())
            parts.append(f"{column}: {{{inner}}}")
            hashed = hashed or strategy.get("strategy") == "hash"
        else:
            parts.append(f"{column}: {strategy}")
            hashed = hashed or strategy == "hash"
    return "{" + ", ".join(parts) + "}", hashed


def masking_suggestion(columns: dict[str, Any]) -> str:
    """A ``security`` block (flow style) that masks ``{column: PiiMatch}``, with the masking
    key when a strategy is ``hash`` (without it, hash is plain SHA-256)."""
    block, hashed = _strategies(columns)
    key = f", {MASKING_KEY_FLOW}" if hashed else ""
    return f"{{data_masking: {block}{key}}}"


def mask_step_suggestion(columns: dict[str, Any], after: str) -> str:
    """A mask step (flow style) that masks ``{column: PiiMatch}`` after step ``after``."""
    block, hashed = _strategies(columns)
    key = f', key: "{MASKING_KEY_REF}"' if hashed else ""
    return f"- mask: {{input: {after}, config: {{columns: {block}{key}}}}}"


class RestrictedGuard(BatchTransform):
    """Passes batches through; raises on PII-looking columns that nothing masks."""

    def __init__(self, ctx: RunContext, load: str, covered: set[str],
                 created: dict[str, str] | None = None) -> None:
        self.ctx = ctx
        self.load = load
        self.covered = set(covered)
        # column → the step that made it (a map): `security.data_masking` runs right after
        # the extract, before such a column exists, so the fix is a mask step after that one.
        self.created = dict(created or {})

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        from dteg.security.pii import classify_batch

        found = {c: m for c, m in classify_batch(batch).items() if c not in self.covered}
        if found:
            listed = "; ".join(f"`{c}` ({m.describe()})" for c, m in found.items())
            raise StepError(
                "the pipeline's access_level is `restricted`, but "
                f"{len(found)} column(s) about to be loaded look like unmasked personal data: "
                f"{listed}. Nothing was loaded.",
                hint=self._fix(found), step=self.load,
            )
        return StageResult(kept=batch)

    def _fix(self, found: dict[str, Any]) -> str:
        raw = {c: m for c, m in found.items() if c not in self.created}
        made: dict[str, dict[str, Any]] = {}
        for column, match in found.items():
            if column in self.created:
                made.setdefault(self.created[column], {})[column] = match
        fixes = []
        if raw:
            fixes.append(f"`security: {masking_suggestion(raw)}` (or list them under "
                         "`security.encryption`)")
        for step, columns in made.items():
            names = ", ".join(f"`{c}`" for c in columns)
            fixes.append(f"for {names}, made by step `{step}` after the extract (where "
                         "`security.data_masking` runs), a mask step after it: "
                         f"`{mask_step_suggestion(columns, step)}` (and point the load's "
                         "`input:` at it)")
        return (f"Mask or encrypt them, e.g. {'; and '.join(fixes)}; or, if they are not "
                "personal data, lower `access_level` to `internal`.")
