"""Kafka message values → Arrow columns, and poison messages → dead letters.

JSON goes through pyarrow's C++ reader: the values of a poll are joined into one JSON Lines
buffer (a raw newline can only be whitespace in valid JSON, so it is replaced by a space) and
parsed at once, ~7× faster than ``json.loads`` per message. A message the reader refuses is
found from the row number in its error, dead-lettered, and the rest parsed again; when the
error names no row, every message is checked on its own.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pj

from dteg.components.types import parse_type
from dteg.connectors.casting import CastPlan
from dteg.connectors.kafka.config import SourceConfig
from dteg.errors import ConfigError

_ROW = re.compile(r"^JSON parse error: (.*) in row (\d+)$", re.S)
_CLASH = " (declare its type under `schema:`)"
_MAX_RETRIES = 64  # rows refused one at a time before the whole poll is checked per message
WITHHELD = "[withheld: the pipeline masks columns and this message could not be decoded]"


@dataclass
class Decoded:
    """Rows that decoded (in message order) and the indexes/reasons of those that did not."""

    table: pa.Table | None
    kept: list[int]  # message index of each row of ``table``
    bad: list[tuple[int, str]] = field(default_factory=list)  # (message index, reason)


def _direct(t: pa.DataType) -> bool:
    """Types pyarrow's JSON reader converts itself; the others are read as text and cast."""
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                or pa.types.is_string(t))


def _fits(value: Any, t: pa.DataType) -> bool:
    if value is None:
        return True
    if pa.types.is_string(t):
        return isinstance(value, str)
    if isinstance(value, bool):
        return pa.types.is_boolean(t)
    if pa.types.is_integer(t):
        return isinstance(value, int)
    if pa.types.is_floating(t):
        return isinstance(value, (int, float))
    return True


