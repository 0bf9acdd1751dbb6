"""Live row counts for the progress line. In-process only (the embedded runner); on remote
runners the summary comes from Beam metrics instead."""

from __future__ import annotations

import threading


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.value += n

    def reset(self) -> None:
        with self._lock:
            self.value = 0


rows_read = _Counter()
