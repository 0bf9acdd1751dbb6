"""Validation rules checked column-wise over Arrow batches.

Rules see raw values (this stage runs before masking). A failing row goes to the dead-letter
output with the rule, column and (masked) value; ``on_failure`` per rule or per pipeline says
whether it is quarantined (dead-lettered), dropped (counted as filtered) or fails the run.

Rules: ``null_check``, ``format_check`` (regex, whole value), ``range_check``,
``accepted_values``, ``length_check``, ``type_check`` (values readable as a type, or a
``schema:`` of column → type), ``expression`` (a SQL predicate per row, run by DuckDB with file
and network access switched off; a row fails when it is false) and ``unique`` (over the whole
run; checked by the compiler's ``CheckUnique`` stage since it needs every batch, see
``dteg.transforms.unique``). Nulls only break ``null_check``.

Every batch reports per-rule failure counts in ``StageResult.stats``; the compiler turns them
into Beam counters (``<step>:rule:<label>:failed``) and checks ``max_invalid_ratio`` on the
run-wide totals before any sink commits.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dteg.components.contracts import BatchTransform, RunContext, StageResult
from dteg.components.records import dead_letters, row_json, sources_of
from dteg.components.types import parse_type
from dteg.errors import StepError
from dteg.spec.rules import RUN_WIDE, Rule
from dteg.transforms.validate_config import ValidateConfig


def rule_counter(label: str) -> str:
    """The stats key (and Beam counter suffix) for a rule's failures."""
    return f"rule:{label}:failed"


def _failing_type(column: pa.Array, target: pa.DataType) -> pa.Array:
    """True where the value cannot be read as ``target`` (Arrow's safe cast, value by value
    only in the halves that fail, so clean columns cost one cast)."""
    if column.type == target:
        return pa.array([False] * len(column), pa.bool_())
    try:
        pc.cast(column, target)
        return pa.array([False] * len(column), pa.bool_())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if len(column) == 1:
        return pa.array([column[0].is_valid])
    half = len(column) // 2
    return pa.concat_arrays([_failing_type(column.slice(0, half), target),
                             _failing_type(column.slice(half), target)])


def _failing(rule: Rule, name: str, column: pa.Array) -> pa.Array:
    """True where the value breaks the rule. Null values only break null_check."""
    if rule.type == "null_check":
        return pc.is_null(column)
    present = pc.is_valid(column)
    if rule.type == "format_check":
        text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
        pattern = f"^(?:{rule.pattern})$"
        try:
            matched = pc.match_substring_regex(text, pattern)
        except pa.ArrowInvalid:  # RE2 lacks the feature (look-around, back-references)
            compiled = re.compile(rule.pattern or "")
            matched = pa.array([None if v is None else bool(compiled.fullmatch(v))
                                for v in text.to_pylist()], pa.bool_())
        bad = pc.invert(matched)
    elif rule.type == "range_check":
        bad = pa.array([False] * len(column), pa.bool_())
        if rule.min is not None:
            bad = pc.or_(bad, pc.less(column, pa.scalar(rule.min).cast(column.type)))
        if rule.max is not None:
            bad = pc.or_(bad, pc.greater(column, pa.scalar(rule.max).cast(column.type)))
    elif rule.type == "accepted_values":
        allowed = pa.array(rule.values or []).cast(column.type)
        bad = pc.invert(pc.is_in(column, allowed))
    elif rule.type == "length_check":
        lengths = pc.utf8_length(column if pa.types.is_string(column.type)
                                 else pc.cast(column, pa.string()))
        bad = pa.array([False] * len(column), pa.bool_())
        if rule.min_length is not None:
            bad = pc.or_(bad, pc.less(lengths, rule.min_length))
        if rule.max_length is not None:
            bad = pc.or_(bad, pc.greater(lengths, rule.max_length))
    elif rule.type == "type_check":
        bad = _failing_type(column, parse_type(rule.types()[name]))
    else:  # pragma: no cover - expression and unique are checked elsewhere
        raise AssertionError(rule.type)
    return pc.and_(present, pc.fill_null(bad, False))


def describe(rule: Rule, column: str, value: Any) -> str:
    """Why a value breaks ``rule`` (``value`` already masked)."""
    if rule.type == "null_check":
        return f"`{column}` is null"
    if rule.type == "format_check":
        return f"`{column}` = {value!r} does not match {rule.pattern}"
    if rule.type == "range_check":
        return f"`{column}` = {value!r} is outside [{rule.min}, {rule.max}]"
    if rule.type == "accepted_values":
        return f"`{column}` = {value!r} is not one of {rule.values}"
    if rule.type == "type_check":
        return f"`{column}` = {value!r} is not a valid {rule.types()[column]}"
    if rule.type == "expression":
        return f"the row breaks `{rule.expression}`"
    if rule.type == "unique":
        return f"{column} = {value!r} is a duplicate (another row has the same value)"
    return f"`{column}` = {value!r} has a length outside [{rule.min_length}, {rule.max_length}]"


