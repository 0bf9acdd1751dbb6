"""Stream JSON Lines files as Arrow batches, one object per line.

The schema is declared or inferred from the first rows of the first file. A line that is not
a JSON object, has a field the schema does not know, or a value of the wrong type goes to the
dead-letter output with its file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchReader, Rejected, RunContext, as_batch
from dteg.components.records import dead_letters, row_json, with_provenance
from dteg.components.types import parse_type
from dteg.connectors import filesystem as fs
from dteg.connectors.casting import (
    CastPlan,
    json_kind_matches,
    json_value_fits,
    parsed_from_text,
)
from dteg.connectors.jsonl.config import SourceConfig
from dteg.errors import ConnectorError


@dataclass(frozen=True)
class _Split:
    path: str
    schema: pa.Schema
    # Text columns that keep any JSON value as JSON text (declared `json`, nested or mixed).
    json_columns: frozenset[str] = frozenset()


class JsonlReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.patterns = [ctx.resolve_path(p) for p in config.paths()]

    def size_hint(self) -> int | None:
        return fs.local_size(self.patterns)

    def splits(self) -> list[Any]:
        files = fs.expand(self.patterns, step=self.ctx.step, allow_empty=self.config.allow_empty,
                          example="*.jsonl",
                          options=self.config.store_options(self.ctx.step))
        if not files:
            return []
        schema, json_columns = self._schema(files[0])
        return [_Split(f, schema, json_columns) for f in files]

    def _schema(self, first: str) -> tuple[pa.Schema, frozenset[str]]:
        sample: list[dict[str, Any]] = []
        for _, obj, _ in self._objects(first):
            if isinstance(obj, dict):
                sample.append(obj)
            if len(sample) >= self.config.sample_rows:
                break
        written = self.config.schema_ or {}
        declared = {c: parse_type(t) for c, t in written.items()}
        json_columns = {c for c, t in written.items() if t.strip().lower() == "json"}
        names: list[str] = []
        for row in sample:
            names.extend(k for k in row if k not in names)
        names.extend(c for c in declared if c not in names)
        fields = []
        for name in names:
            if name in declared:
                fields.append(pa.field(name, declared[name]))
                continue
            values = [row[name] for row in sample if row.get(name) is not None]
            if any(isinstance(v, (dict, list)) for v in values):
                # Nested values stay JSON text: a struct would silently drop keys that the
                # sample did not have.
                json_columns.add(name)
                fields.append(pa.field(name, pa.string()))
                continue
            if any(isinstance(v, float) for v in values) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                values = [float(v) for v in values]
            try:
                inferred = pa.array(values).type if values else pa.string()
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                inferred = pa.string()  # mixed types: keep them as JSON text
                json_columns.add(name)
            fields.append(pa.field(name, pa.string() if pa.types.is_null(inferred) else inferred))
        return pa.schema(fields), frozenset(json_columns)

    def _objects(self, path: str) -> Iterator[tuple[int, Any, str]]:
        compression = fs.compression_of(path, self.config.compression)
        options = self.config.store_options(self.ctx.step)
        with fs.open_read(path, compression, options=options) as stream, \
                fs.reading(path, self.ctx.step):
            for number, raw in enumerate(stream, start=1):
                try:
                    line = raw.decode(self.config.encoding).strip()
                except UnicodeDecodeError as exc:
                    yield number, exc, raw.decode(self.config.encoding, "replace").strip()
                    continue
                if number == 1:
                    line = line.lstrip("\ufeff")  # a byte order mark is not part of the JSON
                if not line:
                    continue
                try:
                    yield number, json.loads(line), line
                except json.JSONDecodeError as exc:
                    yield number, exc, line

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        names = set(split.schema.names)
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        bad: list[_Bad] = []
        for number, obj, line in self._objects(split.path):
            if isinstance(obj, json.JSONDecodeError):
                bad.append(_Bad(number, f"invalid JSON: {obj.msg} (column {obj.colno})", line))
            elif isinstance(obj, UnicodeDecodeError):
                bad.append(_Bad(number, f"not valid {self.config.encoding} text "
                                f"(byte {obj.start})", line))
            elif not isinstance(obj, dict):
                bad.append(_Bad(number, f"expected a JSON object, found {type(obj).__name__}",
                                line))
            elif not names.issuperset(obj):
                extra = sorted(set(obj) - names)
                bad.append(_Bad(number, f"field(s) {extra} are not in the schema (declare them "
                                "under `schema:` to keep them)", row_json(obj, self.ctx.mask_row)))
            else:
                rows.append(obj)
                lines.append(number)
            if len(rows) >= self.config.batch_rows:
                yield from self._emit(rows, lines, bad, split)
                rows, lines, bad = [], [], []
        yield from self._emit(rows, lines, bad, split)
        yield self._empty(split)

    def _empty(self, split: _Split) -> pa.RecordBatch:
        """The split's columns with no rows (dropped downstream if the split had rows)."""
        columns = {f.name: _column([], f, f.name in split.json_columns, {})
                   for f in split.schema}
        plan = CastPlan({f.name: f.type for f in split.schema}, null_values=[""])
        typed, _ = plan.apply(pa.table(columns))
        return self._with_filename(as_batch(typed), split.path)

    def _emit(self, rows: list[dict[str, Any]], lines: list[int], bad: list[_Bad],
              split: _Split) -> Iterator[pa.RecordBatch | Rejected]:
        if rows:
            # JSON has no dates, timestamps or decimals: read them as text, then cast.
            columns: dict[str, pa.Array] = {}
            failed: dict[int, tuple[str, str]] = {}
            for f in split.schema:
                columns[f.name] = _column(rows, f, f.name in split.json_columns, failed)
            table = pa.table(columns)
            if failed:
                keep = [i not in failed for i in range(len(rows))]
                table = table.filter(pa.array(keep))
                bad.extend(_Bad(lines[i], reason, row_json(rows[i], self.ctx.mask_row), column)
                           for i, (column, reason) in sorted(failed.items()))
                lines = [n for n, k in zip(lines, keep, strict=True) if k]
            plan = CastPlan({f.name: f.type for f in split.schema}, null_values=[""])
            typed, failures = plan.apply(table)
            if failures:
                failed_rows = table.take(pa.array([i for i, _, _ in failures])).to_pylist()
                bad.extend(_Bad(lines[i], reason, row_json(row, self.ctx.mask_row), column)
                           for (i, column, reason), row in zip(failures, failed_rows,
                                                                strict=True))
            if typed.num_rows:
                failed_at = {i for i, _, _ in failures}
                kept = [n for i, n in enumerate(lines) if i not in failed_at]
                if len(kept) == typed.num_rows:  # each row's line, for later dead letters
                    typed = with_provenance(typed, f"{split.path}:{{}}", positions=kept)
                for batch in typed.to_batches(max_chunksize=self.config.batch_rows):
                    yield self._with_filename(batch, split.path)
        if bad:
            bad.sort(key=lambda b: b.line)
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[b.reason for b in bad],
                columns=[b.column for b in bad],
                records=[self._raw(b.text) for b in bad],
                sources=[f"{split.path}:{b.line}" for b in bad],
            ))

    def _raw(self, text: str) -> str:
        if self.ctx.mask_row is None:
            return text
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            return "[withheld: the pipeline masks columns and this line could not be parsed]"
        if isinstance(obj, dict):
            return row_json(obj, self.ctx.mask_row)
        return "[withheld: the pipeline masks columns and this line is not a JSON object]"

    def _with_filename(self, batch: pa.RecordBatch, path: str) -> pa.RecordBatch:
        if self.config.filename_column:
            batch = batch.append_column(self.config.filename_column,
                                        pa.array([path] * batch.num_rows, pa.string()))
        return batch

    def describe(self) -> str:
        return ", ".join(self.patterns)


