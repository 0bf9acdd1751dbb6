"""Snowflake names and types: Arrow → DDL, information_schema → ``ColumnType``."""

from __future__ import annotations

import pyarrow as pa

from dteg.connectors.schema_evolution import ColumnType, arrow_column_type


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_nested(dtype: pa.DataType) -> bool:
    return (pa.types.is_list(dtype) or pa.types.is_large_list(dtype)
            or pa.types.is_struct(dtype) or pa.types.is_map(dtype))


def column_type(dtype: pa.DataType) -> ColumnType:
    """What a data column needs, in the terms Snowflake can hold."""
    if is_nested(dtype):
        return ColumnType("json", name="VARIANT")
    if pa.types.is_integer(dtype):
        return ColumnType("decimal", 38, 0, "NUMBER(38,0)")
    return arrow_column_type(dtype)


def ddl(column: ColumnType) -> str:
    if column.kind in ("int", "decimal"):
        if column.kind == "int":
            return "NUMBER(38,0)"
        return f"NUMBER({column.size or 38},{column.scale or 0})"
    names = {"float": "FLOAT", "bool": "BOOLEAN", "text": "VARCHAR", "binary": "BINARY",
             "date": "DATE", "time": "TIME", "timestamp": "TIMESTAMP_NTZ",
             "timestamptz": "TIMESTAMP_TZ", "json": "VARIANT"}
    if column.kind == "text" and column.size:
        return f"VARCHAR({column.size})"
    return names.get(column.kind, "VARIANT")


_MAX_TEXT = 16_777_216


def parse(data_type: str, precision: int | None, scale: int | None,
          length: int | None) -> ColumnType:
    """A ColumnType from a row of ``information_schema.columns``."""
    upper = data_type.upper()
    if upper in ("NUMBER", "DECIMAL", "NUMERIC", "INT", "INTEGER", "BIGINT"):
        return ColumnType("decimal", precision or 38, scale or 0,
                          f"NUMBER({precision or 38},{scale or 0})")
    if upper in ("FLOAT", "DOUBLE", "REAL", "FLOAT8", "DOUBLE PRECISION"):
        return ColumnType("float", 64, name=upper)
    if upper in ("TEXT", "VARCHAR", "STRING", "CHAR", "CHARACTER"):
        size = None if not length or length >= _MAX_TEXT else int(length)
        return ColumnType("text", size, name=f"VARCHAR({length})" if size else "VARCHAR")
    simple = {"BOOLEAN": "bool", "DATE": "date", "TIME": "time", "BINARY": "binary",
              "TIMESTAMP_NTZ": "timestamp", "TIMESTAMP": "timestamp", "DATETIME": "timestamp",
              "TIMESTAMP_TZ": "timestamptz", "TIMESTAMP_LTZ": "timestamptz",
              "VARIANT": "json", "OBJECT": "json", "ARRAY": "json"}
    return ColumnType(simple.get(upper, "other"), name=upper)


def can_alter(old: ColumnType, new: ColumnType) -> bool:
    """Snowflake changes a column's type in place only to a longer VARCHAR or a NUMBER of
    higher precision and the same scale."""
    if old.kind == new.kind == "text":
        return True
    return (old.kind == new.kind == "decimal" and (old.scale or 0) == (new.scale or 0))
