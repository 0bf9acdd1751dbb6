"""Map Avro schemas to Arrow schemas and back."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

_PRIMITIVE = {
    "null": pa.null(), "boolean": pa.bool_(), "int": pa.int32(), "long": pa.int64(),
    "float": pa.float32(), "double": pa.float64(), "bytes": pa.binary(), "string": pa.string(),
}
_LOGICAL = {
    "date": pa.date32(), "time-millis": pa.time32("ms"), "time-micros": pa.time64("us"),
    "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "local-timestamp-millis": pa.timestamp("ms"), "local-timestamp-micros": pa.timestamp("us"),
    "uuid": pa.string(),
}


def to_arrow_type(schema: Any) -> pa.DataType:
    if isinstance(schema, str):
        return _PRIMITIVE.get(schema, pa.string())
    if isinstance(schema, list):
        branches = [b for b in schema if b != "null"]
        return to_arrow_type(branches[0]) if len(branches) == 1 else pa.string()
    logical = schema.get("logicalType")
    if logical == "decimal":
        return pa.decimal128(schema["precision"], schema.get("scale", 0))
    if logical in _LOGICAL:
        return _LOGICAL[logical]
    kind = schema["type"]
    if kind == "record":
        return pa.struct([pa.field(f["name"], to_arrow_type(f["type"])) for f in schema["fields"]])
    if kind == "array":
        return pa.list_(to_arrow_type(schema["items"]))
    if kind == "map":
        return pa.map_(pa.string(), to_arrow_type(schema["values"]))
    if kind == "enum":
        return pa.string()
    if kind == "fixed":
        return pa.binary(schema["size"])
    return to_arrow_type(kind)


def to_arrow_schema(record: dict[str, Any]) -> pa.Schema:
    return pa.schema([pa.field(f["name"], to_arrow_type(f["type"])) for f in record["fields"]])


def _avro_type(t: pa.DataType, name: str) -> Any:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "long" if t.bit_width > 32 or t in (pa.uint32(),) else "int"
    if pa.types.is_float32(t):
        return "float"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "bytes"
    if pa.types.is_date(t):
        return {"type": "int", "logicalType": "date"}
    if pa.types.is_time32(t):
        return {"type": "int", "logicalType": "time-millis"}
    if pa.types.is_time64(t):
        return {"type": "long", "logicalType": "time-micros"}
    if pa.types.is_timestamp(t):
        logical = "timestamp-micros" if t.tz else "local-timestamp-micros"
        return {"type": "long", "logicalType": logical}
    if pa.types.is_decimal(t):
        return {"type": "bytes", "logicalType": "decimal", "precision": t.precision,
                "scale": t.scale}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return {"type": "array", "items": _nullable(_avro_type(t.value_type, name + "_item"))}
    if pa.types.is_struct(t):
        return {"type": "record", "name": name,
                "fields": [{"name": f.name,
                            "type": _nullable(_avro_type(f.type, f"{name}_{f.name}"))}
                           for f in t]}
    if pa.types.is_map(t):
        return {"type": "map", "values": _nullable(_avro_type(t.item_type, name + "_value"))}
    return "string"


def _nullable(avro: Any) -> Any:
    return ["null", avro]


def from_arrow_schema(schema: pa.Schema, name: str) -> dict[str, Any]:
    return {
        "type": "record", "name": name,
        "fields": [{"name": f.name, "type": _nullable(_avro_type(f.type, f.name)),
                    "default": None} for f in schema],
    }
