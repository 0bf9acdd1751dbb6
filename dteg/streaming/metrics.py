"""What ``dteg stream`` counts: records in and out, dead letters, lag per partition and
end-to-end latency (Kafka timestamp → the sinks' commit). Kept in plain Python (for the live
line and the summary) and, with ``--metrics-port``, served for Prometheus."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dteg.errors import ConfigError

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
                   300.0, 900.0, 3600.0)


@dataclass
class LatencyHistogram:
    """Exact bucket counts and a bounded sample for percentiles."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0
    sample: list[float] = field(default_factory=list)
    sample_limit: int = 200_000

    def observe_many(self, values: Any) -> None:
        """``values``: a numpy array of seconds."""
        import numpy as np

        if not len(values):
            return
        edges = np.asarray(self.buckets)
        idx = np.searchsorted(edges, values, side="left")
        for i, c in zip(*np.unique(idx, return_counts=True), strict=True):
            self.counts[i] += int(c)
        self.total += float(values.sum())
        self.n += len(values)
        room = self.sample_limit - len(self.sample)
        if room > 0:
            step = max(len(values) // room, 1)
            self.sample.extend(float(v) for v in values[::step][:room])

    def percentile(self, q: float) -> float | None:
        if not self.sample:
            return None
        ordered = sorted(self.sample)
        return ordered[max(min(math.ceil(q / 100 * len(ordered)) - 1, len(ordered) - 1), 0)]


class StreamMetrics:
    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self.lock = threading.Lock()
        self.records_in = 0
        self.records_out: dict[str, int] = {}
        self.dead_lettered = 0
        self.batches = 0
        self.retries = 0
        self.lag: dict[tuple[str, str, int], int] = {}
        self.latency = LatencyHistogram()
        self.batch_seconds: list[float] = []
        self.started = time.monotonic()
        # From the start of the first micro-batch to the end of the last (throughput).
        self.first_batch: float | None = None
        self.last_batch: float | None = None
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)
        self.server: Any = None

    # --- updates ------------------------------------------------------------------------

    def batch_done(self, read: int, loaded: dict[str, int], dead: int, seconds: float,
                   latencies: Any) -> None:
        now = time.monotonic()
        with self.lock:
            if self.first_batch is None:
                self.first_batch = now - seconds
            self.last_batch = now
            self.records_in += read
            for step, n in loaded.items():
                self.records_out[step] = self.records_out.get(step, 0) + n
            self.dead_lettered += dead
            self.batches += 1
            self.batch_seconds.append(seconds)
            self.latency.observe_many(latencies)

    def set_lag(self, step: str, lag: dict[tuple[str, int], int]) -> None:
        with self.lock:
            for (topic, partition), value in lag.items():
                self.lag[(step, topic, partition)] = value

    @property
    def active_seconds(self) -> float:
        if self.first_batch is None or self.last_batch is None:
            return 0.0
        return self.last_batch - self.first_batch

    def total_lag(self) -> int:
        with self.lock:
            return sum(self.lag.values())

    def rate(self, in_flight: int = 0) -> float:
        """Records per second over the last ~10 s."""
        now = time.monotonic()
        total = self.records_in + in_flight
        self._rate.append((now, total))
        while len(self._rate) > 2 and now - self._rate[0][0] > 10:
            self._rate.popleft()
        t0, n0 = self._rate[0]
        return (total - n0) / (now - t0) if now > t0 else 0.0

    # --- Prometheus ---------------------------------------------------------------------

    def serve(self, port: int) -> None:
        try:
            from prometheus_client import CollectorRegistry, start_http_server
        except ModuleNotFoundError:
            raise ConfigError("--metrics-port needs the prometheus-client package",
                              hint="Install it with `pip install prometheus-client`.") from None
        registry = CollectorRegistry(auto_describe=True)
        registry.register(_Collector(self))
        try:
            self.server = start_http_server(port, addr="0.0.0.0", registry=registry)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on port {port}: {exc.strerror}",
                              hint="Pick a free port with --metrics-port.") from None

    def close(self) -> None:
        if self.server is not None:
            server, _thread = self.server
            server.shutdown()
            self.server = None


class _Collector:
    """Reads StreamMetrics at scrape time."""

    def __init__(self, metrics: StreamMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        m = self.m
        labels = ["pipeline"]
        with m.lock:
            rin = CounterMetricFamily("dteg_stream_records_in", "Records read from sources",
                                      labels=labels)
            rin.add_metric([m.pipeline], m.records_in)
            out = CounterMetricFamily("dteg_stream_records_out", "Records committed by a sink",
                                      labels=["pipeline", "step"])
            for step, n in m.records_out.items():
                out.add_metric([m.pipeline, step], n)
            dead = CounterMetricFamily("dteg_stream_dead_lettered",
                                       "Records sent to the dead-letter output", labels=labels)
            dead.add_metric([m.pipeline], m.dead_lettered)
            batches = CounterMetricFamily("dteg_stream_micro_batches",
                                          "Micro-batches committed", labels=labels)
            batches.add_metric([m.pipeline], m.batches)
            retries = CounterMetricFamily("dteg_stream_retries",
                                          "Micro-batches retried after a retriable error",
                                          labels=labels)
            retries.add_metric([m.pipeline], m.retries)
            lag = GaugeMetricFamily("dteg_stream_consumer_lag",
                                    "Records in the partition not yet committed",
                                    labels=["pipeline", "step", "topic", "partition"])
            for (step, topic, partition), value in sorted(m.lag.items()):
                lag.add_metric([m.pipeline, step, topic, str(partition)], value)
            h = m.latency
            cumulative, running = [], 0
            for bound, count in zip((*h.buckets, math.inf), h.counts, strict=True):
                running += count
                cumulative.append(("+Inf" if bound == math.inf else str(bound), running))
            latency = HistogramMetricFamily(
                "dteg_stream_end_to_end_latency_seconds",
                "Kafka message timestamp to every sink and the offsets committed",
                labels=labels)
            latency.add_metric([m.pipeline], cumulative, sum_value=h.total)
        return [rin, out, dead, batches, retries, lag, latency]

