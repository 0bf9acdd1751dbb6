"""`dteg server` as a real subprocess for the orchestrator's end-to-end tests, and waiting on
its store (every wait is for a state, with a generous deadline — never a fixed sleep)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from dteg.orchestrator.store.store import Store

DTEG = str(Path(sys.executable).with_name("dteg"))
T = TypeVar("T")


class ServerProcess:
    def __init__(self, folder: Path, log: Path, *args: str,
                 env: dict[str, str] | None = None) -> None:
        self.folder, self.log_path = folder, log
        self.args = [DTEG, "server", "--pipelines", str(folder), *args]
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.args, stdout=log, stderr=log, env=self.env,
                                        start_new_session=True)
        return self

    def kill9(self) -> None:
        """kill -9 of the server process only (its workers notice and exit by themselves)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = 240.0,
             log: Callable[[], str] | None = None) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    tail = ("\n--- server log ---\n" + log()[-4000:]) if log else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")


def store_of(folder: Path) -> Store:
    return Store.open(f"sqlite:///{(folder / '.dteg' / 'orchestrator.sqlite').resolve()}")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
