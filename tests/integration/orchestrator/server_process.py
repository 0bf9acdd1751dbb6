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


class DtegProcess:
    """One ``dteg …`` command as a subprocess (its own session), logging to a file."""

    def __init__(self, log: Path, *args: str, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.log_path, self.args, self.cwd = log, [DTEG, *args], cwd
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> DtegProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=log, env=self.env,
                                            cwd=self.cwd, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=30)

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
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class ServerProcess(DtegProcess):
    """``dteg server --pipelines FOLDER …``."""

    def __init__(self, folder: Path, log: Path, *args: str,
                 env: dict[str, str] | None = None) -> None:
        super().__init__(log, "server", "--pipelines", str(folder), *args, env=env)
        self.folder = folder


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
