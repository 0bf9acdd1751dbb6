"""Stream CSV files as Arrow batches.

Each file is read in blocks cut at line ends and parsed with pyarrow, so memory stays flat and
every rejected row keeps its file and line. Columns are read as text and cast afterwards:
a value that does not fit its column's type sends its row to the dead-letter output instead
of failing the whole block.
"""

from __future__ import annotations

import csv as csvmod
import io
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from dteg.components.contracts import BatchReader, Rejected, RunContext, as_batch
from dteg.components.records import dead_letters, with_provenance
from dteg.connectors import filesystem as fs
from dteg.connectors.casting import CastPlan, infer_types
from dteg.connectors.csv import lines as linemap
from dteg.connectors.csv.config import SourceConfig
from dteg.connectors.prefetch import prefetch
from dteg.errors import ConnectorError

BLOCK_BYTES = 8 << 20
SAMPLE_BYTES = 1 << 20
_BOM = b"\xef\xbb\xbf"
_SAMPLE_FILES = 10  # files tried for a sample when the first ones have no rows


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

    def size_hint(self) -> int | None:
        return fs.local_size(self.patterns)

    def splits(self) -> list[Any]:
        files = fs.expand(self.patterns, step=self.ctx.step, allow_empty=self.config.allow_empty,
                          options=self.config.store_options(self.ctx.step))
        if not files:
            return []
        types = self._column_types(files)
        return [_Split(path, types) for path in files]

    def _column_types(self, files: list[str]) -> dict[str, pa.DataType]:
        """Declared types win; the rest are inferred from the first block of the first file
        that has rows (a header-only file first in a glob would make every column text)."""
        first_file = files[0]
        names: list[str] = []
        sample, sample_file, sample_names = b"", first_file, names
        for path in files[:_SAMPLE_FILES]:
            with self._open(path) as stream, fs.reading(path, self.ctx.step):
                found, _, rest = self._header(stream, path)
                data = rest + stream.read(SAMPLE_BYTES)
            if path == first_file:
                names = sample_names = found
            elif sorted(found) != sorted(names):
                break  # reading that file will say what differs
            if data.strip():
                sample, sample_file, sample_names = data, path, found
                break
        if len(sample) >= SAMPLE_BYTES:
            sample = sample[: sample.rfind(b"\n") + 1]  # whole lines only
        declared = self.config.schema_ or {}
        unknown = [c for c in declared if c not in names]
        if unknown:
            raise ConnectorError(
                f"the declared schema names column(s) {unknown} that {first_file} does not have "
                f"(its columns: {names})", step=self.ctx.step,
                hint="Fix the names under `schema:` (they are case-sensitive).",
            )
        if not sample:
            return infer_types(None, names, declared, self.config.null_values)
        try:
            text_columns = self._read_block(sample, sample_names, sample_file)[0]
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if not linemap.is_encoding_error(exc):
                raise ConnectorError(f"{sample_file}: {exc}", step=self.ctx.step) from None
            # Undecodable lines are dead-lettered when read; infer from the others.
            sample = b"\n".join(b"" if self._undecodable(line) else line
                                for line in sample.split(b"\n"))
            text_columns = self._read_block(sample, sample_names, sample_file)[0]
        return infer_types(text_columns, names, declared, self.config.null_values)

    # -- reading ----------------------------------------------------------------------------

    def _open(self, path: str) -> Any:
        try:
            return fs.open_read(path, fs.compression_of(path, self.config.compression),
                                options=self.config.store_options(self.ctx.step))
        except FileNotFoundError:
            raise ConnectorError(f"{path} disappeared before it could be read",
                                 step=self.ctx.step) from None

    def _header(self, stream: Any, path: str) -> tuple[list[str], int, bytes]:
        """Column names, the number of lines consumed, and bytes read past the header."""
        self._skip_bom(stream)
        consumed = 0
        while consumed < self.config.skip_rows:
            line = stream.readline()
            if not line:
                break
            consumed += 1
        if not self.config.header:
            if self.config.columns:
                return self._declared_columns(path), consumed, b""
            first = stream.readline()
            width = len(self._parse_names(first, path, check=False)) if first else 0
            return [f"column_{i + 1}" for i in range(width)], consumed, first
        line = stream.readline()
        if not line:
            raise ConnectorError(f"{path} is empty (no header line)", step=self.ctx.step,
                                 hint="Set `header: false` and `columns:` if it has no header.")
        if self.config.columns:
            # `columns:` renames the header's columns (e.g. to fix duplicates).
            width = len(self._parse_names(line, path, check=False))
            names = self._declared_columns(path)
            if width != len(names):
                raise ConnectorError(
                    f"`columns:` lists {len(names)} names but the header of {path} has "
                    f"{width} columns", step=self.ctx.step,
                    hint="Give one name per column of the file.")
            return names, consumed + 1, b""
        return self._parse_names(line, path), consumed + 1, b""

    def _skip_bom(self, stream: Any) -> None:
        """Drop a UTF-8 byte order mark (Excel writes one) so it does not stick to a value."""
        if self.config.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            return
        peek = getattr(stream, "peek", None)
        if peek is not None and peek(3)[:3] == _BOM:
            stream.read(3)

    def _declared_columns(self, path: str) -> list[str]:
        names = list(self.config.columns or [])
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConnectorError(f"`columns:` names {dupes} more than once", step=self.ctx.step,
                                 hint="Give every column its own name.")
        return names

    def _parse_names(self, line: bytes, path: str, *, check: bool = True) -> list[str]:
        try:
            text = line.decode(self.config.encoding)
        except UnicodeDecodeError as exc:
            raise ConnectorError(
                f"the first line of {path} is not valid {self.config.encoding} text "
                f"(byte {exc.start})", step=self.ctx.step,
                hint="Set `encoding:` to the file's encoding (e.g. latin-1, cp949).") from None
        row = next(csvmod.reader([text.lstrip("\ufeff").rstrip("\r\n")],
                                 delimiter=self.config.delimiter,
                                 quotechar=self.config.quote_char), [])
        names = [n.strip() for n in row]
        seen: dict[str, int] = {}
        for i, n in enumerate(names):
            if not n:
                names[i] = n = f"column_{i + 1}"
            if check and n in seen:
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
        # Read and parse the next block while the stages downstream work on this one.
        return prefetch(self._read(split))

    def _read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        plan = CastPlan(split.types, null_values=self.config.null_values)
        with self._open(split.path) as stream, fs.reading(split.path, self.ctx.step):
            names, consumed, rest = self._header(stream, split.path)
            self._same_columns(names, split)
            if self.config.multiline:
                yield from self._read_multiline(stream, rest, names, split, plan, consumed + 1)
                yield self._empty(names, split, plan)
                return
            line_no = consumed + 1  # 1-based line number of the next block's first line

            def blocks() -> Iterator[bytes]:
                if rest:
                    yield rest
                yield from self._blocks(stream)

            quote = self.config.quote_char.encode()
            pending = b""  # a record whose quoted value runs past the end of a block
            for block in blocks():
                block = pending + block
                pending = b""
                typed = self._typed_block(block, names, split)
                if typed is not None:  # one row per line: each row's line is known
                    yield from self._with_filename(typed, split, first_line=line_no)
                    line_no += block.count(b"\n")
                    continue
                # Slow path only: keep a record with line breaks in a quoted value whole.
                start = linemap.open_record_start(block, quote) if quote in block else None
                if start is not None:
                    block, pending = block[:start], block[start:]
                    if not block:
                        continue
                yield from self._convert_block(block, names, split, plan, line_no, fast=False)
                line_no += block.count(b"\n")
            if pending:  # a quote that is never closed: the careful path reports its line
                yield from self._convert_block(pending, names, split, plan, line_no)
        yield self._empty(names, split, plan)

    def _empty(self, names: list[str], split: _Split, plan: CastPlan) -> pa.RecordBatch:
        """The split's columns with no rows (dropped downstream if the split had rows)."""
        typed, _ = plan.apply(pa.table({n: pa.array([], pa.string()) for n in names}))
        order = list(split.types)
        table = typed.select(order) if order != typed.column_names else typed
        if self.config.filename_column:
            table = table.append_column(self.config.filename_column, pa.array([], pa.string()))
        return as_batch(table)

    def _typed_block(self, block: bytes, names: list[str], split: _Split) -> pa.Table | None:
        """Fast path: parse straight into the target types on pyarrow's threads. Returns None
        when anything in the block needs the careful path (a malformed row, a value that does
        not convert, a blank line, bad bytes); that path then finds and reports it exactly."""
        invalid: list[bool] = []

        def on_invalid(_row: Any) -> str:
            invalid.append(True)
            return "skip"

        try:
            table = pacsv.read_csv(
                io.BytesIO(block),
                read_options=pacsv.ReadOptions(column_names=names, use_threads=True,
                                               encoding=self.config.encoding,
                                               block_size=2 << 20),
                parse_options=self._parse_options(on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: split.types.get(n, pa.string()) for n in names},
                    strings_can_be_null=True, quoted_strings_can_be_null=False,
                    null_values=self.config.null_values or [""],
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
            return None
        if invalid or table.num_rows != block.count(b"\n"):
            return None
        # The careful path reads "nan"/"NaN" as null (pyarrow's CSV default); so does this one.
        for index, field in enumerate(table.schema):
            if pa.types.is_floating(field.type):
                column = table.column(index)
                if pc.any(pc.is_nan(column)).as_py():
                    table = table.set_column(index, field, pc.if_else(
                        pc.is_nan(column), pa.scalar(None, field.type), column))
        # pyarrow parsed in 2 MB chunks (for its threads); stages and sinks pay per batch, so
        # hand on large batches.
        return table.combine_chunks()

    def _convert_block(self, block: bytes, names: list[str], split: _Split, plan: CastPlan,
                       first_line: int, *, exact: bool = True, fast: bool = True,
                       ) -> Iterator[pa.RecordBatch | Rejected]:
        if exact and fast and not self.config.multiline:
            typed = self._typed_block(block, names, split)
            if typed is not None:
                yield from self._with_filename(typed, split, first_line=first_line)
                return
        try:
            table, bad = self._read_block(block, names, split.path)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if not linemap.is_encoding_error(exc):
                raise ConnectorError(f"{split.path} near line {first_line}: {exc}",
                                     step=self.ctx.step) from None
            cleaned = yield from self._drop_lines(block, split, first_line, self._undecodable)
            if cleaned is None:
                raise ConnectorError(
                    f"{split.path} near line {first_line}: not valid {self.config.encoding} "
                    "text", step=self.ctx.step,
                    hint="Set `encoding:` to the file's encoding.") from None
            yield from self._convert_block(cleaned, names, split, plan, first_line)
            return
        rows = table.num_rows + len(bad)
        lines = block.count(b"\n")
        row_lines: Sequence[int] | None = range(first_line, first_line + lines)
        if rows != lines:
            # pyarrow numbers rows without the blank lines it skipped: map them back to lines.
            row_lines = linemap.row_lines(block, first_line)
            if exact and rows != len(row_lines):
                quote = self.config.quote_char.encode()
                records = linemap.record_lines(block, first_line, quote)
                if block.count(quote) % 2 == 0 and len(records) == rows:
                    # Quoted values hold line breaks (the records balance their quotes).
                    yield from self._emit(table, bad, plan, split, lambda: records,
                                          lambda n: f"record {n}")
                    return
                # A value opened a quote it never closed; pyarrow ran it into the next lines.
                cleaned = yield from self._drop_lines(block, split, first_line, self._open_quote)
                yield from self._convert_block(cleaned or block, names, split, plan, first_line,
                                               exact=cleaned is not None)
                return
            if not exact:
                row_lines = None
        yield from self._emit(table, bad, plan, split, lambda: row_lines, lambda n: f"row {n}",
                              contiguous=first_line if rows == lines and not bad else None)

    def _emit(self, table: pa.Table, bad: list[tuple[int, str, str]], plan: CastPlan,
              split: _Split, locate: Callable[[], Sequence[int] | None],
              unknown: Callable[[int], str], contiguous: int | None = None,
              ) -> Iterator[pa.RecordBatch | Rejected]:
        """Typed rows, and dead letters for malformed rows and values that do not fit.
        ``locate()[n - 1]`` is the file line of pyarrow's row ``n``; it is called only when a
        row is rejected or rows are not one a line (``None``: lines unknown, then
        ``unknown(n)`` names the row). ``contiguous``: pyarrow's rows are the block's lines
        from that one on."""
        found: list[Sequence[int] | None] = []

        def where(row_number: int) -> str:
            if not found:
                found.append(locate())
            row_lines = found[0]
            if row_lines is not None and 0 < row_number <= len(row_lines):
                return f"{split.path}:{row_lines[row_number - 1]}"
            return f"{split.path} ({unknown(row_number)})"

        if bad:
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[f"malformed CSV row: {reason}" for _, reason, _ in bad],
                records=[self._mask_raw(text) for _, _, text in bad],
                sources=[where(n) for n, _, _ in bad],
            ))
        if table.num_rows == 0:
            return
        typed, failures = plan.apply(table)
        skipped = {n for n, _, _ in bad}
        numbers = [n for n in range(1, table.num_rows + len(bad) + 1) if n not in skipped]
        if failures:
            rows = table.take(pa.array([i for i, _, _ in failures])).to_pylist()
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[reason for _, _, reason in failures],
                columns=[column for _, column, _ in failures],
                records=[self._row_json(r) for r in rows],
                sources=[where(numbers[i]) if i < len(numbers) else split.path
                         for i, _, _ in failures],
            ))
        if contiguous is not None and not failures:
            yield from self._with_filename(typed, split, first_line=contiguous)
            return
        failed = {i for i, _, _ in failures}
        kept = [numbers[i] for i in range(len(numbers)) if i not in failed]
        row_lines = locate()
        if row_lines is None or len(kept) != typed.num_rows:
            yield from self._with_filename(typed, split)  # lines unknown: no provenance
            return
        yield from self._with_filename(typed, split,
                                       lines=[row_lines[n - 1] for n in kept])

    def _drop_lines(self, block: bytes, split: _Split, first_line: int,
                    check: Any) -> Generator[Rejected, None, bytes | None]:
        """Dead-letter the lines ``check`` finds a reason against; return the block with those
        lines blanked (so every other line keeps its number), or ``None`` if none was found."""
        lines = block.split(b"\n")
        reasons, records, sources = [], [], []
        for offset, line in enumerate(lines):
            reason = check(line)
            if reason is None:
                continue
            lines[offset] = b""
            reasons.append(reason)
            records.append(self._mask_raw(
                line.rstrip(b"\r").decode(self.config.encoding, "replace")))
            sources.append(f"{split.path}:{first_line + offset}")
        if not reasons:
            return None
        yield Rejected(dead_letters(pipeline=self.ctx.pipeline, step=self.ctx.step,
                                    reasons=reasons, records=records, sources=sources))
        return b"\n".join(lines)

    def _undecodable(self, line: bytes) -> str | None:
        try:
            line.decode(self.config.encoding)
        except UnicodeDecodeError as exc:
            return f"not valid {self.config.encoding} text (byte {exc.start})"
        return None

    def _open_quote(self, line: bytes) -> str | None:
        quote, delimiter = self.config.quote_char.encode(), self.config.delimiter.encode()
        if quote not in line or not linemap.ends_in_quotes(line, delimiter, quote):
            return None
        return ("malformed CSV row: a quoted value is not closed (no closing quote follows "
                "it in the file)")

    def _read_multiline(self, stream: Any, rest: bytes, names: list[str], split: _Split,
                        plan: CastPlan, first_line: int) -> Iterator[pa.RecordBatch | Rejected]:
        # Records may span lines, so the file is parsed whole (documented as slower).
        data = rest + stream.read()
        try:
            table, bad = self._read_block(data, names, split.path)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            if not linemap.is_encoding_error(exc):
                raise ConnectorError(f"{split.path}: {exc}", step=self.ctx.step) from None
            cleaned = yield from self._drop_lines(data, split, first_line, self._undecodable)
            if cleaned is None:
                raise ConnectorError(f"{split.path}: not valid {self.config.encoding} text",
                                     step=self.ctx.step,
                                     hint="Set `encoding:` to the file's encoding.") from None
            data = cleaned
            table, bad = self._read_block(data, names, split.path)

        def locate() -> Sequence[int] | None:
            lines = linemap.record_lines(data, first_line, self.config.quote_char.encode())
            # An odd quote somewhere: name records instead of lines.
            return lines if len(lines) == table.num_rows + len(bad) else None

        yield from self._emit(table, bad, plan, split, locate, lambda n: f"record {n}")

    def _same_columns(self, names: list[str], split: _Split) -> None:
        """Every file of a glob must have the first file's columns (in any order)."""
        expected = list(split.types)
        if sorted(names) == sorted(expected):
            return
        new = [n for n in names if n not in expected]
        missing = [n for n in expected if n not in names]
        raise ConnectorError(
            f"{split.path} does not have the columns of the first file read (new: "
            f"{new or '-'}, missing: {missing or '-'})", step=self.ctx.step,
            hint="Read files with different columns in separate extract steps.")

    def _with_filename(self, table: pa.Table, split: _Split, *, first_line: int | None = None,
                       lines: Sequence[int] | None = None) -> Iterator[pa.RecordBatch]:
        """The rows in the first file's column order, with the file name column if asked for,
        and (when known) each row's file line for the dead letters of later stages."""
        order = list(split.types)
        if order != table.column_names:
            table = table.select(order)  # the first file's column order, for every file
        if self.config.filename_column:
            table = table.append_column(self.config.filename_column,
                                        pa.array([split.path] * table.num_rows, pa.string()))
        if first_line is not None or lines is not None:
            table = with_provenance(table, f"{split.path}:{{}}", first=first_line,
                                    positions=lines)
        yield from table.to_batches(max_chunksize=self.config.batch_rows)

    def _row_json(self, row: dict[str, Any]) -> str:
        from dteg.components.records import row_json

        return row_json(row, self.ctx.mask_row)

    def _mask_raw(self, text: str) -> str:
        # A line that could not be split into columns cannot be masked column by column.
        if self.ctx.mask_row is not None:
            return "[withheld: the pipeline masks columns and this line could not be parsed]"
        return text

    def describe(self) -> str:
        return ", ".join(self.patterns)


def create(config: SourceConfig, ctx: RunContext) -> CsvReader:
    return CsvReader(config, ctx)
