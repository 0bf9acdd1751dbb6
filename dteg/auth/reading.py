"""Reads in a deferred transaction: on SQLite the server's engine begins every transaction
with BEGIN IMMEDIATE (the write lock) unless told it only reads."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from dteg.orchestrator.store.reads import READ_OPTION


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    connection = engine.connect().execution_options(**{READ_OPTION: True})
    with connection, connection.begin():
        yield connection


class Generation:
    """Counts the changes this process made to who may do what (users, bindings, roles,
    tokens): a cached decision older than the newest change is not used."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self.value = 0

    def bump(self) -> None:
        self.value = next(self._counter)


@contextmanager
def writing(engine: Engine, generation: Generation) -> Iterator[Connection]:
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        generation.bump()
