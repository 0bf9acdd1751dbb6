"""A test's given rows as an Arrow table: inline rows, or a CSV / JSON Lines fixture file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.errors import Location, SpecError
from dteg.spec.tests_block import TestInput


def input_table(given: TestInput, base_dir: Path, location: Location, test: str) -> pa.Table:
    """The rows of ``given``, cast to its ``schema:``; a fixture path is taken from the
    pipeline file's folder."""
    return cast_columns(_given_table(given, base_dir, location, test), given.schema_,
                        location, test)


def cast_columns(table: pa.Table, schema: dict[str, str], location: Location,
                 test: str) -> pa.Table:
    """``table`` with the columns ``schema`` names cast to their types."""
    from dteg.components.types import parse_type

    for column, type_name in schema.items():
        if column not in table.column_names:
            raise SpecError(f"test `{test}`: `schema:` names the column `{column}`, which no "
                            "given row has", location=location,
                            hint=f"The rows have: {', '.join(table.column_names) or 'none'}.")
        index = table.column_names.index(column)
        try:
            values = table.column(column).cast(parse_type(type_name))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise SpecError(f"test `{test}`: the values of `{column}` do not cast to "
                            f"`{type_name}`: {exc}", location=location,
                            hint="Fix the given values or the type in `schema:`.") from None
        table = table.set_column(index, column, values)
    return table


def _given_table(given: TestInput, base_dir: Path, location: Location, test: str) -> pa.Table:
    if given.rows is not None:
        return rows_table(given.rows, location, test)
    assert given.path is not None
    path = Path(given.path).expanduser()
    path = path if path.is_absolute() else base_dir / path
    if not path.is_file():
        raise SpecError(f"test `{test}`: no fixture file at {path}", location=location,
                        hint="Fixture paths are taken from the pipeline file's folder.")
    if path.suffix.lower() == ".csv":
        import pyarrow.csv as pacsv

        try:
            return pacsv.read_csv(str(path))
        except pa.ArrowInvalid as exc:
            raise SpecError(f"test `{test}`: the fixture {path} is not valid CSV: {exc}",
                            location=location, hint="Fix the file (one header line, then "
                            "rows with as many fields).") from None
    return rows_table(_json_rows(path, location, test), location, test)


def _json_rows(path: Path, location: Location, test: str) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        if text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise SpecError(f"test `{test}`: the fixture {path} is not JSON Lines (line "
                        f"{exc.lineno}: {exc.msg})", location=location,
                        hint="Write one JSON object per line.") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise SpecError(f"test `{test}`: the fixture {path} must hold JSON objects, one per "
                        "row", location=location, hint="Write one JSON object per line.")
    return rows


def rows_table(rows: list[dict[str, Any]], location: Location, test: str) -> pa.Table:
    """Rows as a table with every column any row has (a row without one has it null)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    try:
        return pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SpecError(f"test `{test}`: the given rows do not make a table: {exc}",
                        location=location, hint="Give each column values of one type in "
                        "every row (quote a value to make it text).") from None
