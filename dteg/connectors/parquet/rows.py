"""The rows of a Parquet sink's file, for retention and erasure: a local single file is
rewritten without the rows (to a temporary file, then renamed over it, so a crash leaves the
old file or the new one, never half of one). A folder, a partitioned or remote target has
no row store here: the job reports it as not enforced."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dteg.components.rows import RowStore
from dteg.connectors.parquet.config import SinkConfig
from dteg.errors import ConnectorError


class ParquetFileRows(RowStore):
    def __init__(self, path: Path, step: str) -> None:
        self.path = path
        self.step = step
        self.description = f"Parquet file {path}"

    def _table(self) -> Any:
        import pyarrow.parquet as pq

        return pq.read_table(self.path)

    def columns(self) -> list[str]:
        if not self.path.is_file():
            return []
        import pyarrow.parquet as pq

        return list(pq.read_schema(self.path).names)

    def _keep(self, mask: Any) -> int:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        table = self._table()
        drop = pc.fill_null(mask(table), False)
        kept = table.filter(pc.invert(drop))
        removed = table.num_rows - kept.num_rows
        if removed:
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            pq.write_table(kept, tmp)
            os.replace(tmp, self.path)
        return removed

    def delete_older(self, column: str, cutoff: dt.datetime) -> int:
        import pyarrow as pa
        import pyarrow.compute as pc

        def older(table: Any) -> Any:
            values = table.column(column)
            if pa.types.is_timestamp(values.type) and values.type.tz is None:
                limit = pa.scalar(cutoff.astimezone(dt.timezone.utc).replace(tzinfo=None),
                                  values.type)
            else:
                limit = pa.scalar(cutoff, pa.timestamp("us", "UTC")).cast(values.type)
            return pc.less(values, limit)

        return self._keep(older)

    def find(self, column: str, values: Sequence[Any]) -> list[dict[str, Any]]:
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self._table()
        found = table.filter(pc.is_in(table.column(column), value_set=pa.array(values)))
        return list(found.to_pylist())

    def delete_matching(self, column: str, values: Sequence[Any]) -> int:
        import pyarrow as pa
        import pyarrow.compute as pc

        return self._keep(lambda t: pc.is_in(t.column(column), value_set=pa.array(values)))


def create(config: SinkConfig, base_dir: Path, step: str) -> RowStore:
    if "://" in config.path or "{" in config.path or config.path.endswith("/"):
        raise ConnectorError(f"Parquet target `{config.path}` is not one local file, so its "
                             "rows cannot be rewritten in place", step=step,
                             hint="Expire partitions or objects by age at the storage.")
    path = Path(config.path).expanduser()
    return ParquetFileRows(path if path.is_absolute() else base_dir / path, step)
