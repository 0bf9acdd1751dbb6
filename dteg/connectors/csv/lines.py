"""Where rows sit in a CSV file: pure helpers that map pyarrow's row numbers back to file
lines, so every dead letter names its exact line."""

from __future__ import annotations

import re


def row_lines(block: bytes, first_line: int) -> list[int]:
    """The file line of each row pyarrow sees in ``block`` (it skips blank lines)."""
    return [first_line + offset for offset, line in enumerate(block.split(b"\n")[:-1])
            if line not in (b"", b"\r")]


def record_lines(data: bytes, first_line: int, quote: bytes) -> list[int]:
    """The line each non-blank record of ``data`` starts on, when quoted values may hold line
    breaks: a line break ends a record when the quotes before it are balanced."""
    starts: list[int] = []
    line = first_line
    start = 0
    quotes = 0
    for match in re.finditer(b"\n|" + re.escape(quote), data):
        if match.group() == quote:
            quotes += 1
            continue
        if quotes % 2 == 0:
            if data[start:match.start()] not in (b"", b"\r"):
                starts.append(line)
            line += data.count(b"\n", start, match.end())
            start = match.end()
            quotes = 0
    if data[start:].strip(b"\r"):
        starts.append(line)
    return starts


def open_record_start(data: bytes, quote: bytes) -> int | None:
    """Where the record that ``data`` ends inside starts, when a quoted value is still open at
    the end of ``data`` (its line breaks belong to the value); None when the quotes balance."""
    if data.count(quote) % 2 == 0:
        return None
    start = 0
    quotes = 0
    for match in re.finditer(b"\n|" + re.escape(quote), data):
        if match.group() == quote:
            quotes += 1
        elif quotes % 2 == 0:
            start = match.end()
            quotes = 0
    return start


def ends_in_quotes(line: bytes, delimiter: bytes, quote: bytes) -> bool:
    """Whether ``line`` ends inside a quoted value (as pyarrow reads quotes: only at the
    start of a value, doubled inside it)."""
    in_quotes = False
    at_start = True
    i = 0
    while i < len(line):
        ch = line[i:i + 1]
        if in_quotes:
            if ch == quote:
                if line[i + 1:i + 2] == quote:
                    i += 2
                    continue
                in_quotes = False
        elif ch == quote and at_start:
            in_quotes = True
            i += 1
            at_start = False
            continue
        at_start = not in_quotes and ch == delimiter
        i += 1
    return in_quotes


def is_encoding_error(exc: Exception) -> bool:
    return isinstance(exc, UnicodeDecodeError) or "utf8" in str(exc).lower()
