"""Partitioned folder paths for file sinks: ``s3://bucket/orders/dt={date}/`` or
``out/orders/country={country}/``.

A ``{name}`` is either a run field or a column:

* ``{date}`` (YYYY-MM-DD), ``{year}``, ``{month}``, ``{day}``, ``{hour}``: when the run
  started, in UTC (from the run id, so every worker of a run agrees); ``{run_id}``;
* any other name is a column: rows are split by its value (Hive style: a null goes to
  ``__HIVE_DEFAULT_PARTITION__``, other characters than letters, digits and ``-_.~`` are
  %-escaped) and the column is left out of the files, as Hive, Spark and DuckDB's
  ``hive_partitioning`` expect. To partition by a column named like a run field, rename it
  with a ``map`` step.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

from dteg.errors import ConnectorError

RUN_FIELDS = ("date", "year", "month", "day", "hour", "run_id")
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def run_values(run_id: str) -> dict[str, str]:
    """The run fields of a run id (``20261126T101500Z-ab12cd``); now (UTC) if it has no time."""
    try:
        started = dt.datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ")
    except ValueError:
        started = dt.datetime.now(dt.timezone.utc)
    return {"date": started.strftime("%Y-%m-%d"), "year": started.strftime("%Y"),
            "month": started.strftime("%m"), "day": started.strftime("%d"),
            "hour": started.strftime("%H"), "run_id": run_id}


@dataclass(frozen=True)
class PathTemplate:
    """A folder path split into its fixed ``root`` and a relative ``template``."""

    root: str
    template: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(n for n in _FIELD.findall(self.template) if n not in RUN_FIELDS)

    @property
    def partitioned(self) -> bool:
        return bool(self.template)

    def split(self, batch: pa.RecordBatch, run: dict[str, str], *, step: str,
              ) -> list[tuple[str, pa.RecordBatch]]:
        """(relative folder, rows) for each partition the batch touches."""
        fixed = _fill(self.template, run)
        rel = fixed.strip("/")
        columns = self.columns
        if not columns:
            return [(rel, batch)]
        missing = [c for c in columns if c not in batch.schema.names]
        if missing:
            raise ConnectorError(
                f"the path names column(s) {missing} in braces, but the data has no such "
                f"column (columns: {batch.schema.names}; run fields: {', '.join(RUN_FIELDS)})",
                step=step, hint="Fix the names in braces in `path:`.")
        keys = [_as_text(batch.column(c)) for c in columns]
        joined = keys[0] if len(keys) == 1 else pc.binary_join_element_wise(*keys, "\x00")
        encoded = pc.dictionary_encode(joined)
        rest = batch.select([n for n in batch.schema.names if n not in columns])
        out = []
        for index, value in enumerate(encoded.dictionary.to_pylist()):
            values = dict(zip(columns, value.split("\x00"), strict=True))
            rows = rest.filter(pc.equal(encoded.indices, index))
            path = _fill(fixed, values)
            out.append((path.strip("/"), rows))
        return out


def _fill(template: str, values: dict[str, str]) -> str:
    return _FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _as_text(column: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
    unique = pc.unique(text).to_pylist()
    escaped = [NULL_PARTITION if v is None else quote(v, safe="-_.~") for v in unique]
    return pc.fill_null(pc.take(pa.array(escaped, pa.string()),
                                pc.index_in(text, pa.array(unique, pa.string()),
                                            skip_nulls=False)), NULL_PARTITION)


def parse(path: str) -> PathTemplate:
    """Split at the last ``/`` before the first ``{``."""
    brace = path.find("{")
    if brace < 0:
        return PathTemplate(path)
    cut = path.rfind("/", 0, brace)
    if cut < 0 or path[:cut + 1].endswith("://"):
        raise ConnectorError(
            f"`{path}`: a partition template must come after a fixed folder",
            hint="Write e.g. `out/orders/dt={date}/` or `s3://bucket/orders/dt={date}/`.")
    return PathTemplate(path[:cut + 1], path[cut + 1:])
