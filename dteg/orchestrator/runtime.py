"""Puts an orchestrator together from its settings: the store, the executor, the alerts, the
metrics and their HTTP endpoint."""

from __future__ import annotations

from collections.abc import Callable

from dteg.orchestrator.executors import Executor
from dteg.orchestrator.metrics import MetricsServer, OrchestratorMetrics, serve_metrics
from dteg.orchestrator.notify import StoreNotifier
from dteg.orchestrator.service import Orchestrator
from dteg.orchestrator.settings import OrchestratorSettings
from dteg.orchestrator.store.store import Store


def make_executor(settings: OrchestratorSettings, store: Store) -> Executor:
    if settings.executor == "celery":
        from dteg.orchestrator.executors.celery import CeleryExecutor

        assert settings.broker_url
        return CeleryExecutor(settings.broker_url, store, settings.heartbeat_timeout)
    from dteg.orchestrator.executors.embedded import EmbeddedExecutor

    return EmbeddedExecutor(store, settings.store_url, settings.workers)


def build(settings: OrchestratorSettings, executor_for: Callable[..., Executor] | None = None,
          log: Callable[[str], None] = print, serve_http: bool = True
          ) -> tuple[Orchestrator, MetricsServer | None]:
    """The orchestrator and its /metrics + /healthz endpoint (None without ``serve_http``)."""
    store = Store.open(settings.store_url)
    executor = (executor_for or make_executor)(settings, store)
    metrics = OrchestratorMetrics()
    notifier = StoreNotifier(store, metrics=metrics)
    orchestrator = Orchestrator(settings, store, executor, notifier=notifier, metrics=metrics,
                                log=log)
    endpoint = None
    if serve_http:
        try:
            endpoint = serve_metrics(metrics, settings.host, settings.port,
                                     healthy=orchestrator.healthy)
        except Exception:
            executor.close()
            raise
    return orchestrator, endpoint
