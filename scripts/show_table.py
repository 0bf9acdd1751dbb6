"""Print a DuckDB table's row count and first rows (the quickstart's "what landed")."""

from __future__ import annotations

import sys

import duckdb


def main(database: str, table: str, limit: int = 10) -> None:
    con = duckdb.connect(database, read_only=True)
    count = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0]
    print(f"\n{table} in {database}: {count[0] if count else 0} rows")
    con.sql(f'SELECT * FROM "{table}" ORDER BY 1 LIMIT {int(limit)}').show(max_width=120)


if __name__ == "__main__":
    main(*sys.argv[1:3])
