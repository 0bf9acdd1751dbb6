"""What `dteg stream` shows and hears on the terminal: SIGINT/SIGTERM handling (finish the
micro-batch in flight, then stop) and the live progress line."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from dteg.streaming.metrics import StreamMetrics


class StopSignals:
    """Set by SIGINT/SIGTERM; a second SIGINT interrupts at once."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.reason: str | None = None
        self.event = threading.Event()
        self.say = say
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.reason is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.reason = name
        self.event.set()
        self.say(f"{name}: finishing the micro-batch in flight, then stopping "
                 "(Ctrl-C again to stop at once)")

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)


class LiveLine:
    """records · rate · lag · dead-lettered, redrawn on a terminal every half second."""

    def __init__(self, metrics: StreamMetrics, enabled: bool) -> None:
        self.metrics = metrics
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> LiveLine:
        if self.enabled:
            self._thread.start()
        return self

    def _loop(self) -> None:
        from dteg.beam import progress

        m = self.metrics
        while not self._stop.wait(0.5):
            in_flight = progress.rows_read.value
            line = (f"  {m.records_in + in_flight:,} records · {m.rate(in_flight):,.0f}/s · "
                    f"lag {m.total_lag():,} · dead-lettered {m.dead_lettered:,} · "
                    f"{m.batches:,} micro-batches")
            sys.stderr.write("\r" + line.ljust(100))
            sys.stderr.flush()

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()
