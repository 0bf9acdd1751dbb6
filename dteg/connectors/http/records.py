"""Records of a JSON answer → an Arrow table with fixed columns. Columns are declared
(``schema:``; a dotted name flattens a nested field) or inferred from the first page (nested
values then stay JSON text). A value that does not fit its column is reported, and its record
becomes a dead letter; the rest of the page loads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dteg.components.types import parse_type
from dteg.connectors.casting import (
    CastPlan,
    json_kind_matches,
    json_value_fits,
    parsed_from_text,
)
from dteg.connectors.http import paths
from dteg.connectors.http.config import column_name


@dataclass(frozen=True)
class Column:
    name: str
    steps: tuple[str | int, ...]
    type: pa.DataType
    as_json: bool = False


def declared(schema: dict[str, str]) -> list[Column]:
    return [Column(column_name(path), tuple(paths.parse(path)), parse_type(kind),
                   kind.strip().lower() == "json") for path, kind in schema.items()]


def inferred(records: list[dict[str, Any]]) -> list[Column]:
    names: list[str] = []
    for record in records:
        names.extend(k for k in record if k not in names)
    columns = []
    for name in names:
        values = [r[name] for r in records if r.get(name) is not None]
        if any(isinstance(v, (dict, list)) for v in values):
            columns.append(Column(name, (name,), pa.string(), as_json=True))
            continue
        if any(isinstance(v, float) for v in values) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            values = [float(v) for v in values]
        try:
            kind = pa.array(values).type if values else pa.string()
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            columns.append(Column(name, (name,), pa.string(), as_json=True))
            continue
        columns.append(Column(name, (name,), pa.string() if pa.types.is_null(kind) else kind))
    return columns


def schema_of(columns: list[Column]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.type) for c in columns])


def unknown_fields(record: dict[str, Any], columns: list[Column]) -> list[str]:
    """Top-level fields an inferred schema does not have (declared schemas drop them)."""
    known = {c.steps[0] for c in columns if c.steps}
    return sorted(k for k in record if k not in known)


def to_table(records: list[dict[str, Any]], columns: list[Column]
             ) -> tuple[pa.Table, list[tuple[int, str, str]]]:
    """The typed rows that fit, and (record index, column, reason) for those that do not;
    the table's rows are the records not reported, in order."""
    failed: dict[int, tuple[str, str]] = {}
    arrays: dict[str, pa.Array] = {}
    text_targets: dict[str, pa.DataType] = {}
    for col in columns:
        values = [paths.select(r, list(col.steps)) for r in records]
        arrays[col.name] = _column(values, col, failed)
        if parsed_from_text(col.type):
            text_targets[col.name] = col.type
    table = pa.table(arrays) if arrays else pa.table({"_": pa.nulls(len(records))}).drop(["_"])
    index = list(range(len(records)))
    if failed:
        keep = [i not in failed for i in index]
        table = table.filter(pa.array(keep, pa.bool_()))
        index = [i for i in index if keep[i]]
    typed, failures = CastPlan(text_targets, null_values=[""]).apply(table) if text_targets \
        else (table, [])
    for row, column, reason in failures:
        failed[index[row]] = (column, reason)
    return typed, [(i, c, r) for i, (c, r) in sorted(failed.items())]


def _column(values: list[Any], col: Column, failed: dict[int, tuple[str, str]]) -> pa.Array:
    if col.as_json:
        return pa.array([v if v is None or isinstance(v, str)
                         else json.dumps(v, ensure_ascii=False) for v in values], pa.string())
    target = col.type
    if pa.types.is_string(target):
        values = [json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
                  for v in values]
    elif pa.types.is_decimal(target):
        values = [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                  for v in values]
    kind = pa.string() if parsed_from_text(target) else target
    try:  # fast path: one inferred type of the right kind for the whole page
        guess = pa.array(values)
        if json_kind_matches(guess.type, kind):
            return guess.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        pass
    out: list[Any] = []
    for i, value in enumerate(values):
        ok = value is None or json_value_fits(value, kind)
        if ok:
            try:
                pa.array([value], kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                ok = False
        if not ok:
            failed.setdefault(i, (col.name, f"column `{col.name}`: {value!r} is not a valid "
                                            f"{target}"))
            value = None
        out.append(value)
    return pa.array(out, kind)



