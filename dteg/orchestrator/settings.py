"""How a server, scheduler or worker is set up: command-line options over ``DTEG_*``
environment variables over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from dteg.errors import ConfigError
from dteg.orchestrator.store.store import default_store_url
from dteg.spec.durations import parse_duration

ExecutorName = Literal["embedded", "celery"]
EXECUTORS: tuple[str, ...] = ("embedded", "celery")


def _env_duration(name: str, default: str | None, given: str | None = None
                  ) -> timedelta | None:
    value = given if given is not None else (os.environ.get(name) or default)
    if value in (None, "", "never"):
        return None
    where = f"--keep-runs {given}" if given is not None else f"{name}={value!r}"
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class OrchestratorSettings:
    pipelines_dir: Path
    store_url: str
    executor: ExecutorName = "embedded"
    workers: int = 2
    broker_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8265
    heartbeat_timeout: timedelta = timedelta(seconds=30)
    reload_every: timedelta = timedelta(seconds=2)
    keep_runs: timedelta | None = timedelta(days=90)
    # How often the server enforces the pipelines' `retention:` (None: never).
    retention_every: timedelta | None = timedelta(days=1)

    @classmethod
    def resolve(cls, *, pipelines_dir: Path | None = None, store_url: str | None = None,
                executor: str | None = None, workers: int | None = None,
                broker_url: str | None = None, host: str | None = None,
                port: int | None = None, keep_runs: str | None = None
                ) -> OrchestratorSettings:
        folder = (pipelines_dir or Path(os.environ.get("DTEG_PIPELINES_DIR", "pipelines")))
        chosen = executor or os.environ.get("DTEG_EXECUTOR", "embedded")
        if chosen not in EXECUTORS:
            raise ConfigError(f"unknown executor `{chosen}`",
                              hint=f"Use one of: {', '.join(EXECUTORS)}.")
        broker = broker_url or os.environ.get("DTEG_BROKER_URL") or os.environ.get(
            "DTEG_REDIS_URL")
        if chosen == "celery" and not broker:
            raise ConfigError("`--executor celery` needs a Redis broker",
                              hint="Pass --broker redis://host:6379/0 or set DTEG_BROKER_URL "
                              "(scripts/services/redis starts one for tests).")
        timeout = _env_duration("DTEG_HEARTBEAT_TIMEOUT", "30s")
        return cls(
            pipelines_dir=folder.resolve(),
            store_url=store_url or os.environ.get("DTEG_STORE_URL")
            or default_store_url(folder),
            executor=chosen,  # type: ignore[arg-type]
            workers=workers or int(os.environ.get("DTEG_WORKERS", "2")),
            broker_url=broker,
            host=host or os.environ.get("DTEG_HOST", "127.0.0.1"),
            port=port if port is not None else int(os.environ.get("DTEG_PORT", "8265")),
            heartbeat_timeout=timeout or timedelta(seconds=30),
            keep_runs=_env_duration("DTEG_KEEP_RUNS", "90d", keep_runs),
            retention_every=_env_duration("DTEG_RETENTION_EVERY", "1d"),
        )
