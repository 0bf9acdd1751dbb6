"""Stream CSV files as Arrow batches.

Each file is read in blocks cut at line ends and parsed with pyarrow, so memory stays flat and
every rejected row keeps its file and line. Columns are read as text and cast afterwards:
a value that does not fit its column's type sends its row to the dead-letter output instead
of failing the whole block.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from dteg.connectors import filesystem as fs
from dteg.connectors.casting import CastPlan, infer_types
from dteg.connectors.csv.config import SourceConfig
from dteg.engine.contracts import BatchReader, Rejected, RunContext
from dteg.engine.records import dead_letters
from dteg.errors import ConnectorError

BLOCK_BYTES = 8 << 20
SAMPLE_BYTES = 1 << 20


@dataclass(frozen=True)
class _Split:
    path: str
    types: dict[str, pa.DataType]


class CsvReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.patterns = [ctx.resolve_path(p) for p in config.paths()]

    # -- planning ---------------------------------------------------------------------------

    def splits(self) -> list[Any]:
        files = fs.expand(self.patterns, step=self.ctx.step, allow_empty=self.config.allow_empty)
        if not files:
            return []
        types = self._column_types(files[0])
        return [_Split(path, types) for path in files]

    def _column_types(self, first_file: str) -> dict[str, pa.DataType]:
        """Declared types win; the rest are inferred from the first block of the first file."""
        with self._open(first_file) as stream:
            names, _, rest = self._header(stream, first_file)
            sample = rest + stream.read(SAMPLE_BYTES)
        sample = sample[: sample.rfind(b"\n") + 1] if b"\n" in sample else sample
        declared = self.config.schema_ or {}
        unknown = [c for c in declared if c not in names]
        if unknown:
            raise ConnectorError(
                f"the declared schema names column(s) {unknown} that {first_file} does not have "
                f"(its columns: {names})", step=self.ctx.step,
                hint="Fix the names under `schema:` (they are case-sensitive).",
            )
        text_columns = self._read_block(sample, names, first_file)[0] if sample else None
        return infer_types(text_columns, names, declared, self.config.null_values)

    # -- reading ----------------------------------------------------------------------------

    def _open(self, path: str) -> Any:
        try:
            return fs.open_read(path, fs.compression_of(path, self.config.compression))
        except FileNotFoundError:
            raise ConnectorError(f"{path} disappeared before it could be read",
                                 step=self.ctx.step) from None

    def _header(self, stream: Any, path: str) -> tuple[list[str], int, bytes]:
        """Column names, the number of lines consumed, and bytes read past the header."""
        buf = b""
        consumed = 0
        while consumed < self.config.skip_rows:
            line = stream.readline()
            if not line:
                break
            consumed += 1
        if not self.config.header:
            if self.config.columns:
                return list(self.config.columns), consumed, buf
            first = stream.readline()
            width = len(self._parse_names(first, path)) if first else 0
            return [f"column_{i + 1}" for i in range(width)], consumed, first
        line = stream.readline()
        if not line:
            raise ConnectorError(f"{path} is empty (no header line)", step=self.ctx.step,
                                 hint="Set `header: false` and `columns:` if it has no header.")
        names = self._parse_names(line, path)
        if self.config.columns:
            names = list(self.config.columns)
        return names, consumed + 1, buf

    def _parse_names(self, line: bytes, path: str) -> list[str]:
        table = pacsv.read_csv(
            io.BytesIO(line),
            read_options=pacsv.ReadOptions(autogenerate_column_names=True,
                                           encoding=self.config.encoding),
            parse_options=self._parse_options(None),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=False,
                                                 column_types={}),
        )
        names = [str(table.column(i)[0]) if table.num_rows else f"column_{i + 1}"
                 for i in range(table.num_columns)]
        names = [n.strip().lstrip("\ufeff") for n in names]
        seen: dict[str, int] = {}
        for i, n in enumerate(names):
            if not n:
                names[i] = n = f"column_{i + 1}"
            if n in seen:
                raise ConnectorError(
                    f"{path} has two columns named `{n}` (positions {seen[n] + 1} and {i + 1})",
                    step=self.ctx.step, hint="Rename one in the file, or set `columns:`.")
            seen[n] = i
        return names

    def _parse_options(self, handler: Any) -> pacsv.ParseOptions:
        return pacsv.ParseOptions(
            delimiter=self.config.delimiter, quote_char=self.config.quote_char,
            newlines_in_values=self.config.multiline, invalid_row_handler=handler,
        )

    def _read_block(self, block: bytes, names: list[str], path: str,
                    ) -> tuple[pa.Table, list[tuple[int, str, str]]]:
        """Parse ``block`` as text columns. Returns the table and the rows that could not be
        split into the right number of fields (chunk line number, reason, text)."""
        bad: list[tuple[int, str, str]] = []

        def on_invalid(row: Any) -> str:
            reason = (f"expected {row.expected_columns} fields, found {row.actual_columns}")
            bad.append((row.number or 0, reason, row.text))
            return "skip"

        table = pacsv.read_csv(
            io.BytesIO(block),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                           encoding=self.config.encoding,
                                           block_size=max(len(block) + 1, 1 << 16)),
            parse_options=self._parse_options(on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True, quoted_strings_can_be_null=False,
                null_values=self.config.null_values or [""],
            ),
        )
        return table, bad

    def _blocks(self, stream: Any) -> Iterator[bytes]:
        carry = b""
        while True:
            data = stream.read(BLOCK_BYTES)
            if not data:
                if carry:
                    yield carry if carry.endswith(b"\n") else carry + b"\n"
                return
            data = carry + data
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            carry = data[cut + 1:]
            yield data[: cut + 1]

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        plan = CastPlan(split.types, null_values=self.config.null_values)
        with self._open(split.path) as stream:
            names, consumed, rest = self._header(stream, split.path)
            if self.config.multiline:
                yield from self._read_multiline(stream, rest, names, split, plan)
                return
            line_no = consumed + 1  # 1-based line number of the next block's first line

            def blocks() -> Iterator[bytes]:
                if rest:
                    yield rest
                yield from self._blocks(stream)

            for block in blocks():
                yield from self._convert_block(block, names, split, plan, line_no)
                line_no += block.count(b"\n")

    def _convert_block(self, block: bytes, names: list[str], split: _Split, plan: CastPlan,
                       first_line: int) -> Iterator[pa.RecordBatch | Rejected]:
        try:
            table, bad = self._read_block(block, names, split.path)
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "utf8" in str(exc).lower():
                yield from self._convert_lines_one_by_one(block, names, split, plan, first_line)
                return
            raise ConnectorError(f"{split.path} near line {first_line}: {exc}",
                                 step=self.ctx.step) from None
        # pyarrow numbers rows without the blank lines it skipped: map them back to lines.
        row_lines = _row_lines(block, first_line)

        def line_of(row_number: int) -> str:
            if 0 < row_number <= len(row_lines):
                return f"{split.path}:{row_lines[row_number - 1]}"
            return split.path

        if bad:
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[f"malformed CSV row: {reason}" for _, reason, _ in bad],
                records=[self._mask_raw(text) for _, _, text in bad],
                sources=[line_of(n) for n, _, _ in bad],
            ))
        if table.num_rows == 0:
            return
        typed, failures = plan.apply(table)
        if failures:
            skipped = {n for n, _, _ in bad}
            lines = [line for n, line in enumerate(row_lines, start=1) if n not in skipped]
            rows = table.take(pa.array([i for i, _, _ in failures])).to_pylist()
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[reason for _, _, reason in failures],
                columns=[column for _, column, _ in failures],
                records=[self._row_json(r) for r in rows],
                sources=[f"{split.path}:{lines[i]}" if i < len(lines) else split.path
                         for i, _, _ in failures],
            ))
        yield from self._with_filename(typed, split.path)

    def _convert_lines_one_by_one(self, block: bytes, names: list[str], split: _Split,
                                  plan: CastPlan, first_line: int,
                                  ) -> Iterator[pa.RecordBatch | Rejected]:
        """Slow path for a block with undecodable bytes: find the guilty lines."""
        lines = block.split(b"\n")
        found = False
        for offset, line in enumerate(lines):
            try:
                line.decode(self.config.encoding)
            except UnicodeDecodeError as exc:
                # A blank line in its place keeps every other line's number exact.
                lines[offset] = b""
                found = True
                yield Rejected(dead_letters(
                    pipeline=self.ctx.pipeline, step=self.ctx.step,
                    reasons=[f"not valid {self.config.encoding} text (byte {exc.start})"],
                    records=[self._mask_raw(line.decode(self.config.encoding, "replace"))],
                    sources=[f"{split.path}:{first_line + offset}"],
                ))
        if not found:
            raise ConnectorError(
                f"{split.path} near line {first_line}: not valid {self.config.encoding} text",
                step=self.ctx.step, hint="Set `encoding:` to the file's encoding.")
        yield from self._convert_block(b"\n".join(lines), names, split, plan, first_line)

    def _read_multiline(self, stream: Any, rest: bytes, names: list[str], split: _Split,
                        plan: CastPlan) -> Iterator[pa.RecordBatch | Rejected]:
        data = rest + stream.read()
        table, bad = self._read_block(data, names, split.path)
        if bad:
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[f"malformed CSV row: {r}" for _, r, _ in bad],
                records=[self._mask_raw(t) for _, _, t in bad], sources=[split.path] * len(bad),
            ))
        typed, failures = plan.apply(table)
        if failures:
            rows = table.take(pa.array([i for i, _, _ in failures])).to_pylist()
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[r for _, _, r in failures], columns=[c for _, c, _ in failures],
                records=[self._row_json(r) for r in rows],
                sources=[f"{split.path} (record {i + 1})" for i, _, _ in failures],
            ))
        yield from self._with_filename(typed, split.path)

    def _with_filename(self, table: pa.Table, path: str) -> Iterator[pa.RecordBatch]:
        if self.config.filename_column:
            table = table.append_column(self.config.filename_column,
                                        pa.array([path] * table.num_rows, pa.string()))
        yield from table.to_batches(max_chunksize=self.config.batch_rows)

    def _row_json(self, row: dict[str, Any]) -> str:
        from dteg.engine.records import row_json

        return row_json(row, self.ctx.mask_row)

    def _mask_raw(self, text: str) -> str:
        # A line that could not be split into columns cannot be masked column by column.
        if self.ctx.mask_row is not None:
            return "[withheld: the pipeline masks columns and this line could not be parsed]"
        return text

    def describe(self) -> str:
        return ", ".join(self.patterns)


def _row_lines(block: bytes, first_line: int) -> list[int]:
    """The file line of each row pyarrow sees in ``block`` (it skips blank lines)."""
    return [first_line + offset for offset, line in enumerate(block.split(b"\n")[:-1])
            if line not in (b"", b"\r")]


def create(config: SourceConfig, ctx: RunContext) -> CsvReader:
    return CsvReader(config, ctx)
