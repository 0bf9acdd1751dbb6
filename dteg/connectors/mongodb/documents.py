"""MongoDB documents ↔ Arrow: the columns of a read (declared or sampled), each document's
values converted to them, and a document that does not fit reported with the field and the
reason (so the source dead-letters it instead of failing or guessing).

BSON values are converted by kind: ObjectId → its hex string, Decimal128 → decimal128 (or
text), datetimes → UTC timestamps, sub-documents and arrays → JSON text, unless a dotted
column (``address.city``) reads a field inside them. Only ``bson`` (pymongo's) types are
touched, through duck typing, so this module imports no driver.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dteg.components.types import parse_type

UTC = dt.timezone.utc
MISSING = object()
MAX_SAMPLED_SCALE = 18  # a Decimal128 column sampled with more digits after the point is text


class Misfit(ValueError):
    """A value that does not fit its column: the message says what was expected and found."""


@dataclass(frozen=True)
class Column:
    """One column of a read: its name, the field path it comes from, its Arrow type and
    whether it holds JSON text (sub-documents, arrays or a declared ``json``)."""

    name: str
    path: tuple[str, ...]
    arrow: pa.DataType
    json: bool = False


def column_name(path: str) -> str:
    """``address.city`` → ``address_city``: dots would need quoting in every SQL stage."""
    return path.replace(".", "_")


def declared_columns(schema: Mapping[str, str]) -> list[Column]:
    return [Column(column_name(name), tuple(name.split(".")), parse_type(kind),
                   kind.strip().lower() == "json") for name, kind in schema.items()]


def lookup(doc: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path`` (``MISSING`` when a step is absent or not a sub-document)."""
    value: Any = doc
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return MISSING
        value = value[key]
    return value


# --- what a BSON value is --------------------------------------------------------------------


def bson_kind(value: Any) -> str:
    """A coarse kind: null, bool, int, float, decimal, datetime, objectid, str, binary,
    nested, other."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bytes):  # bson.Binary is a bytes subclass
        return "binary"
    if isinstance(value, Mapping | list | tuple):
        return "nested"
    name = type(value).__name__
    if name == "ObjectId":
        return "objectid"
    if name == "Decimal128":
        return "decimal"
    if name == "Timestamp" and hasattr(value, "as_datetime"):
        return "datetime"
    return "other"


def json_default(value: Any) -> Any:
    """JSON for BSON values json cannot write: ObjectId/Decimal128 as text, datetimes ISO."""
    kind = bson_kind(value)
    if kind == "datetime":
        when = value.as_datetime() if hasattr(value, "as_datetime") else value
        return when.isoformat()
    if kind == "binary":
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal | dt.date):
        return str(value)
    return str(value)


# One encoder for every value: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(default=json_default, ensure_ascii=False, separators=(",", ":"))


def to_json(value: Any) -> str:
    return _ENCODER.encode(value)


# --- sampling a schema -----------------------------------------------------------------------


def _decimal_scale(value: Any) -> int:
    exponent = value.to_decimal().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _sampled_type(kinds: set[str], scale: int) -> tuple[pa.DataType, bool]:
    kinds = kinds - {"null"}
    if not kinds:
        return pa.string(), False
    if "nested" in kinds:
        return pa.string(), True
    if len(kinds) == 1:
        (kind,) = kinds
        simple = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64(),
                  "datetime": pa.timestamp("us", UTC), "binary": pa.binary()}
        if kind in simple:
            return simple[kind], False
        if kind == "decimal" and scale <= MAX_SAMPLED_SCALE:
            return pa.decimal128(38, scale), False
        return pa.string(), False
    if kinds <= {"int", "float"}:
        return pa.float64(), False
    return pa.string(), False  # mixed kinds: each value as text


def sample_columns(docs: Iterable[Mapping[str, Any]]) -> list[Column]:
    """Top-level fields in order of first appearance (``_id`` first), each typed by the
    kinds of value the sample holds."""
    kinds: dict[str, set[str]] = {}
    scales: dict[str, int] = {}
    for doc in docs:
        for key, value in doc.items():
            kind = bson_kind(value)
            kinds.setdefault(key, set()).add(kind)
            if kind == "decimal":
                scales[key] = max(scales.get(key, 0), _decimal_scale(value))
    names = sorted(kinds, key=lambda k: k != "_id")  # stable: _id first, then as found
    columns = []
    for name in names:
        arrow, is_json = _sampled_type(kinds[name], scales.get(name, 0))
        columns.append(Column(name, (name,), arrow, is_json))
    return columns


# --- converting values -----------------------------------------------------------------------


def _describe(value: Any) -> str:
    kind = bson_kind(value)
    text = str(value) if kind in ("decimal", "objectid") else (
        to_json(value) if kind != "other" else repr(value))
    return text if len(text) <= 60 else text[:57] + "..."


def convert(value: Any, column: Column) -> Any:
    """``value`` as a Python value of ``column``'s Arrow type, or ``Misfit``."""
    if value is None or value is MISSING:
        return None
    kind = bson_kind(value)
    target = column.arrow

    def misfit(expected: str) -> Misfit:
        return Misfit(f"field `{'.'.join(column.path)}`: expected {expected}, found {kind} "
                      f"{_describe(value)}")

    if column.json:
        return to_json(value)
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        if kind == "str":
            return value
        if kind == "nested":
            return to_json(value)
        if kind == "datetime":
            return json_default(value)
        return str(value)  # ObjectId hex, numbers, Decimal128 as written
    if pa.types.is_boolean(target):
        if kind != "bool":
            raise misfit("a boolean")
        return value
    if pa.types.is_integer(target):
        if kind != "int":
            raise misfit(f"an integer ({target})")
        bits = target.bit_width
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            raise misfit(f"an integer that fits {target}")
        return value
    if pa.types.is_floating(target):
        if kind in ("int", "float"):
            return float(value)
        if kind == "decimal":
            return float(value.to_decimal())
        raise misfit("a number")
    if pa.types.is_decimal(target):
        if kind == "decimal":
            number = value.to_decimal()
        elif kind == "int":
            number = decimal.Decimal(value)
        elif kind == "float":
            number = decimal.Decimal(repr(value))
        else:
            raise misfit(f"a number ({target})")
        if not number.is_finite():
            raise misfit(f"a finite number ({target})")
        quantum = decimal.Decimal(1).scaleb(-target.scale)
        exact = number.quantize(quantum, context=decimal.Context(prec=80))
        if exact != number:
            raise misfit(f"at most {target.scale} digits after the point ({target})")
        if len(exact.as_tuple().digits) > target.precision:
            raise misfit(f"at most {target.precision} digits ({target})")
        return exact
    if pa.types.is_timestamp(target) or pa.types.is_date(target):
        if kind != "datetime":
            raise misfit("a date/time")
        when = value.as_datetime() if hasattr(value, "as_datetime") else value
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # BSON dates are UTC
        if pa.types.is_date(target):
            return when.astimezone(UTC).date()
        return when if target.tz else when.astimezone(UTC).replace(tzinfo=None)
    if pa.types.is_binary(target) or pa.types.is_large_binary(target):
        if kind != "binary":
            raise misfit("binary data")
        return bytes(value)
    if pa.types.is_time(target):
        raise misfit(f"a {target} (BSON has no time of day type; declare it as string)")
    raise misfit(str(target))


