"""Column type names a user may write in a declared ``schema:`` and their Arrow types.

Checking a name (``check_type``, what ``dteg validate`` does) needs no pyarrow; only
``parse_type`` imports it, so validating a pipeline stays fast."""

from __future__ import annotations

import difflib
import re
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator

if TYPE_CHECKING:
    import pyarrow as pa

# name → (pyarrow factory, its arguments)
_SIMPLE: dict[str, tuple[str, tuple[object, ...]]] = {
    "string": ("string", ()), "str": ("string", ()), "text": ("string", ()),
    "varchar": ("string", ()),
    "int": ("int64", ()), "integer": ("int64", ()), "int64": ("int64", ()),
    "bigint": ("int64", ()), "int32": ("int32", ()), "smallint": ("int16", ()),
    "int16": ("int16", ()), "int8": ("int8", ()),
    "float": ("float64", ()), "double": ("float64", ()), "float64": ("float64", ()),
    "float32": ("float32", ()), "real": ("float32", ()),
    "bool": ("bool_", ()), "boolean": ("bool_", ()),
    "date": ("date32", ()),
    "timestamp": ("timestamp", ("us",)), "datetime": ("timestamp", ("us",)),
    "timestamptz": ("timestamp", ("us", "UTC")),
    "time": ("time64", ("us",)),
    "bytes": ("binary", ()), "binary": ("binary", ()),
    "json": ("string", ()),
}
_DECIMAL = re.compile(r"^(?:decimal|numeric)\((\d+)\s*,\s*(\d+)\)$")
# `numeric`/`decimal` without (p,s): the widest decimal128 with 9 digits after the point
# (PostgreSQL's unconstrained numeric, BigQuery's NUMERIC).
_BARE_DECIMAL = {"decimal": (38, 9), "numeric": (38, 9)}


class UnknownType(ValueError):
    """Raised with a message that lists the known names."""


def check_type(name: str) -> None:
    """Raise ``UnknownType`` unless ``name`` is a type ``parse_type`` knows (no pyarrow)."""
    key = name.strip().lower()
    if key in _SIMPLE or key in _BARE_DECIMAL or _DECIMAL.match(key):
        return
    close = difflib.get_close_matches(key, [*_SIMPLE, *_BARE_DECIMAL], n=1)
    hint = f" Did you mean `{close[0]}`?" if close else ""
    raise UnknownType(
        f"unknown column type `{name}`.{hint} Known types: {', '.join(sorted(set(_SIMPLE)))}, "
        "decimal(p,s)."
    )


def parse_type(name: str) -> pa.DataType:
    """``"int"`` → ``pa.int64()``; ``"decimal(10,2)"`` → ``pa.decimal128(10, 2)``."""
    import pyarrow as pa

    check_type(name)
    key = name.strip().lower()
    if key in _BARE_DECIMAL:
        return pa.decimal128(*_BARE_DECIMAL[key])
    m = _DECIMAL.match(key)
    if m:
        return pa.decimal128(int(m[1]), int(m[2]))
    factory, args = _SIMPLE[key]
    result: pa.DataType = getattr(pa, factory)(*args)
    return result


def _checked(name: str) -> str:
    try:
        check_type(str(name))
    except UnknownType as exc:
        raise ValueError(str(exc)) from None
    return name


# A column type in a declared schema (``schema: {id: int}``): checked per column, so an error
# points at that column's line.
DeclaredType = Annotated[str, AfterValidator(_checked)]
