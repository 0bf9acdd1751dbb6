"""Parse a stage's SQL expression with DuckDB without running it (for ``dteg validate``)."""

from __future__ import annotations


def sql_problem(expression: str, what: str) -> str | None:
    """Why DuckDB cannot parse ``expression`` (None: it parses). ``what`` names it in the
    message, e.g. "`where:`"."""
    import duckdb

    try:
        statements = duckdb.extract_statements(f"SELECT ({expression})")
    except duckdb.Error as exc:
        reason = str(exc).splitlines()[0].removeprefix("Parser Error: ")
        return f"{what} is not valid SQL: {reason} (in `{expression}`)"
    if len(statements) != 1:
        return f"{what} must be one SQL expression, not several statements (`{expression}`)"
    return None