@dataclass(frozen=True)
class Converted:
    """One chunk of documents as a batch, and the documents that did not fit."""

    batch: pa.RecordBatch
    kept: list[int]  # index in the chunk of each row of ``batch``
    misfits: list[tuple[int, str, str]]  # (index in the chunk, column, reason)


def converter(column: Column) -> Callable[[Mapping[str, Any]], Any]:
    """A function of a document giving ``column``'s value: the common case (a top-level
    field whose Python type is already the column's) skips ``convert``'s checks, which cost
    most of a read's client time."""
    path = column.path
    target = column.arrow
    fast: type | None = None
    if not column.json:
        if pa.types.is_string(target):
            fast = str
        elif pa.types.is_floating(target):
            fast = float
        elif pa.types.is_boolean(target):
            fast = bool
        elif target == pa.int64():
            fast = int
        elif pa.types.is_timestamp(target) and target.tz is not None:
            fast = dt.datetime

    is_json = column.json
    object_id = fast is str  # an ObjectId in a text column: its hex string

    def get(doc: Mapping[str, Any]) -> Any:
        value: Any = doc.get(path[0], MISSING) if len(path) == 1 else lookup(doc, path)
        if fast is not None and type(value) is fast and (
                fast is not dt.datetime or getattr(value, "tzinfo", None) is not None):
            return value
        if is_json and value is not None and value is not MISSING:
            return _ENCODER.encode(value)
        if object_id and type(value).__name__ == "ObjectId":
            return str(value)
        return convert(value, column)

    return get


def to_batch(docs: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> Converted:
    """The documents as one batch of ``columns``; a document with a value that does not fit
    is left out and reported."""
    values: list[list[Any]] = [[] for _ in columns]
    kept: list[int] = []
    misfits: list[tuple[int, str, str]] = []
    getters = [converter(c) for c in columns]
    for index, doc in enumerate(docs):
        row = []
        try:
            for get in getters:
                row.append(get(doc))
        except Misfit as exc:
            misfits.append((index, columns[len(row)].name, str(exc)))
            continue
        kept.append(index)
        for out, value in zip(values, row, strict=True):
            out.append(value)
    schema = pa.schema([pa.field(c.name, c.arrow) for c in columns])
    arrays = [pa.array(v, type=c.arrow) for v, c in zip(values, columns, strict=True)]
    return Converted(pa.RecordBatch.from_arrays(arrays, schema=schema), kept, misfits)


# --- Arrow rows → documents ------------------------------------------------------------------


def _bson_value(value: Any) -> Any:
    """A Python value from Arrow as BSON can hold it: decimals as Decimal128, dates as UTC
    midnights (BSON has no date type), times of day as text."""
    if isinstance(value, decimal.Decimal):
        from bson.decimal128 import Decimal128

        return Decimal128(value)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, dt.time | dt.timedelta):
        return str(value)
    if isinstance(value, list):
        return [_bson_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _bson_value(v) for k, v in value.items()}
    return value


def to_documents(batch: pa.RecordBatch, json_columns: Sequence[str] = ()
                 ) -> list[tuple[dict[str, Any], str | None]]:
    """Each row as a document, and why it cannot be written (None when it can): a
    ``json_columns`` value that is not JSON."""
    parse = set(json_columns)
    out: list[tuple[dict[str, Any], str | None]] = []
    for row in batch.to_pylist():
        doc: dict[str, Any] = {}
        problem = None
        for name, value in row.items():
            if value is None:
                doc[name] = None
            elif name in parse and isinstance(value, str):
                try:
                    doc[name] = json.loads(value)
                except ValueError as exc:
                    problem = f"column `{name}` is not JSON ({exc})"
                    doc[name] = value
            else:
                doc[name] = _bson_value(value)
        out.append((doc, problem))
    return out
