"""A run's log lines, captured in the worker and written to the store as they come.

During a run the worker's ``sys.stdout``/``sys.stderr`` and the root logger (dteg's messages
and Beam's) go through ``LogCapture``: each line becomes (time, level, step, message), with
the pipeline's secrets redacted, and is flushed to the store at least every ``FLUSH_S``
seconds, so a live tail lags by less than a second.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TextIO

from dteg.orchestrator.store.store import Store

FLUSH_S = 0.25
_STEP = re.compile(r"step `([^`]+)`")
_LEVEL_PREFIX = {"warning:": "WARNING", "error:": "ERROR", "note:": "INFO"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _level_of(text: str, default: str) -> str:
    lowered = text.lstrip().lower()
    for prefix, level in _LEVEL_PREFIX.items():
        if lowered.startswith(prefix):
            return level
    return default


class _LineWriter(io.TextIOBase):
    def __init__(self, sink: Callable[[str, str], None], level: str, echo: TextIO) -> None:
        self._sink, self._level, self._echo, self._partial = sink, level, echo, ""

    def write(self, text: str) -> int:
        self._echo.write(text)
        self._partial += text.replace("\r", "\n")
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            if line.strip():
                self._sink(line, _level_of(line, self._level))
        return len(text)

    def flush(self) -> None:
        self._echo.flush()


class _Handler(logging.Handler):
    def __init__(self, sink: Callable[[str, str], None]) -> None:
        super().__init__(level=logging.INFO)
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a log line must never break the run
            self._sink(f"{record.name}: {record.getMessage()}", record.levelname)


class LogCapture:
    """``with LogCapture(store, run_id, attempt, redact):`` captures the run's lines."""

    def __init__(self, store: Store, run_id: str, attempt: int,
                 redact: Callable[[str], str] = lambda text: text) -> None:
        self.store, self.run_id, self.attempt, self.redact = store, run_id, attempt, redact
        self._buffer: list[tuple[datetime, str, str | None, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flusher, name="dteg-log-flush",
                                        daemon=True)
        self._handler = _Handler(self.add)
        self._saved: tuple[TextIO, TextIO, int] | None = None

    def add(self, message: str, level: str = "INFO") -> None:
        message = self.redact(message.rstrip())
        match = _STEP.search(message)
        with self._lock:
            self._buffer.append((_now(), level, match.group(1) if match else None, message))

    def flush(self) -> None:
        with self._lock:
            lines, self._buffer = self._buffer, []
        if lines:
            try:
                self.store.append_logs(self.run_id, self.attempt, lines)
            except Exception as exc:  # the store is down: the run goes on, say so once
                os.write(2, (f"warning: could not store {len(lines)} log line(s) of "
                                     f"run {self.run_id}: {exc}\n").encode())

    def _flusher(self) -> None:
        while not self._stop.wait(FLUSH_S):
            self.flush()

    def __enter__(self) -> LogCapture:
        root = logging.getLogger()
        self._saved = (sys.stdout, sys.stderr, root.level)
        sys.stdout = _LineWriter(self.add, "INFO", sys.stdout)
        sys.stderr = _LineWriter(self.add, "WARNING", sys.stderr)
        root.addHandler(self._handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._saved is not None
        sys.stdout, sys.stderr, level = self._saved
        root = logging.getLogger()
        root.removeHandler(self._handler)
        root.setLevel(level)
        self._stop.set()
        self._thread.join()
        self.flush()
