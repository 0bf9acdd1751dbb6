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

from dteg.connectors import filesystem as fs
from dteg.connectors.casting import CastPlan
from dteg.connectors.jsonl.config import SourceConfig
from dteg.engine.contracts import BatchReader, Rejected, RunContext
from dteg.engine.records import dead_letters, row_json
from dteg.engine.types import parse_type
from dteg.errors import ConnectorError


@dataclass(frozen=True)
class _Split:
    path: str
    schema: pa.Schema


class JsonlReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.patterns = [ctx.resolve_path(p) for p in config.paths()]

    def splits(self) -> list[Any]:
        files = fs.expand(self.patterns, step=self.ctx.step, allow_empty=self.config.allow_empty)
        if not files:
            return []
        schema = self._schema(files[0])
        return [_Split(f, schema) for f in files]

    def _schema(self, first: str) -> pa.Schema:
        sample: list[dict[str, Any]] = []
        for _, obj, _ in self._objects(first):
            if isinstance(obj, dict):
                sample.append(obj)
            if len(sample) >= self.config.sample_rows:
                break
        declared = {c: parse_type(t) for c, t in (self.config.schema_ or {}).items()}
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
            if any(isinstance(v, float) for v in values) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                values = [float(v) for v in values]
            try:
                inferred = pa.array(values).type if values else pa.string()
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                inferred = pa.string()  # mixed types: keep them as JSON text
            fields.append(pa.field(name, pa.string() if pa.types.is_null(inferred) else inferred))
        return pa.schema(fields)

    def _objects(self, path: str) -> Iterator[tuple[int, Any, str]]:
        with fs.open_read(path, fs.compression_of(path, self.config.compression)) as stream:
            for number, raw in enumerate(stream, start=1):
                line = raw.decode(self.config.encoding, errors="replace").strip()
                if not line:
                    continue
                try:
                    yield number, json.loads(line), line
                except json.JSONDecodeError as exc:
                    yield number, exc, line

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        names = set(split.schema.names)
        text_columns = {f.name for f in split.schema if pa.types.is_string(f.type)}
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        bad: list[tuple[int, str, str]] = []
        for number, obj, line in self._objects(split.path):
            if isinstance(obj, json.JSONDecodeError):
                bad.append((number, f"invalid JSON: {obj.msg} (column {obj.colno})", line))
            elif not isinstance(obj, dict):
                bad.append((number, f"expected a JSON object, found {type(obj).__name__}", line))
            elif not names.issuperset(obj):
                extra = sorted(set(obj) - names)
                bad.append((number, f"field(s) {extra} are not in the schema (declare them "
                            "under `schema:` to keep them)", row_json(obj, self.ctx.mask_row)))
            else:
                for key in text_columns & obj.keys():
                    value = obj[key]
                    if isinstance(value, (dict, list)):
                        obj[key] = json.dumps(value, ensure_ascii=False)
                rows.append(obj)
                lines.append(number)
            if len(rows) >= self.config.batch_rows:
                yield from self._emit(rows, lines, bad, split)
                rows, lines, bad = [], [], []
        yield from self._emit(rows, lines, bad, split)

    def _emit(self, rows: list[dict[str, Any]], lines: list[int],
              bad: list[tuple[int, str, str]], split: _Split,
              ) -> Iterator[pa.RecordBatch | Rejected]:
        if rows:
            # JSON has no dates, timestamps or decimals: read them as text, then cast.
            as_text = pa.schema([
                pa.field(f.name, pa.string()) if _from_text(f.type) else f
                for f in split.schema])
            try:
                table = pa.Table.from_pylist(rows, schema=as_text)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                good, kept_lines = [], []
                for row, number in zip(rows, lines, strict=True):
                    try:
                        pa.Table.from_pylist([row], schema=as_text)
                        good.append(row)
                        kept_lines.append(number)
                    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
                        bad.append((number, f"a value does not fit the schema: {exc}",
                                    row_json(row, self.ctx.mask_row)))
                table = pa.Table.from_pylist(good, schema=as_text)
                lines = kept_lines
            plan = CastPlan({f.name: f.type for f in split.schema}, null_values=[""])
            typed, failures = plan.apply(table)
            if failures:
                failed_rows = table.take(pa.array([i for i, _, _ in failures])).to_pylist()
                bad.extend((lines[i], reason, row_json(row, self.ctx.mask_row))
                           for (i, _, reason), row in zip(failures, failed_rows, strict=True))
            if typed.num_rows:
                for batch in typed.to_batches(max_chunksize=self.config.batch_rows):
                    yield self._with_filename(batch, split.path)
        if bad:
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[r for _, r, _ in bad],
                records=[self._raw(t) for _, _, t in bad],
                sources=[f"{split.path}:{n}" for n, _, _ in bad],
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


def _from_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_temporal(t) or pa.types.is_decimal(t) or pa.types.is_binary(t))


def create(config: SourceConfig, ctx: RunContext) -> JsonlReader:
    if config.encoding.lower().replace("-", "") in ("utf16", "utf32"):
        raise ConnectorError("JSON Lines in UTF-16/32 is not supported", step=ctx.step,
                             hint="Convert the file to UTF-8.")
    return JsonlReader(config, ctx)
