"""Puts an orchestrator together from its settings: the store, the executor, the alerts, the
metrics and their HTTP endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dteg.orchestrator.executors import Executor
from dteg.orchestrator.service import Orchestrator
from dteg.orchestrator.settings import OrchestratorSettings
from dteg.orchestrator.store.store import Store


def make_executor(settings: OrchestratorSettings, store: Store) -> Executor:
    if settings.executor == "celery":
        from dteg.orchestrator.executors.celery import CeleryExecutor

        assert settings.broker_url
        return CeleryExecutor(settings.broker_url)
    from dteg.orchestrator.executors.embedded import EmbeddedExecutor

    return EmbeddedExecutor(store, settings.store_url, settings.workers)


def build(settings: OrchestratorSettings, executor_for: Callable[..., Executor] | None = None,
          log: Callable[[str], None] = print) -> tuple[Orchestrator, str | None]:
    """The orchestrator and the URL of its metrics endpoint (None when it has none)."""
    store = Store.open(settings.store_url)
    executor = (executor_for or make_executor)(settings, store)
    from dteg.orchestrator.notify import StoreNotifier

    notifier = StoreNotifier(store)
    metrics: Any = None
    endpoint = None
    orchestrator = Orchestrator(settings, store, executor, notifier=notifier, metrics=metrics,
                                log=log)
    return orchestrator, endpoint
