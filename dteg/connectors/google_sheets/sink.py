"""Write rows to a Google Sheet. Parts spool their batches locally (Arrow IPC files in the
run's state folder); ``commit`` sends them in requests of at most ``batch_rows`` rows and
``MAX_CELLS_PER_REQUEST`` cells.

- ``append``: values.append under the existing rows; the header row is written first when
  the sheet is empty, and a header that differs from the columns is refused before anything
  is written.
- ``replace``: the rows are written into a hidden staging sheet (``<sheet>.dteg-tmp-<run>``),
  then one spreadsheets.batchUpdate deletes the old sheet and renames the staging one, which
  the API applies atomically: a reader sees the old rows or the new ones, never a mix, and a
  failed run leaves the old sheet as it was. (The sheet's numeric id changes, so formulas in
  other sheets that pointed at the old one show #REF!.)
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchWriter, CommitResult, PartResult, PartWriter, RunContext
from dteg.components.records import PROVENANCE_COLUMNS
from dteg.connectors.google_sheets.client import SheetsClient, a1_sheet
from dteg.connectors.google_sheets.config import MAX_CELLS_PER_REQUEST, SinkConfig
from dteg.errors import ConnectorError

_SAFE_INTEGER = 2**53  # larger integers lose digits as JSON numbers in a spreadsheet


def cell(value: Any) -> Any:
    """An Arrow value as a cell: numbers stay numbers, everything else becomes text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < _SAFE_INTEGER else str(value)
    if isinstance(value, float):
        return "" if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class _SpoolPart(PartWriter):
    def __init__(self, path: str) -> None:
        self.path = path
        self.rows = 0
        self._writer: pa.RecordBatchFileWriter | None = None
        self._sink: Any = None

    def write(self, batch: pa.RecordBatch) -> None:
        keep = [n for n in batch.schema.names if n not in PROVENANCE_COLUMNS]
        batch = batch.select(keep)
        if self._writer is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._sink = pa.OSFile(self.path, "wb")
            self._writer = pa.ipc.new_file(self._sink, batch.schema)
        if batch.num_rows:
            self._writer.write_batch(batch)
            self.rows += batch.num_rows

    def close(self) -> PartResult | None:
        if self._writer is None:
            return None
        self._writer.close()
        self._sink.close()
        return PartResult(self.path, self.rows, os.path.getsize(self.path))


class SheetsWriter(BatchWriter):
    def __init__(self, config: SinkConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx
        self.spool = os.path.join(ctx.state_dir, "staging", ctx.run_id, ctx.step)
        self.staging_sheet = f"{config.sheet}.dteg-tmp-{ctx.run_id}"

    def open_part(self, part_id: str) -> PartWriter:
        return _SpoolPart(os.path.join(self.spool, f"part-{part_id}.arrow"))

    def _batches(self, parts: list[PartResult]) -> Iterator[pa.RecordBatch]:
        for part in parts:
            with pa.memory_map(part.location) as source:
                reader = pa.ipc.open_file(source)
                for i in range(reader.num_record_batches):
                    yield reader.get_batch(i)

    def _columns(self, parts: list[PartResult]) -> list[str]:
        for part in parts:
            with pa.memory_map(part.location) as source:
                return list(pa.ipc.open_file(source).schema.names)
        return []

    def _chunks(self, parts: list[PartResult], width: int) -> Iterator[list[list[Any]]]:
        limit = max(1, min(self.config.batch_rows, MAX_CELLS_PER_REQUEST // max(width, 1)))
        pending: list[list[Any]] = []
        for batch in self._batches(parts):
            columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for r in range(batch.num_rows):
                pending.append([cell(col[r]) for col in columns])
                if len(pending) >= limit:
                    yield pending
                    pending = []
        if pending:
            yield pending

    def commit(self, parts: list[PartResult]) -> CommitResult:
        rows = sum(p.rows for p in parts)
        columns = self._columns(parts)
        client = SheetsClient(self.config, self.ctx.step)
        try:
            if self.config.mode == "replace":
                self._replace(client, parts, columns)
            elif columns:
                self._append(client, parts, columns)
        finally:
            shutil.rmtree(self.spool, ignore_errors=True)
        return CommitResult(rows=rows, target=self.describe())

    def _append(self, client: SheetsClient, parts: list[PartResult], columns: list[str]) -> None:
        sheet = a1_sheet(self.config.sheet)
        if self.config.sheet not in client.sheet_titles():
            self._batch_update(client, [{"addSheet": {"properties": {
                "title": self.config.sheet}}}], "adding the sheet")
        existing = client.get_values(f"{sheet}!1:1")
        header = [str(v) for v in existing[0]] if existing else []
        if not header:
            client.update(f"{sheet}!A1", [columns])
        elif header != columns:
            raise ConnectorError(
                f"sheet `{self.config.sheet}` has the columns {header}, but the rows have "
                f"{columns}", step=self.ctx.step,
                hint="Write the same columns in the same order (a `map` step can rename and "
                "reorder them), or use `mode: replace`.")
        for chunk in self._chunks(parts, len(columns)):
            client.append(f"{sheet}!A1", chunk)

    def _replace(self, client: SheetsClient, parts: list[PartResult], columns: list[str]) -> None:
        titles = client.sheet_titles()
        staging = a1_sheet(self.staging_sheet)
        if self.staging_sheet in titles:  # the same run, tried again after a crash
            client.clear(staging)
        else:
            self._batch_update(client, [{"addSheet": {"properties": {
                "title": self.staging_sheet, "hidden": True}}}], "adding the staging sheet")
        if columns:
            client.update(f"{staging}!A1", [columns])
            row = 2
            for chunk in self._chunks(parts, len(columns)):
                client.update(f"{staging}!A{row}", chunk)
                row += len(chunk)
        # Ids are needed for deleteSheet; read them after the staging sheet exists.
        ids = self._sheet_ids(client)
        swap: list[dict[str, Any]] = []
        if self.config.sheet in ids:
            swap.append({"deleteSheet": {"sheetId": ids[self.config.sheet]}})
        swap.append({"updateSheetProperties": {
            "properties": {"sheetId": ids[self.staging_sheet], "title": self.config.sheet,
                           "hidden": False}, "fields": "title,hidden"}})
        self._batch_update(client, swap, "swapping in the new sheet")

    def _sheet_ids(self, client: SheetsClient) -> dict[str, int]:
        return {s["properties"]["title"]: int(s["properties"]["sheetId"])
                for s in client.spreadsheet().get("sheets", [])}

    def _batch_update(self, client: SheetsClient, requests: list[dict[str, Any]],
                      what: str) -> None:
        client.batch_update(requests, what=what)

    def abort(self, parts: list[PartResult]) -> None:
        shutil.rmtree(self.spool, ignore_errors=True)
        if self.config.mode != "replace":
            return
        try:
            client = SheetsClient(self.config, self.ctx.step)
            ids = self._sheet_ids(client)
            if self.staging_sheet in ids:
                client.batch_update([{"deleteSheet": {"sheetId": ids[self.staging_sheet]}}],
                                    what="deleting the staging sheet")
        except Exception:  # best effort: the run's own error is what the user must see
            pass

    def describe(self) -> str:
        return f"google_sheets {self.config.spreadsheet_id}/{self.config.sheet}"


def create(config: SinkConfig, ctx: RunContext) -> SheetsWriter:
    return SheetsWriter(config, ctx)
