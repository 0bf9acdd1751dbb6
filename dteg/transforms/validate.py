"""Validation rules checked column-wise over Arrow batches.

Rules see raw values (this stage runs before masking). A failing row goes to the dead-letter
output with the rule, column and (masked) value; ``on_failure`` per rule or per pipeline says
whether it is quarantined (dead-lettered), dropped (counted as filtered) or fails the run.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dteg.engine.contracts import BatchTransform, RunContext, StageResult
from dteg.engine.records import dead_letters, row_json
from dteg.errors import ConnectorError, RunError

OnFailure = Literal["quarantine", "drop", "fail"]
RuleType = Literal[
    "null_check", "format_check", "range_check", "accepted_values", "length_check"
]


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: RuleType
    name: str | None = None
    column: str | None = None
    columns: list[str] | None = None
    pattern: str | None = Field(default=None, description="format_check: the whole value must "
                                "match this regular expression")
    min: float | str | None = None
    max: float | str | None = None
    values: list[Any] | None = Field(default=None, description="accepted_values")
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    on_failure: OnFailure | None = None

    @model_validator(mode="after")
    def _needs(self) -> Rule:
        if not self.targets():
            raise ValueError(f"rule `{self.type}` needs `column:` or `columns:`")
        needs = {
            "format_check": ("pattern",), "accepted_values": ("values",),
        }.get(self.type, ())
        for key in needs:
            if getattr(self, key) is None:
                raise ValueError(f"rule `{self.type}` needs `{key}:`")
        if self.type == "range_check" and self.min is None and self.max is None:
            raise ValueError("rule `range_check` needs `min:` and/or `max:`")
        if self.type == "length_check" and self.min_length is None and self.max_length is None:
            raise ValueError("rule `length_check` needs `min_length:` and/or `max_length:`")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"`pattern` is not a valid regular expression: {exc}") from None
        return self

    def targets(self) -> list[str]:
        return [*([self.column] if self.column else []), *(self.columns or [])]

    def label(self) -> str:
        return self.name or self.type


class ValidateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(min_length=1)
    on_failure: OnFailure = "quarantine"
    max_invalid_ratio: float | None = Field(default=None, ge=0, le=1)


def _failing(rule: Rule, column: pa.Array) -> pa.Array:
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
        bad = pa.array([False] * len(column))
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
        bad = pa.array([False] * len(column))
        if rule.min_length is not None:
            bad = pc.or_(bad, pc.less(lengths, rule.min_length))
        if rule.max_length is not None:
            bad = pc.or_(bad, pc.greater(lengths, rule.max_length))
    else:  # pragma: no cover - RuleType is closed
        raise AssertionError(rule.type)
    return pc.and_(present, pc.fill_null(bad, False))


def _describe(rule: Rule, column: str, value: Any) -> str:
    if rule.type == "null_check":
        return f"`{column}` is null"
    if rule.type == "format_check":
        return f"`{column}` = {value!r} does not match {rule.pattern}"
    if rule.type == "range_check":
        return f"`{column}` = {value!r} is outside [{rule.min}, {rule.max}]"
    if rule.type == "accepted_values":
        return f"`{column}` = {value!r} is not one of {rule.values}"
    return f"`{column}` = {value!r} has a length outside [{rule.min_length}, {rule.max_length}]"


class Validate(BatchTransform):
    def __init__(self, config: ValidateConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.checks = [(rule, column) for rule in config.rules for column in rule.targets()]

    def apply(self, batch: pa.RecordBatch) -> StageResult:
        missing = sorted({c for _, c in self.checks if c not in batch.schema.names})
        if missing:
            raise ConnectorError(
                f"validation rules name column(s) {missing} that the data does not have "
                f"(columns: {batch.schema.names})", step=self.ctx.step,
                hint="Fix the column names in the rules (they are case-sensitive).",
            )
        n = batch.num_rows
        decided = pa.array([False] * n)
        reasons: dict[int, tuple[Rule, str]] = {}
        quarantine = pa.array([False] * n)
        drop = pa.array([False] * n)
        for rule, column in self.checks:
            failing = pc.and_(_failing(rule, batch.column(column)), pc.invert(decided))
            if not pc.any(failing).as_py():
                continue
            action = rule.on_failure or self.config.on_failure
            if action == "fail":
                first = pc.index(failing, True).as_py()
                value = self._masked(column, batch.column(column)[first].as_py())
                raise RunError(
                    f"step `{self.ctx.step}`: rule `{rule.label()}` failed on "
                    f"{pc.sum(failing).as_py()} row(s) of this batch, e.g. "
                    f"{_describe(rule, column, value)}; the rule says `on_failure: fail`.",
                    hint="Fix the data, or use `on_failure: quarantine` to dead-letter such rows.",
                )
            for index in pc.indices_nonzero(failing).to_pylist():
                reasons[index] = (rule, column)
            if action == "quarantine":
                quarantine = pc.or_(quarantine, failing)
            else:
                drop = pc.or_(drop, failing)
            decided = pc.or_(decided, failing)
        if not reasons:
            return StageResult(kept=batch)
        rejected = None
        if pc.any(quarantine).as_py():
            bad_rows = batch.filter(quarantine)
            indices = pc.indices_nonzero(quarantine).to_pylist()
            rows = bad_rows.to_pylist()
            labels = [reasons[i] for i in indices]
            rejected = dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[_describe(rule, col, self._masked(col, row.get(col)))
                         for (rule, col), row in zip(labels, rows, strict=False)],
                rules=[rule.label() for rule, _ in labels],
                columns=[col for _, col in labels],
                records=[row_json(row, self.ctx.mask_row) for row in rows],
            )
        kept = batch.filter(pc.invert(decided))
        return StageResult(kept=kept, rejected=rejected, filtered=pc.sum(drop).as_py() or 0)

    def _masked(self, column: str, value: Any) -> Any:
        if self.ctx.mask_row is None:
            return value
        return self.ctx.mask_row({column: value}).get(column, value)


def create(config: ValidateConfig, ctx: RunContext) -> Validate:
    return Validate(config, ctx)
