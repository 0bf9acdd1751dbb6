"""The ``unique`` rule over a whole run: pure pyarrow parts of the compiler's ``CheckUnique``.

Uniqueness needs every batch, so the compiler runs it as a Beam stage: each batch is split by a
hash of the key columns into buckets (``split``), a GroupByKey brings every row of a bucket
together, and ``check`` finds the duplicates in it. Rows whose key has a null are not checked
(as in SQL). ``keep: first`` keeps the first row of each duplicated key that reached the
bucket (which one is first is the order rows arrived in, not defined across workers);
``keep: none`` rejects every row of a duplicated key. In a stream, a GroupByKey is per window,
so uniqueness holds within each window.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dteg.components.contracts import RunContext, StageResult
from dteg.components.records import dead_letters, row_json, sources_of
from dteg.errors import StepError
from dteg.spec.rules import OnFailure, Rule
from dteg.transforms.validate import describe, masked_value, rule_counter

BUCKETS = 16
_ROW = "__dteg_row"


class UniqueCheck:
    """One ``unique`` rule of a validate step. Picklable (the DuckDB link is per worker)."""

    def __init__(self, rule: Rule, label: str, action: OnFailure, ctx: RunContext) -> None:
        self.rule = rule
        self.label = label
        self.action = action
        self.ctx = ctx
        self.columns = rule.targets()
        self._con: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_con": None}

    def _buckets(self, batch: pa.RecordBatch) -> pa.Array:
        """A bucket number per row, the same for equal keys in every process."""
        import duckdb

        from dteg.connectors.duckdb.arrow import relation_table
        from dteg.transforms.sql import quote

        if self._con is None:
            self._con = duckdb.connect(config={"threads": 1, "enable_external_access": False})
        keys = batch.select(self.columns)
        self._con.register("keys", keys)
        try:
            names = ", ".join(quote(c) for c in self.columns)
            table = relation_table(self._con.sql(f"SELECT hash({names}) % {BUCKETS} AS b "
                                                 "FROM keys"))
        finally:
            self._con.unregister("keys")
        return pc.cast(table.column("b").combine_chunks(), pa.int64())

    def split(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch | None,
                                                   list[tuple[int, pa.RecordBatch]]]:
        """(rows not checked because a key is null, [(bucket, rows)])."""
        missing = [c for c in self.columns if c not in batch.schema.names]
        if missing:
            raise StepError(
                f"rule `{self.label}` names column(s) {missing} that the data does not have "
                f"(columns: {batch.schema.names})", step=self.ctx.step,
                hint="Fix the column names in the rule (they are case-sensitive).")
        has_null = pa.array([False] * batch.num_rows, pa.bool_())
        for column in self.columns:
            has_null = pc.or_(has_null, pc.is_null(batch.column(column)))
        unchecked = batch.filter(has_null)
        checked = batch.filter(pc.invert(has_null))
        parts: list[tuple[int, pa.RecordBatch]] = []
        if checked.num_rows:
            buckets = self._buckets(checked)
            for bucket in pc.unique(buckets).to_pylist():
                parts.append((int(bucket), checked.filter(pc.equal(buckets, bucket))))
        return (unchecked if unchecked.num_rows else None), parts

    def check(self, batches: Iterable[pa.RecordBatch]) -> StageResult:
        """Every row of one bucket → kept rows, duplicates as dead letters (or dropped)."""
        listed = [b for b in batches if b.num_rows]
        if not listed:
            return StageResult(kept=None)
        table = pa.Table.from_batches(listed).combine_chunks()
        table = table.append_column(_ROW, pa.array(range(table.num_rows), pa.int64()))
        groups = table.select([*self.columns, _ROW]).group_by(
            self.columns, use_threads=False).aggregate([(_ROW, "min"), (_ROW, "count")])
        if self.rule.keep == "first":
            keep_rows = groups.column(f"{_ROW}_min")
        else:
            single = pc.equal(groups.column(f"{_ROW}_count"), 1)
            keep_rows = groups.column(f"{_ROW}_min").filter(single)
        keep = pc.is_in(table.column(_ROW), keep_rows)
        table = table.drop_columns([_ROW])
        dupes = table.filter(pc.invert(keep))
        kept = table.filter(keep)
        out = kept.to_batches()[0] if kept.num_rows else None
        stats = {rule_counter(self.label): dupes.num_rows} if dupes.num_rows else {}
        if not dupes.num_rows:
            return StageResult(kept=out, stats=stats)
        rows = dupes.to_pylist()
        if self.action == "fail":
            raise StepError(
                f"rule `{self.label}` found {len(rows)} duplicate "
                f"row(s), e.g. {self._reason(rows[0])}; the rule says `on_failure: fail`.",
                step=self.ctx.step,
                hint="Fix the data, or use `on_failure: quarantine` to dead-letter duplicates.")
        if self.action == "drop":
            return StageResult(kept=out, filtered=len(rows), stats=stats)
        rejected = dead_letters(
            pipeline=self.ctx.pipeline, step=self.ctx.step,
            reasons=[self._reason(r) for r in rows], rules=[self.label] * len(rows),
            columns=[", ".join(self.columns)] * len(rows),
            records=[row_json(r, self.ctx.mask_row) for r in rows], sources=sources_of(dupes))
        return StageResult(kept=out, rejected=rejected, stats=stats)

    def _reason(self, row: dict[str, Any]) -> str:
        masked = {c: masked_value(self.ctx, c, row[c]) for c in self.columns}
        if len(self.columns) == 1:
            column = self.columns[0]
            return describe(self.rule, f"`{column}`", masked[column])
        names = ", ".join(f"`{c}`" for c in self.columns)
        return describe(self.rule, f"({names})", tuple(masked[c] for c in self.columns))
