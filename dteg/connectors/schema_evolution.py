"""Schema evolution for table sinks (DuckDB, PostgreSQL, MySQL): compare the columns of the
data with the table's and decide what to do, before anything is written.

Types are compared in a small dialect-neutral form (``ColumnType``): each sink parses its
database's type names into it and renders it back as DDL. The rules:

* a data column whose values fit the table's column (int32 into BIGINT, varchar(10) into
  TEXT) loads as is, under every policy;
* ``evolve`` adds new columns and widens a column whose type is too narrow (INTEGER →
  BIGINT, NUMERIC(10,2) → NUMERIC(12,2), VARCHAR(10) → TEXT, DATE → TIMESTAMP);
* ``freeze`` fails, naming every new and changed column;
* ``discard_columns`` loads only the columns the table has (a type change still fails);
* a change no widening can hold without loss (text into an integer column) always fails:
  nothing is ever silently truncated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from dteg.errors import ConnectorError

INT_DIGITS = {8: 3, 16: 5, 24: 7, 32: 10, 64: 19}


@dataclass(frozen=True)
class ColumnType:
    """``kind`` is one of bool, int, float, decimal, text, binary, date, time, timestamp,
    timestamptz, json, other. ``size``: bits for int/float, precision for decimal, maximum
    length for text/binary (None: unbounded). ``scale``: decimal scale. ``name``: the type as
    the database or Arrow spells it, for messages."""

    kind: str
    size: int | None = None
    scale: int | None = None
    name: str = ""

    def __str__(self) -> str:
        return self.name or (self.kind if self.size is None else f"{self.kind}({self.size})")


def arrow_column_type(dtype: pa.DataType) -> ColumnType:
    """The ColumnType of an Arrow type (what a sink creates for it)."""
    name = str(dtype)
    if pa.types.is_dictionary(dtype):
        return arrow_column_type(dtype.value_type)
    if pa.types.is_boolean(dtype):
        return ColumnType("bool", name=name)
    if pa.types.is_integer(dtype):
        bits = dtype.bit_width
        if pa.types.is_unsigned_integer(dtype):
            if bits == 64:
                return ColumnType("decimal", 20, 0, name)
            bits *= 2
        return ColumnType("int", max(bits, 16), name=name)
    if pa.types.is_floating(dtype):
        return ColumnType("float", 64 if dtype.bit_width == 64 else 32, name=name)
    if pa.types.is_decimal(dtype):
        return ColumnType("decimal", dtype.precision, dtype.scale, name)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return ColumnType("text", name=name)
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or (
            pa.types.is_fixed_size_binary(dtype)):
        return ColumnType("binary", name=name)
    if pa.types.is_date(dtype):
        return ColumnType("date", name=name)
    if pa.types.is_time(dtype):
        return ColumnType("time", name=name)
    if pa.types.is_timestamp(dtype):
        return ColumnType("timestamptz" if dtype.tz else "timestamp", name=name)
    return ColumnType("other", name=name)


def fits(data: ColumnType, table: ColumnType) -> bool:
    """Every value of type ``data`` can be stored in a ``table`` column without loss."""
    if data.kind == table.kind:
        if data.kind in ("int", "float"):
            return (data.size or 0) <= (table.size or 0)
        if data.kind == "decimal":
            return ((data.scale or 0) <= (table.scale or 0) and
                    _int_digits(data) <= _int_digits(table))
        if data.kind in ("text", "binary"):
            return table.size is None or (data.size is not None and data.size <= table.size)
        if data.kind == "other":
            return data.name == table.name
        return True
    if data.kind == "int" and table.kind == "decimal":
        return INT_DIGITS.get(data.size or 64, 19) <= _int_digits(table)
    if data.kind == "int" and table.kind == "float":
        return (data.size or 64) <= (16 if table.size == 32 else 32)
    if data.kind == "date" and table.kind in ("timestamp", "timestamptz"):
        return True
    return data.kind == "text" and table.kind == "json"


def _int_digits(t: ColumnType) -> int:
    if t.kind == "int":
        return INT_DIGITS.get(t.size or 64, 19)
    return (t.size or 38) - (t.scale or 0)


def widened(data: ColumnType, table: ColumnType) -> ColumnType | None:
    """The narrowest type that holds both, if one exists without loss; else None."""
    if fits(data, table):
        return table
    if fits(table, data):
        return data
    numeric = ("int", "decimal")
    if data.kind in numeric and table.kind in numeric:
        scale = max(data.scale or 0, table.scale or 0)
        precision = max(_int_digits(data), _int_digits(table)) + scale
        return ColumnType("decimal", precision, scale) if precision <= 38 else None
    if data.kind == table.kind and data.kind in ("text", "binary"):
        return ColumnType(data.kind)
    return None


@dataclass
class EvolutionPlan:
    """What to change in the table before loading, and which data columns to leave out."""

    add: list[tuple[str, ColumnType]] = field(default_factory=list)
    widen: list[tuple[str, ColumnType, ColumnType]] = field(default_factory=list)  # col, old, new
    discard: list[str] = field(default_factory=list)

    @property
    def changes_table(self) -> bool:
        return bool(self.add or self.widen)


def plan(table: dict[str, ColumnType], data: dict[str, ColumnType], policy: str, *,
         table_name: str, step: str, widen_types: bool = True) -> EvolutionPlan:
    """Compare the table's columns with the data's; raise ``ConnectorError`` naming every
    column that the policy refuses."""
    result = EvolutionPlan()
    lowered = {name.lower(): name for name in table}
    new: list[str] = []
    changed: list[str] = []
    impossible: list[str] = []
    for column, dtype in data.items():
        existing = table.get(column) or table.get(lowered.get(column.lower(), ""))
        if existing is None:
            new.append(column)
            continue
        if fits(dtype, existing):
            continue
        wider = widened(dtype, existing) if widen_types else None
        if wider is None:
            impossible.append(f"{column} (table: {existing}, data: {dtype})")
        else:
            changed.append(column)
            result.widen.append((column, existing, wider))
    if impossible:
        raise ConnectorError(
            f"column(s) of {table_name} cannot hold the data's values without loss: "
            f"{', '.join(impossible)}", step=step,
            hint="Cast the column with a `map` step, or change the table's column type "
            "yourself; dteg never truncates values silently.")
    if policy == "freeze" and (new or changed):
        parts = []
        if new:
            parts.append("new column(s) " + ", ".join(f"{c} ({data[c]})" for c in new))
        if changed:
            parts.append("changed column(s) " + ", ".join(
                f"{c} ({old} → {wider})" for c, old, wider in result.widen))
        raise ConnectorError(
            f"the data does not match table {table_name} and `schema_evolution: freeze` "
            f"forbids changing it: {'; '.join(parts)}", step=step,
            hint="Use `schema_evolution: evolve` to add/widen columns, `discard_columns` to "
            "load only the table's columns, or a `map` step to drop or cast them.")
    if policy == "discard_columns":
        if changed:
            raise ConnectorError(
                f"column(s) of {table_name} are too narrow for the data: " + ", ".join(
                    f"{c} ({old}, data needs {wider})" for c, old, wider in result.widen),
                step=step, hint="Use `schema_evolution: evolve` to widen them, or cast the "
                "data with a `map` step.")
        result.discard = new
        result.widen = []
        return result
    result.add = [(c, data[c]) for c in new]
    return result
