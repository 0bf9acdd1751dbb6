"""What the object-store baselines share: the CSV streamed with pyarrow.csv into a local
Parquet file (snappy), which each then uploads whole with its own client."""

from __future__ import annotations

import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def csv_to_parquet(source: str, local: str) -> int:
    """Write ``source`` (CSV) to ``local`` (Parquet); returns the rows written."""
    writer = None
    rows = 0
    for batch in pacsv.open_csv(source):
        if writer is None:
            writer = pq.ParquetWriter(local, batch.schema, compression="snappy")
        writer.write_batch(batch)
        rows += batch.num_rows
    assert writer is not None
    writer.close()
    return rows
