"""BigQuery types: Arrow → table schema (standard SQL types)."""

from __future__ import annotations

import pyarrow as pa


def bq_type(dtype: pa.DataType) -> str:
    if pa.types.is_dictionary(dtype):
        return bq_type(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return "BOOL"
    if pa.types.is_integer(dtype):
        return "NUMERIC" if pa.types.is_uint64(dtype) else "INT64"
    if pa.types.is_floating(dtype):
        return "FLOAT64"
    if pa.types.is_decimal(dtype):
        fits = dtype.scale <= 9 and dtype.precision - dtype.scale <= 29
        return "NUMERIC" if fits else "BIGNUMERIC"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "STRING"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "BYTES"
    if pa.types.is_date(dtype):
        return "DATE"
    if pa.types.is_time(dtype):
        return "TIME"
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMP" if dtype.tz else "DATETIME"
    return "JSON"


def schema_fields(schema: pa.Schema) -> list[dict[str, str]]:
    """The table schema, as the API's JSON (every column NULLABLE)."""
    return [{"name": f.name, "type": bq_type(f.type), "mode": "NULLABLE"} for f in schema]


def q(*parts: str) -> str:
    return "`" + ".".join(parts) + "`"