@dataclass(frozen=True)
class _Bad:
    line: int
    reason: str
    text: str
    column: str | None = None


def _column(rows: list[dict[str, Any]], f: pa.Field, as_json: bool,
            failed: dict[int, tuple[str, str]]) -> pa.Array:
    """One column of ``rows`` for field ``f``, as text when it is cast from text later. Values
    of the wrong JSON type are recorded in ``failed`` (row → column, reason) and left null:
    pyarrow would otherwise turn 1.7 into the integer 1 without a word."""
    values = [row.get(f.name) for row in rows]
    if as_json:
        return pa.array([v if v is None or isinstance(v, str)
                         else json.dumps(v, ensure_ascii=False) for v in values], pa.string())
    target = f.type
    if pa.types.is_string(target):
        values = [json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
                  for v in values]
    elif pa.types.is_decimal(target):
        # Amounts often arrive as JSON numbers: read them as their text, exactly.
        values = [str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                  for v in values]
    kind = pa.string() if parsed_from_text(target) else target
    try:  # fast path: pyarrow infers one type for the column and it is the right kind
        inferred = pa.array(values)
        if json_kind_matches(inferred.type, kind):
            return inferred.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        pass
    for i, value in enumerate(values):
        if value is not None and not json_value_fits(value, kind):
            failed.setdefault(i, (f.name, f"column `{f.name}`: {value!r} is not a valid "
                                          f"{target}"))
            values[i] = None
    try:
        return pa.array(values, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        # Out of range for a narrow type: find the rows one by one.
        for i, value in enumerate(values):
            try:
                pa.array([value], kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                failed.setdefault(i, (f.name, f"column `{f.name}`: {value!r} is out of range "
                                              f"for {target}"))
                values[i] = None
        return pa.array(values, kind)





def create(config: SourceConfig, ctx: RunContext) -> JsonlReader:
    if config.encoding.lower().replace("-", "") in ("utf16", "utf32"):
        raise ConnectorError("JSON Lines in UTF-16/32 is not supported", step=ctx.step,
                             hint="Convert the file to UTF-8.")
    return JsonlReader(config, ctx)
