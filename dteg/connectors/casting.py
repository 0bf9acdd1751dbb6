"""Cast text columns to typed columns without losing a row: values that do not fit are
reported per row (index, column, reason) so the row can be dead-lettered."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dteg.components.types import parse_type

# Text that means "no value" in a typed (non-text) column, as pyarrow's CSV reader has it.
DEFAULT_NULL_TOKENS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null", "None",
)
_LEADING_ZERO = re.compile(r"^-?0\d")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INFERENCE_ORDER = (
    pa.int64(), pa.float64(), pa.bool_(), pa.date32(), pa.timestamp("us"),
    pa.timestamp("us", tz="UTC"),
)


def _non_null_text(column: pa.ChunkedArray | pa.Array, tokens: tuple[str, ...]) -> pa.Array:
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    arr = pc.utf8_trim_whitespace(arr)
    arr = arr.filter(pc.invert(pc.is_in(arr, pa.array(tokens, pa.string()))))
    return arr.drop_null()


def _fits(values: pa.Array, target: pa.DataType) -> bool:
    if target == pa.date32() and not all(_DATE.match(v) for v in values.to_pylist()[:1000]):
        return False
    if pa.types.is_boolean(target):
        allowed = {"true", "false", "1", "0"}
        if not all(str(v).lower() in allowed for v in values.unique().to_pylist()):
            return False
        # A column of only 0/1 is more likely a number than a flag.
        return any(str(v).lower() in ("true", "false") for v in values.unique().to_pylist())
    try:
        pc.cast(values, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    if pa.types.is_integer(target) or pa.types.is_floating(target):
        # "01234" is an identifier (zip code, account number), not the number 1234.
        return not any(_LEADING_ZERO.match(v) for v in values.to_pylist())
    return True


def infer_types(
    sample: pa.Table | None,
    names: list[str],
    declared: dict[str, str],
    null_values: list[str] | None,
) -> dict[str, pa.DataType]:
    """Declared types for declared columns; for the rest, the narrowest type every sampled
    value fits (text when unsure)."""
    tokens = tuple(null_values) if null_values is not None else DEFAULT_NULL_TOKENS
    types: dict[str, pa.DataType] = {}
    for name in names:
        if name in declared:
            types[name] = parse_type(declared[name])
            continue
        types[name] = pa.string()
        if sample is None or name not in sample.column_names:
            continue
        values = _non_null_text(sample.column(name), tokens)
        if len(values) == 0:
            continue
        for candidate in _INFERENCE_ORDER:
            if _fits(values, candidate):
                types[name] = candidate
                break
    return types


@dataclass
class CastPlan:
    """How to turn a table of text columns into typed columns."""

    types: dict[str, pa.DataType]
    null_values: list[str] | None = None
    _tokens: pa.Array = field(init=False)

    def __post_init__(self) -> None:
        tokens = self.null_values if self.null_values is not None else DEFAULT_NULL_TOKENS
        self._tokens = pa.array(list(tokens), pa.string())

    def apply(self, table: pa.Table) -> tuple[pa.Table, list[tuple[int, str, str]]]:
        """The typed table of the rows that fit, and (row, column, reason) for those that
        do not (one reason per row: the first column that failed)."""
        prepared: dict[str, pa.Array] = {}
        failures: dict[int, tuple[str, str]] = {}
        for name in table.column_names:
            target = self.types.get(name, pa.string())
            column = table.column(name).combine_chunks()
            if pa.types.is_string(target) or not pa.types.is_string(column.type):
                prepared[name] = column  # text stays text; typed columns are already typed
                continue
            text = pc.utf8_trim_whitespace(column)
            text = pc.if_else(pc.is_in(text, self._tokens), pa.scalar(None, pa.string()), text)
            prepared[name] = text
            try:
                pc.cast(text, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                for index, value in _bad_values(text, target):
                    failures.setdefault(
                        index,
                        (name, f"column `{name}`: {value!r} is not a valid {target}"),
                    )
        if failures:
            keep = pa.array([i not in failures for i in range(table.num_rows)])
            prepared = {n: a.filter(keep) for n, a in prepared.items()}
        typed = pa.table({
            n: (a if a.type == self.types.get(n, a.type) else pc.cast(a, self.types[n]))
            for n, a in prepared.items()
        })
        return typed, [(i, col, reason) for i, (col, reason) in sorted(failures.items())]


def cast_declared(table: pa.Table, declared: dict[str, pa.DataType],
                  ) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """Cast the declared columns of a typed table (Parquet, Avro). Text columns are cast per
    value, so a value that does not fit is reported (row, column, reason) and its row left
    out; other columns are cast whole (raises ``pa.ArrowInvalid`` when they cannot be)."""
    from_text = {n: t for n, t in declared.items()
                 if pa.types.is_string(table.schema.field(n).type) and not pa.types.is_string(t)}
    failures: list[tuple[int, str, str]] = []
    if from_text:
        table, failures = CastPlan(from_text, null_values=[""]).apply(table)
    fields = [pa.field(f.name, declared.get(f.name, f.type)) for f in table.schema]
    return table.cast(pa.schema(fields)), failures


def _bad_values(text: pa.Array, target: pa.DataType) -> list[tuple[int, str]]:
    """The values of ``text`` that do not cast to ``target``. Halves that cast are skipped
    whole, so one bad value in a large block costs a few vectorized casts, not one per row."""
    bad: list[tuple[int, str]] = []

    def visit(start: int, length: int) -> None:
        chunk = text.slice(start, length)
        try:
            pc.cast(chunk, target)
            return
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        if length > 32:
            half = length // 2
            visit(start, half)
            visit(start + half, length - half)
            return
        for offset, value in enumerate(chunk.to_pylist()):
            if value is None:
                continue
            try:
                pc.cast(pa.array([value], pa.string()), target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                bad.append((start + offset, value))

    visit(0, len(text))
    return bad


# --- JSON values → typed Arrow columns (the jsonl and http sources) ------------------------

def json_kind_matches(inferred: pa.DataType, kind: pa.DataType) -> bool:
    """Whether pyarrow's inferred type of JSON values already is the declared ``kind``'s
    family (then the column converts in one call)."""
    if pa.types.is_null(inferred):
        return True
    if pa.types.is_string(kind):
        return pa.types.is_string(inferred)
    if pa.types.is_integer(kind):
        return pa.types.is_integer(inferred)
    if pa.types.is_floating(kind):
        return pa.types.is_integer(inferred) or pa.types.is_floating(inferred)
    if pa.types.is_boolean(kind):
        return pa.types.is_boolean(inferred)
    return False


def json_value_fits(value: Any, kind: pa.DataType) -> bool:
    """Whether one JSON value can go into a ``kind`` column as it is."""
    if pa.types.is_string(kind):
        return isinstance(value, str)
    if isinstance(value, bool):
        return pa.types.is_boolean(kind)
    if pa.types.is_integer(kind):
        return isinstance(value, int)
    if pa.types.is_floating(kind):
        return isinstance(value, (int, float))
    return not pa.types.is_boolean(kind)  # other types: pyarrow decides


def parsed_from_text(t: pa.DataType) -> bool:
    """Types that JSON carries as text (times, decimals, binary) and a cast parses."""
    return bool(pa.types.is_temporal(t) or pa.types.is_decimal(t) or pa.types.is_binary(t))