class JsonDecoder:
    def __init__(self, declared: dict[str, str] | None) -> None:
        self.declared = {c: parse_type(t) for c, t in (declared or {}).items()}
        self.cast = {c: t for c, t in self.declared.items() if not _direct(t)}
        schema = pa.schema([pa.field(c, t if _direct(t) else pa.string())
                            for c, t in self.declared.items()])
        self.parse_options = (
            pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
            if self.declared else pj.ParseOptions())

    def decode(self, values: Sequence[bytes | None]) -> Decoded:
        bad: list[tuple[int, str]] = []
        suspects = {i for i, v in enumerate(values) if v is None or v[:1] != b"{"}
        for index in sorted(suspects):
            reason = _not_an_object(values[index])
            if reason:
                bad.append((index, reason))
        refused_early = {i for i, _ in bad}
        kept = ([i for i in range(len(values)) if i not in refused_early] if refused_early
                else list(range(len(values))))
        table, kept, refused = self._parse(values, kept)
        bad.extend(refused)
        if table is not None and self.cast:
            typed, failures = CastPlan(self.cast, null_values=[""]).apply(table)
            if failures:
                gone = {i for i, _, _ in failures}
                bad.extend((kept[i], reason) for i, _, reason in failures)
                kept = [k for i, k in enumerate(kept) if i not in gone]
            table = typed
        if table is not None:
            table = _no_null_columns(table)
        bad.sort()
        return Decoded(table, kept, bad)

    def _read(self, values: Sequence[bytes | None], kept: list[int]) -> pa.Table:
        parts = values if len(kept) == len(values) else [values[i] for i in kept]
        data = b"\n".join(parts)  # type: ignore[arg-type]
        if data.count(b"\n") != len(parts) - 1 or b"\r" in data:
            # Pretty-printed messages: their raw newlines are whitespace, not row breaks.
            data = b"\n".join(v.replace(b"\n", b" ").replace(b"\r", b" ")  # type: ignore[union-attr]
                              for v in parts)
        options = pj.ReadOptions(block_size=max(len(data) + 1, 1 << 16), use_threads=True)
        return pj.read_json(io.BytesIO(data), read_options=options,
                            parse_options=self.parse_options)

    def _parse(self, values: Sequence[bytes | None], kept: list[int]
               ) -> tuple[pa.Table | None, list[int], list[tuple[int, str]]]:
        refused: list[tuple[int, str]] = []
        clashes: list[int] = []  # undeclared columns whose JSON type differs between rows
        checked = False
        for _ in range(_MAX_RETRIES):
            if not kept:
                return None, kept, refused
            try:
                table = self._read(values, kept)
            except pa.ArrowInvalid as exc:
                match = _ROW.match(str(exc))
                row = int(match.group(2)) if match else -1
                if match and 0 <= row < len(kept):
                    reason = self._reason(match.group(1), values[kept[row]])
                    if reason.endswith(_CLASH):
                        clashes.append(kept[row])
                    refused.append((kept[row], reason))
                    kept = kept[:row] + kept[row + 1:]
                    continue
                if checked:
                    break
                table = None
            if table is not None and table.num_rows == len(kept):
                return table, kept, refused
            if checked:
                break
            kept, more = self._check_each(values, kept)
            refused.extend(more)
            checked = True
        if not checked:
            kept, more = self._check_each(values, kept)
            refused.extend(more)
        # Too many clashes for one row at a time: keep every row, the clashing columns as
        # JSON text (a column of mixed types is the data's, not a poison message).
        back = set(clashes)
        kept = sorted([*kept, *back])
        refused = [r for r in refused if r[0] not in back]
        return self._mixed(values, kept), kept, refused

    def _mixed(self, values: Sequence[bytes | None], kept: list[int]) -> pa.Table | None:
        """Many messages disagree on a column's type: build the poll row by row, keeping
        such columns as JSON text (as the jsonl source does)."""
        if not kept:
            return None
        objects = [json.loads(values[i]) for i in kept]  # type: ignore[arg-type]
        names: list[str] = []
        for obj in objects:
            names.extend(k for k in obj if k not in names)
        if self.declared:
            names = list(self.declared)
        columns: dict[str, pa.Array] = {}
        for name in names:
            column = [obj.get(name) for obj in objects]
            wanted = self.declared.get(name)
            try:
                columns[name] = pa.array(column, wanted if wanted and _direct(wanted) else None)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                columns[name] = pa.array(
                    [v if v is None or isinstance(v, str) else json.dumps(v) for v in column],
                    pa.string())
        return pa.table(columns)

    def _reason(self, message: str, value: bytes | None) -> str:
        """A reason for a row pyarrow refused: the declared type it breaks, or the types that
        clash, or the parser's own words."""
        text = message.strip().rstrip(".")
        column = re.match(r"Column\((/[^)]*)\) changed from (\w+) to (\w+)", text)
        if not column:
            return f"invalid JSON: {text}"
        name = column.group(1).lstrip("/") or "(the message)"
        if name in self.declared:
            try:
                found = json.loads(value or b"null").get(name)
            except (ValueError, AttributeError):
                found = None
            if found is not None:
                return f"column `{name}`: {found!r} is not a valid {self.declared[name]}"
        return (f"column `{name}`: a {column.group(3)} where earlier messages have a "
                f"{column.group(2)}{_CLASH}")

    def _check_each(self, values: Sequence[bytes | None], kept: list[int]
                    ) -> tuple[list[int], list[tuple[int, str]]]:
        """The slow path: parse every message on its own (one JSON object each, declared
        columns of the right JSON type)."""
        good: list[int] = []
        refused: list[tuple[int, str]] = []
        for i in kept:
            value = values[i]
            assert value is not None
            try:
                obj = json.loads(value)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                refused.append((i, _json_error(exc)))
                continue
            if not isinstance(obj, dict):
                refused.append((i, f"expected a JSON object, found {_json_kind(obj)}"))
                continue
            wrong = next((c for c, t in self.declared.items()
                          if _direct(t) and not _fits(obj.get(c), t)), None)
            if wrong is not None:
                refused.append((i, f"column `{wrong}`: {obj[wrong]!r} is not a valid "
                                   f"{self.declared[wrong]}"))
                continue
            good.append(i)
        return good, refused


def _json_kind(obj: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(obj), "a number")


