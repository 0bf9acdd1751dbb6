"""Read a Google Sheet as Arrow batches: the header row names the columns, the rows under it
are read ``batch_rows`` at a time (values.get of a row range, so no request exceeds the API's
limits) and typed by the declared schema. A cell that does not fit its column's type goes to
the dead-letter output with its cell reference (``Orders!C7``); the rest of its row with it.
An empty cell is null.
Reading stops at the first empty chunk (the API omits trailing empty rows)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchReader, Rejected, RunContext, as_batch
from dteg.components.records import dead_letters, row_json, with_provenance
from dteg.components.types import parse_type
from dteg.connectors.casting import CastPlan
from dteg.connectors.google_sheets.client import SheetsClient, a1_sheet, column_letters
from dteg.connectors.google_sheets.config import SourceConfig
from dteg.errors import ConnectorError


class SheetsReader(BatchReader):
    def __init__(self, config: SourceConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    def _client(self) -> SheetsClient:
        return SheetsClient(self.config, self.ctx.step)

    def splits(self) -> list[Any]:
        return [self.config.sheet]  # one sheet is read in order by one worker

    def _header(self, client: SheetsClient) -> list[str]:
        sheet, row = self.config.sheet, self.config.header_row
        titles = client.sheet_titles()
        if sheet not in titles:
            raise ConnectorError(
                f"spreadsheet {self.config.spreadsheet_id} has no sheet `{sheet}`",
                step=self.ctx.step, hint=f"Set `sheet:` to one of: {', '.join(titles)}.")
        values = client.get_values(f"{a1_sheet(sheet)}!{row}:{row}")
        header = [str(v).strip() for v in (values[0] if values else [])]
        if not any(header):
            raise ConnectorError(
                f"row {row} of sheet `{sheet}` is empty; it should hold the column names",
                step=self.ctx.step, hint="Put the column names in that row, or set "
                "`header_row:` to the row that holds them.")
        blank = [column_letters(i) for i, name in enumerate(header) if not name]
        if blank:
            raise ConnectorError(
                f"the header row of sheet `{sheet}` has no name in column(s) "
                f"{', '.join(blank)}", step=self.ctx.step,
                hint="Name every column in the header row (or delete the empty ones).")
        seen: set[str] = set()
        twice = [n for n in header if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
        if twice:
            raise ConnectorError(f"sheet `{sheet}` names column(s) {sorted(set(twice))} twice",
                                 step=self.ctx.step, hint="Give every column its own name.")
        unknown = sorted(set(self.config.schema_ or {}) - set(header))
        if unknown:
            raise ConnectorError(
                f"`schema:` declares {unknown}, which the header row of `{sheet}` does not "
                f"have (it has {header})", step=self.ctx.step,
                hint="Fix the names under `schema:` or in the sheet.")
        return header

    def read(self, split: Any) -> Iterator[pa.RecordBatch | Rejected]:
        client = self._client()
        header = self._header(client)
        declared = {c: parse_type(t) for c, t in (self.config.schema_ or {}).items()}
        plan = CastPlan({c: declared.get(c, pa.string()) for c in header}, null_values=[""])
        sheet = a1_sheet(self.config.sheet)
        last = column_letters(len(header) - 1)
        start = self.config.header_row + 1
        while True:
            end = start + self.config.batch_rows - 1
            rows = client.get_values(f"{sheet}!A{start}:{last}{end}")
            yield from self._emit(rows, start, header, plan)
            if len(rows) < self.config.batch_rows:
                break
            start = end + 1
        yield as_batch(plan.apply(pa.table({c: pa.array([], pa.string()) for c in header}))[0])

    def _emit(self, rows: list[list[Any]], first_row: int, header: list[str],
              plan: CastPlan) -> Iterator[pa.RecordBatch | Rejected]:
        numbers, texts = [], []
        for offset, row in enumerate(rows):
            cells = [("" if v is None else str(v)) for v in row[:len(header)]]
            if not any(c.strip() for c in cells):
                continue  # an empty row inside the table: nothing to load
            numbers.append(first_row + offset)
            texts.append(cells + [""] * (len(header) - len(cells)))
        if not texts:
            return
        # An empty cell has no value: null in every column, text ones included.
        table = pa.table({name: pa.array([r[i] if r[i] != "" else None for r in texts],
                                         pa.string()) for i, name in enumerate(header)})
        typed, failures = plan.apply(table)
        if typed.num_rows:
            bad_at = {i for i, _, _ in failures}
            kept = [n for i, n in enumerate(numbers) if i not in bad_at]
            typed = with_provenance(typed, f"{self.config.sheet}!{{}}", positions=kept)
            yield from typed.to_batches(max_chunksize=self.config.batch_rows)
        if failures:
            records = [dict(zip(header, texts[i], strict=True)) for i, _, _ in failures]
            yield Rejected(dead_letters(
                pipeline=self.ctx.pipeline, step=self.ctx.step,
                reasons=[reason for _, _, reason in failures],
                columns=[column for _, column, _ in failures],
                records=[row_json(r, self.ctx.mask_row) for r in records],
                sources=[f"{self.config.sheet}!{column_letters(header.index(column))}"
                         f"{numbers[i]}" for i, column, _ in failures],
            ))

    def describe(self) -> str:
        return f"google_sheets {self.config.spreadsheet_id}/{self.config.sheet}"


def create(config: SourceConfig, ctx: RunContext) -> SheetsReader:
    return SheetsReader(config, ctx)
