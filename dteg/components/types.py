"""Column type names a user may write in a declared ``schema:`` and their Arrow types."""

from __future__ import annotations

import difflib
import re
from typing import Annotated

import pyarrow as pa
from pydantic import AfterValidator

_SIMPLE: dict[str, pa.DataType] = {
    "string": pa.string(), "str": pa.string(), "text": pa.string(), "varchar": pa.string(),
    "int": pa.int64(), "integer": pa.int64(), "int64": pa.int64(), "bigint": pa.int64(),
    "int32": pa.int32(), "smallint": pa.int16(), "int16": pa.int16(), "int8": pa.int8(),
    "float": pa.float64(), "double": pa.float64(), "float64": pa.float64(),
    "float32": pa.float32(), "real": pa.float32(),
    "bool": pa.bool_(), "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"), "datetime": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "time": pa.time64("us"),
    "bytes": pa.binary(), "binary": pa.binary(),
    "json": pa.string(),
}
_DECIMAL = re.compile(r"^(?:decimal|numeric)\((\d+)\s*,\s*(\d+)\)$")
# `numeric`/`decimal` without (p,s): the widest decimal128 with 9 digits after the point
# (PostgreSQL's unconstrained numeric, BigQuery's NUMERIC).
_BARE_DECIMAL = {"decimal": pa.decimal128(38, 9), "numeric": pa.decimal128(38, 9)}


class UnknownType(ValueError):
    """Raised with a message that lists the known names."""


def parse_type(name: str) -> pa.DataType:
    """``"int"`` → ``pa.int64()``; ``"decimal(10,2)"`` → ``pa.decimal128(10, 2)``."""
    key = name.strip().lower()
    if key in _SIMPLE:
        return _SIMPLE[key]
    if key in _BARE_DECIMAL:
        return _BARE_DECIMAL[key]
    m = _DECIMAL.match(key)
    if m:
        return pa.decimal128(int(m[1]), int(m[2]))
    close = difflib.get_close_matches(key, [*_SIMPLE, *_BARE_DECIMAL], n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    raise UnknownType(
        f"unknown column type `{name}`.{hint} Known types: {', '.join(sorted(set(_SIMPLE)))}, "
        "decimal, numeric, decimal(p,s), numeric(p,s)."
    )


def _checked(name: str) -> str:
    try:
        parse_type(str(name))
    except UnknownType as exc:
        raise ValueError(str(exc)) from None
    return name


# A column type in a declared schema (``schema: {id: int}``): checked per column, so an error
# points at that column's line.
DeclaredType = Annotated[str, AfterValidator(_checked)]
