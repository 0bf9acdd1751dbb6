"""What the orchestrator counts, for Prometheus: runs by status, their duration, how late they
start, rows, the queue, the workers, the last success of each pipeline and the scheduler's
own heartbeat.

``OrchestratorMetrics`` keeps its own registry (never the process-global one), so a test or
two servers in one process never see each other's series. The server mounts ``render()`` at
``/metrics``; dteg worker and dteg scheduler run alone serve it with ``serve_metrics``.
The alerting rules and the dashboard in ``deploy/monitoring/`` use these names; a test checks
that every name they use is exported here.

Row counters have the names ``dteg stream --metrics-port`` exports (``dteg.streaming.metrics``),
so one dashboard panel or alert covers batch runs and streams alike.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from dteg.errors import ConfigError

# Scheduled time → start (and → dispatch): 50 ms (an idle embedded executor) to 10 min (a
# queue that waits for a worker).
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# A run: a second (a small file) to a day (a large backfill partition).
DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
                    7200.0, 21600.0, 86400.0)

# The scheduler should beat at least this often: the DtegSchedulerDown rule
# (deploy/monitoring/rules/dteg-alerts.yml) takes a beat older than 25 s for a dead scheduler,
# and fires within 60 s of the scheduler stopping (scraped and evaluated every 15 s).
SCHEDULER_HEARTBEAT_INTERVAL_S = 5.0

# The row counters of ``dteg stream --metrics-port`` (dteg.streaming.metrics), same names and
# labels: records read, records committed per load step, records dead-lettered.
RECORDS_IN = "dteg_stream_records_in"
RECORDS_OUT = "dteg_stream_records_out"
DEAD_LETTERED = "dteg_stream_dead_lettered"

Timestamp = float | datetime


def _seconds(ts: Timestamp) -> float:
    return ts.timestamp() if isinstance(ts, datetime) else float(ts)


def _count(what: str, n: int | float) -> float:
    if n < 0 or math.isnan(n):
        raise ValueError(f"{what} must be a count (>= 0), got {n!r}")
    return float(n)


class OrchestratorMetrics:
    """The orchestrator's Prometheus metrics. Every method is thread-safe and cheap (the
    scheduler loop, the executor and the API call them directly); names start with ``dteg_``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._runs_started = Counter("dteg_runs_started", "Runs started",
                                     ["pipeline"], registry=r)
        self._runs = Counter("dteg_runs", "Runs finished, by status (succeeded, failed, …)",
                             ["pipeline", "status"], registry=r)
        self._duration = Histogram("dteg_run_duration_seconds", "Run duration, start to finish",
                                   ["pipeline"], buckets=DURATION_BUCKETS, registry=r)
        self._schedule_lag = Histogram(
            "dteg_run_schedule_lag_seconds", "Scheduled time to the run's start",
            ["pipeline"], buckets=LAG_BUCKETS, registry=r)
        self._dispatch_lag = Histogram(
            "dteg_run_dispatch_lag_seconds",
            "Scheduled time to the run's dispatch (handed to the executor or the queue)",
            ["pipeline"], buckets=LAG_BUCKETS, registry=r)
        self._records_in = Counter(RECORDS_IN, "Records read from sources",
                                   ["pipeline"], registry=r)
        self._records_out = Counter(RECORDS_OUT, "Records committed by a sink",
                                    ["pipeline", "step"], registry=r)
        self._dead = Counter(DEAD_LETTERED, "Records sent to the dead-letter output",
                             ["pipeline"], registry=r)
        self._ticks = Counter("dteg_scheduler_ticks", "Scheduled runs the scheduler created",
                              ["pipeline"], registry=r)
        self._retries = Counter("dteg_run_retries", "Runs retried after a retriable failure",
                                ["pipeline"], registry=r)
        self._alerts = Counter("dteg_alerts", "Alert notifications, by channel and outcome",
                               ["channel", "status"], registry=r)
        self._state = _StateCollector()
        r.register(self._state)

    # --- runs ---------------------------------------------------------------------------

    def run_started(self, pipeline: str, schedule_lag_s: float | None) -> None:
        """A run started. ``schedule_lag_s``: its scheduled time to now, or None for a run
        started by hand (no schedule, so no lag)."""
        self._runs_started.labels(pipeline).inc()
        self._init_pipeline(pipeline)
        if schedule_lag_s is not None:
            self._schedule_lag.labels(pipeline).observe(max(float(schedule_lag_s), 0.0))

    def run_finished(self, pipeline: str, status: str, duration_s: float, rows_read: int,
                     rows_loaded: int | Mapping[str, int], rows_dead_lettered: int) -> None:
        """A run ended with ``status`` (the run record's: ``succeeded``, ``failed`` …; the
        failure-rate alert counts ``failed``). ``rows_loaded`` is a count, or a count per load
        step like ``dteg stream`` reports (a plain count has the label ``step=""``)."""
        if not status:
            raise ValueError("run_finished needs a status")
        self._init_pipeline(pipeline)
        self._runs.labels(pipeline, status).inc()
        self._duration.labels(pipeline).observe(max(float(duration_s), 0.0))
        self._records_in.labels(pipeline).inc(_count("rows_read", rows_read))
        loaded = rows_loaded if isinstance(rows_loaded, Mapping) else {"": rows_loaded}
        for step, n in loaded.items():
            self._records_out.labels(pipeline, step).inc(_count("rows_loaded", n))
        self._dead.labels(pipeline).inc(_count("rows_dead_lettered", rows_dead_lettered))

    def dispatched(self, pipeline: str, lag_s: float) -> None:
        """A scheduled run was handed to the executor or the queue, ``lag_s`` after its
        scheduled time."""
        self._dispatch_lag.labels(pipeline).observe(max(float(lag_s), 0.0))

    def retries(self, pipeline: str) -> None:
        """A run of ``pipeline`` is retried."""
        self._retries.labels(pipeline).inc()

    def last_success(self, pipeline: str, ts: Timestamp) -> None:
        """``pipeline`` last succeeded at ``ts`` (epoch seconds or an aware datetime). Set it
        from the store at start-up too, so freshness survives a restart."""
        self._state.set("last_success", _seconds(ts), pipeline)

    # --- scheduler and executor ---------------------------------------------------------

    def scheduler_heartbeat(self, ts: Timestamp | None = None) -> None:
        """The scheduler loop is alive at ``ts`` (default: now). Call it at least every
        SCHEDULER_HEARTBEAT_INTERVAL_S seconds."""
        self._state.set("heartbeat", time.time() if ts is None else _seconds(ts))

    def ticks(self, pipeline: str, n: int) -> None:
        """The scheduler created ``n`` scheduled runs of ``pipeline`` (0 is fine)."""
        self._ticks.labels(pipeline).inc(_count("ticks", n))

    def set_queue_depth(self, n: int) -> None:
        """Runs waiting for an executor slot or a worker."""
        self._state.set("queue_depth", _count("queue depth", n))

    def set_live_workers(self, n: int) -> None:
        """Workers whose heartbeat is recent (the embedded executor counts as one)."""
        self._state.set("live_workers", _count("live workers", n))

    def alert(self, channel: str, status: str) -> None:
        """An alert notification went to ``channel`` (``slack``, ``email`` …) with ``status``
        ``sent`` or ``failed``."""
        self._alerts.labels(channel, status).inc()

    # --- exposition ---------------------------------------------------------------------

    def render(self) -> tuple[bytes, str]:
        """The registry in Prometheus' text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def _init_pipeline(self, pipeline: str) -> None:
        # Series that exist at 0 from a pipeline's first run on, so increase() and the
        # failure-rate ratio see the first failure (a series born at 1 has no increase).
        for status in ("succeeded", "failed"):
            self._runs.labels(pipeline, status)
        self._records_in.labels(pipeline)
        self._dead.labels(pipeline)


# (name, help, label or None) of each gauge the collector serves once it has a value: a
# dteg worker run alone must not export a queue depth, a worker count or a heartbeat of 0.
_GAUGES = {
    "queue_depth": ("dteg_queue_depth", "Runs waiting for an executor slot or a worker", None),
    "live_workers": ("dteg_live_workers", "Workers with a recent heartbeat", None),
    "heartbeat": ("dteg_scheduler_heartbeat_timestamp_seconds",
                  "Unix time of the scheduler loop's last heartbeat", None),
    "last_success": ("dteg_last_success_timestamp_seconds",
                     "Unix time of the pipeline's last successful run", "pipeline"),
}


class _StateCollector:
    """Gauges that appear only once they have been set."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[str, float]] = {key: {} for key in _GAUGES}

    def set(self, key: str, value: float, label: str = "") -> None:
        with self._lock:
            self._values[key][label] = value

    def describe(self) -> Iterable[Any]:
        # Names for the registry's duplicate check, without taking the lock at register time.
        for name, help_text, label in _GAUGES.values():
            yield GaugeMetricFamily(name, help_text, labels=[label] if label else None)

    def collect(self) -> Iterable[Any]:
        with self._lock:
            snapshot = {key: dict(values) for key, values in self._values.items()}
        for key, (name, help_text, label) in _GAUGES.items():
            values = snapshot[key]
            if not values:
                continue
            family = GaugeMetricFamily(name, help_text, labels=[label] if label else None)
            for value_label, value in sorted(values.items()):
                family.add_metric([value_label] if label else [], value)
            yield family


class MetricsServer:
    """``/metrics`` and ``/healthz`` on a daemon thread; ``stop()`` closes the socket."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        self.host, self.port = str(httpd.server_address[0]), int(httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_metrics(metrics: OrchestratorMetrics, host: str = "127.0.0.1", port: int = 9464,
                  healthy: Callable[[], bool] | None = None) -> MetricsServer:
    """Serve ``metrics`` at ``http://host:port/metrics`` (port 0: any free port, see
    ``.port``). ``/healthz`` answers 200 ``ok``, or 503 when ``healthy()`` says False (a
    worker that lost its broker)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                body, content_type = metrics.render()
                self._answer(200, body, content_type)
            elif path == "/healthz":
                ok = healthy is None or healthy()
                self._answer(200 if ok else 503, b"ok\n" if ok else b"unhealthy\n",
                             "text/plain; charset=utf-8")
            else:
                self._answer(404, b"not found: try /metrics or /healthz\n",
                             "text/plain; charset=utf-8")

        def _answer(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every 15 s is not news

    try:
        httpd = ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror}",
                          hint="Pick a free port (or 0 for any).") from None
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="dteg-metrics", daemon=True)
    thread.start()
    return MetricsServer(httpd, thread)