def _json_error(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    return f"invalid JSON: not UTF-8 text ({exc})"


def _not_an_object(value: bytes | None) -> str | None:
    """Why ``value`` cannot be one JSON object (cheap check on the first byte)."""
    if value is None:
        return "the message has no value (a tombstone)"
    stripped = value.lstrip()
    if stripped[:1] == b"{":
        return None
    try:
        obj = json.loads(value)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _json_error(exc)
    return f"expected a JSON object, found {_json_kind(obj)}"


def _no_null_columns(table: pa.Table) -> pa.Table:
    """Columns that were null in every message of this poll become text (not Arrow's null
    type, which sinks cannot store)."""
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            table = table.set_column(i, pa.field(f.name, pa.string()),
                                     pa.nulls(table.num_rows, pa.string()))
    return table


class AvroDecoder:
    """Avro datums written with the configured schema (raw, or Confluent-framed)."""

    def __init__(self, config: SourceConfig, base_dir: Path) -> None:
        import fastavro

        from dteg.connectors.avro.schema import to_arrow_schema

        schema = config.avro_schema_dict()
        if schema is None:
            assert config.avro_schema_file is not None
            path = Path(config.avro_schema_file)
            path = path if path.is_absolute() else base_dir / path
            try:
                schema = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigError(f"cannot read the Avro schema {path}: {exc}",
                                  hint="Fix `avro_schema_file:`.") from None
        try:
            self.parsed = fastavro.parse_schema(schema)
        except Exception as exc:  # fastavro's SchemaParseException and friends
            raise ConfigError(f"the Avro schema is not valid: {exc}",
                              hint="Fix `avro_schema` / `avro_schema_file`.") from None
        self.reader = fastavro.schemaless_reader
        self.schema = to_arrow_schema(schema)
        self.confluent = config.avro_wire == "confluent"
        self.schema_id = config.avro_schema_id

    def decode(self, values: Sequence[bytes | None]) -> Decoded:
        rows: list[dict[str, Any]] = []
        kept: list[int] = []
        bad: list[tuple[int, str]] = []
        for index, value in enumerate(values):
            if value is None:
                bad.append((index, "the message has no value (a tombstone)"))
                continue
            body = value
            if self.confluent:
                if len(value) < 5 or value[0] != 0:
                    bad.append((index, "not Confluent-framed Avro (no zero byte and schema "
                                       "id before the datum)"))
                    continue
                schema_id = int.from_bytes(value[1:5], "big")
                if self.schema_id is not None and schema_id != self.schema_id:
                    bad.append((index, f"written with schema id {schema_id}, expected "
                                       f"{self.schema_id}"))
                    continue
                body = value[5:]
            stream = io.BytesIO(body)
            try:
                record = self.reader(stream, self.parsed)
            except Exception as exc:  # fastavro raises many kinds on foreign bytes
                bad.append((index, f"not valid Avro for the schema: "
                                   f"{type(exc).__name__}: {exc}"))
                continue
            left = len(body) - stream.tell()
            if left:
                bad.append((index, f"not valid Avro for the schema: {left} byte(s) left over "
                                   "(written with another schema?)"))
                continue
            rows.append(record)  # type: ignore[arg-type]
            kept.append(index)
        if not rows:
            return Decoded(None, [], bad)
        try:
            table = pa.Table.from_pylist(rows, schema=self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            table, kept, more = self._one_by_one(rows, kept)
            bad.extend(more)
            bad.sort()
        return Decoded(table, kept, bad)

    def _one_by_one(self, rows: list[dict[str, Any]], kept: list[int]
                    ) -> tuple[pa.Table | None, list[int], list[tuple[int, str]]]:
        good_rows, good, bad = [], [], []
        for row, index in zip(rows, kept, strict=True):
            try:
                pa.Table.from_pylist([row], schema=self.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                bad.append((index, f"cannot convert the record to Arrow: {exc}"))
                continue
            good_rows.append(row)
            good.append(index)
        table = pa.Table.from_pylist(good_rows, schema=self.schema) if good_rows else None
        return table, good, bad


class TextDecoder:
    """format string (UTF-8) or bytes: the value as one column."""

    def __init__(self, column: str, binary: bool) -> None:
        self.column = column
        self.binary = binary

    def decode(self, values: Sequence[bytes | None]) -> Decoded:
        if self.binary:
            return Decoded(pa.table({self.column: pa.array(values, pa.binary())}),
                           list(range(len(values))))
        array = pa.array(values, pa.binary())
        try:
            return Decoded(pa.table({self.column: array.cast(pa.string())}),
                           list(range(len(values))))
        except pa.ArrowInvalid:
            pass
        kept, bad, texts = [], [], []
        for index, value in enumerate(values):
            try:
                texts.append(None if value is None else value.decode("utf-8"))
                kept.append(index)
            except UnicodeDecodeError as exc:
                bad.append((index, f"not valid UTF-8 text (byte {exc.start})"))
        return Decoded(pa.table({self.column: pa.array(texts, pa.string())}), kept, bad)


Decoder = JsonDecoder | AvroDecoder | TextDecoder


def make_decoder(config: SourceConfig, base_dir: Path) -> Decoder:
    if config.format == "json":
        return JsonDecoder(config.schema_)
    if config.format == "avro":
        return AvroDecoder(config, base_dir)
    return TextDecoder(config.value_column, binary=config.format == "bytes")