def _short(value: Any, limit: int = 200) -> Any:
    """Very long values are cut in messages (the whole row is in the record)."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"… ({len(value):,} characters)"
    return value


class Validate(BatchTransform):
    """The batch rules of a validate step (``unique`` is left to the compiler's stage)."""

    def __init__(self, config: ValidateConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        labelled = list(zip(config.rules, config.labels(), strict=True))
        self.checks = [(rule, label, column) for rule, label in labelled
                       if rule.type not in (*RUN_WIDE, "expression")
                       for column in rule.targets()]
        self.expressions = [(rule, label) for rule, label in labelled
                            if rule.type == "expression"]
        self._sql: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_sql": None}

    def _expression_failing(self, rule: Rule, batch: pa.RecordBatch) -> pa.Array:
        from dteg.transforms.sql import BatchSql

        if not batch.num_rows:
            # Nothing to check, and the columns of an empty file read without `schema:` are
            # text, which an expression such as `amount > 0` cannot compare.
            return pa.array([], pa.bool_())
        if self._sql is None:
            self._sql = BatchSql(self.ctx.step, external_access=False)
        table = self._sql.query(batch, f"SELECT ({rule.expression}) AS ok FROM batch")
        ok = table.column("ok").combine_chunks()
        if not pa.types.is_boolean(ok.type):
            raise StepError(
                f"the expression of rule `{rule.label()}` gives {ok.type}, not true/false",
                step=self.ctx.step, hint="Write a predicate, e.g. `amount >= 0`.")
        return pc.fill_null(pc.invert(ok), False)

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        missing = sorted({c for _, _, c in self.checks if c not in batch.schema.names})
        if missing:
            raise StepError(
                f"validation rules name column(s) {missing} that the data does not have "
                f"(columns: {batch.schema.names})", step=self.ctx.step,
                hint="Fix the column names in the rules (they are case-sensitive).",
            )
        n = batch.num_rows
        decided = pa.array([False] * n, pa.bool_())
        reasons: dict[int, tuple[Rule, str, str | None]] = {}
        quarantine = pa.array([False] * n, pa.bool_())
        drop = pa.array([False] * n, pa.bool_())
        stats: dict[str, int] = {}
        checks: list[tuple[Rule, str, str | None, pa.Array]] = [
            (rule, label, column, _failing(rule, column, batch.column(column)))
            for rule, label, column in self.checks]
        checks += [(rule, label, None, self._expression_failing(rule, batch))
                   for rule, label in self.expressions]
        per_rule: dict[str, pa.Array] = {}
        for rule, label, column, raw in checks:
            per_rule[label] = pc.or_(per_rule[label], raw) if label in per_rule else raw
            failing = pc.and_(raw, pc.invert(decided))
            if not pc.any(failing).as_py():
                continue
            action = self.config.action(rule)
            if action == "fail":
                first = pc.index(failing, True).as_py()
                value = None if column is None else self._masked(
                    column, batch.column(column)[first].as_py())
                raise StepError(
                    f"rule `{rule.label()}` failed on "
                    f"{pc.sum(failing).as_py()} row(s) of this batch, e.g. "
                    f"{describe(rule, column or '', _short(value))}; the rule says "
                    "`on_failure: fail`.",
                    step=self.ctx.step,
                    hint="Fix the data, or use `on_failure: quarantine` to dead-letter such rows.",
                )
            for index in pc.indices_nonzero(failing).to_pylist():
                reasons[index] = (rule, label, column)
            if action == "quarantine":
                quarantine = pc.or_(quarantine, failing)
            else:
                drop = pc.or_(drop, failing)
            decided = pc.or_(decided, failing)
        for label, failing in per_rule.items():
            count = pc.sum(failing).as_py() or 0
            if count:
                stats[rule_counter(label)] = count
        if not reasons:
            return StageResult(kept=batch, stats=stats)
        rejected = None
        if pc.any(quarantine).as_py():
            bad_rows = batch.filter(quarantine)
            indices = pc.indices_nonzero(quarantine).to_pylist()
            rows = bad_rows.to_pylist()
            labels = [reasons[i] for i in indices]
            # Mask each row once; its reason shows the failing column's masked value.
            masked = rows if self.ctx.mask_row is None else [self.ctx.mask_row(r) for r in rows]
            rejected = dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[describe(rule, col or "", _short(_shown(m.get(col)) if col else None))
                         for (rule, _, col), m in zip(labels, masked, strict=True)],
                rules=[label for _, label, _ in labels],
                columns=[col for _, _, col in labels],
                records=[row_json(m) for m in masked],
                sources=sources_of(bad_rows),
            )
        kept = batch.filter(pc.invert(decided))
        return StageResult(kept=kept, rejected=rejected, filtered=pc.sum(drop).as_py() or 0,
                           stats=stats)

    def _masked(self, column: str | None, value: Any) -> Any:
        return masked_value(self.ctx, column, value)


def _shown(masked: Any) -> Any:
    return "<encrypted>" if isinstance(masked, str) and masked.startswith("dteg:v1:") else masked


def masked_value(ctx: RunContext, column: str | None, value: Any) -> Any:
    """``value`` as a message may show it: masked like the pipeline masks ``column``; an
    encrypted column shows as ``<encrypted>`` (its row is in the dead letter's record)."""
    if ctx.mask_row is None or column is None or value is None:
        return value
    masked = ctx.mask_row({column: value}).get(column, value)
    if isinstance(masked, str) and masked.startswith("dteg:v1:"):
        return "<encrypted>"
    return masked


def create(config: ValidateConfig, ctx: RunContext) -> Validate:
    return Validate(config, ctx)
