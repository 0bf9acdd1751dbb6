"""Compare the rows a test got with the rows it expected, and say how they differ.

Values are compared in one canonical form, so a test can write them the way YAML reads them:
timestamps and dates as ISO text or unquoted YAML timestamps, decimals as plain numbers
(floats to 9 places). Rows are a multiset: order matters only with ``ordered: true``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dteg.spec.tests_block import Expectation

Row = dict[str, Any]
Match = Callable[[Row, Row], bool]
SHOWN = 20  # rows listed per kind of difference; the rest are counted


def canon(value: Any) -> Any:
    """``value`` in the form comparisons use (hashable)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | float):
        number = round(float(value), 9)
        return int(number) if number.is_integer() else number
    if isinstance(value, dict):
        return tuple(sorted((str(k), canon(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(canon(v) for v in value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _text(value: Any) -> str:
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value) + "}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def show_row(row: Row) -> str:
    """One row as ``{id: 1, email: "a@b.c"}``."""
    return "{" + ", ".join(f"{k}: {_text(canon(v))}" for k, v in row.items()) + "}"


@dataclass
class Diff:
    """How what a step got differs from what the test expected (empty: it matched)."""

    missing: list[Row] = field(default_factory=list)
    unexpected: list[Row] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.changed or self.notes)

    def lines(self) -> list[str]:
        out = list(self.notes)
        for title, rows in (("missing (expected, not received)", self.missing),
                            ("unexpected (received, not expected)", self.unexpected)):
            if rows:
                out.append(f"{title}: {len(rows)} row{'' if len(rows) == 1 else 's'}")
                out += [f"  - {show_row(r)}" for r in rows[:SHOWN]]
                if len(rows) > SHOWN:
                    out.append(f"  … and {len(rows) - SHOWN} more")
        if self.changed:
            out.append("changed cells:")
            out += [f"  {c}" for c in self.changed[:SHOWN]]
            if len(self.changed) > SHOWN:
                out.append(f"  … and {len(self.changed) - SHOWN} more")
        return out


def _without(row: Row, ignored: Sequence[str]) -> Row:
    return {k: v for k, v in row.items() if k not in ignored}


def equal_rows(expected: Row, got: Row) -> bool:
    return expected.keys() == got.keys() and all(
        canon(v) == canon(got[k]) for k, v in expected.items())


def contained_row(expected: Row, got: Row) -> bool:
    """``got`` has every column ``expected`` gives, with the same value."""
    return all(k in got and canon(v) == canon(got[k]) for k, v in expected.items())


def compare(expectation: Expectation, got: list[Row], *, match: Match | None = None,
            changed_cells: bool = True) -> Diff:
    """The differences between ``got`` and ``expectation``; ``match`` decides whether an
    expected row is met by a received one (default: equal for ``rows``, contained for
    ``contains``)."""
    diff = Diff()
    ignored = expectation.ignore_columns
    got = [_without(r, ignored) for r in got]
    if expectation.count is not None and expectation.count != len(got):
        diff.notes.append(f"count: expected {expectation.count} rows, got {len(got)}")
    exact = expectation.rows is not None
    wanted = expectation.rows if exact else expectation.contains
    if wanted is None:
        return diff
    wanted = [_without(r, ignored) for r in wanted]
    match = match or (equal_rows if exact else contained_row)
    if exact and wanted and got and changed_cells:
        expected_columns = set().union(*(r.keys() for r in wanted))
        got_columns = set().union(*(r.keys() for r in got))
        if expected_columns != got_columns:
            diff.notes.append(_column_note(expected_columns, got_columns))
    if expectation.key:
        _by_key(expectation.key, wanted, got, exact, diff)
    elif expectation.ordered and exact:
        _in_order(wanted, got, diff)
    else:
        _unordered(wanted, got, exact, match, diff)
    return diff


def _column_note(expected: set[str], got: set[str]) -> str:
    parts = []
    if got - expected:
        parts.append(f"received but not expected: {', '.join(sorted(got - expected))}")
    if expected - got:
        parts.append(f"expected but not received: {', '.join(sorted(expected - got))}")
    return f"columns differ ({'; '.join(parts)}); list a column in `ignore_columns:` to " \
        "leave it out"


def _unordered(wanted: list[Row], got: list[Row], exact: bool, match: Match,
               diff: Diff) -> None:
    left = list(got)
    for row in wanted:
        found = next((i for i, candidate in enumerate(left) if match(row, candidate)), None)
        if found is None:
            diff.missing.append(row)
        else:
            left.pop(found)
    if exact:
        diff.unexpected.extend(left)


def _in_order(wanted: list[Row], got: list[Row], diff: Diff) -> None:
    for index, (row, candidate) in enumerate(zip(wanted, got, strict=False)):
        for cell in _cells(row, candidate):
            diff.changed.append(f"row {index + 1}: {cell}")
    diff.missing.extend(wanted[len(got):])
    diff.unexpected.extend(got[len(wanted):])


def _key_of(row: Row, key: Sequence[str]) -> tuple[Any, ...]:
    return tuple(canon(row.get(k)) for k in key)


def _by_key(key: Sequence[str], wanted: list[Row], got: list[Row], exact: bool,
            diff: Diff) -> None:
    received: dict[tuple[Any, ...], list[Row]] = {}
    for row in got:
        received.setdefault(_key_of(row, key), []).append(row)
    for k, rows in received.items():
        if len(rows) > 1:
            diff.notes.append(f"{_show_key(key, k)} was received {len(rows)} times")
    seen: set[tuple[Any, ...]] = set()
    for row in wanted:
        k = _key_of(row, key)
        seen.add(k)
        if k not in received:
            diff.missing.append(row)
            continue
        candidate = received[k][0]
        cells = _cells(row, candidate, only_given=not exact)
        diff.changed.extend(f"{_show_key(key, k)}: {cell}" for cell in cells)
    if exact:
        diff.unexpected.extend(r for k, rows in received.items() if k not in seen for r in rows)


def _show_key(key: Sequence[str], values: tuple[Any, ...]) -> str:
    return ", ".join(f"{k}={_text(v)}" for k, v in zip(key, values, strict=True))


def _cells(expected: Row, got: Row, *, only_given: bool = False) -> list[str]:
    cells = []
    for column, value in expected.items():
        if column not in got:
            cells.append(f"{column}: expected {_text(canon(value))}, column not received")
        elif canon(value) != canon(got[column]):
            cells.append(f"{column}: expected {_text(canon(value))}, got "
                         f"{_text(canon(got[column]))}")
    if not only_given:
        cells += [f"{column}: not expected, got {_text(canon(got[column]))}"
                  for column in got if column not in expected]
    return cells


def dead_letter_match(expected: Row, got: Row) -> bool:
    """A dead letter meets an expected one: ``reason`` is a part of its reason, ``record``
    some of its record's columns, every other field equal."""
    for column, value in expected.items():
        actual = got.get(column)
        if column == "reason":
            if actual is None or str(value) not in str(actual):
                return False
        elif column == "record":
            if not isinstance(value, dict) or not isinstance(actual, dict) or \
                    not contained_row(value, actual):
                return False
        elif canon(value) != canon(actual):
            return False
    return True
