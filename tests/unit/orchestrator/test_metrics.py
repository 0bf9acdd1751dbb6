"""OrchestratorMetrics: names, labels, buckets, gauges that appear once set, the row counters
shared with `dteg stream --metrics-port`, and the /metrics + /healthz server."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from datetime import datetime, timezone

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dteg.errors import ConfigError
from dteg.orchestrator.metrics import (
    LAG_BUCKETS,
    OrchestratorMetrics,
    serve_metrics,
)
from dteg.streaming.metrics import StreamMetrics, _Collector


def samples(m: OrchestratorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = m.render()
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m: OrchestratorMetrics, name: str, **labels: str) -> float | None:
    return samples(m).get((name, tuple(sorted(labels.items()))))


def exercised() -> OrchestratorMetrics:
    m = OrchestratorMetrics()
    m.run_started("orders", schedule_lag_s=0.3)
    m.dispatched("orders", lag_s=0.1)
    m.run_finished("orders", "succeeded", 12.5, rows_read=100, rows_loaded=98,
                   rows_dead_lettered=2)
    m.last_success("orders", 1_700_000_000.0)
    m.scheduler_heartbeat(1_700_000_005.0)
    m.set_queue_depth(3)
    m.set_live_workers(2)
    m.ticks("orders", 1)
    m.retries("orders")
    m.alert("slack", "sent")
    return m


def test_every_family_is_prefixed_and_render_gives_the_text_format() -> None:
    body, content_type = exercised().render()
    assert content_type.startswith("text/plain")
    families = list(text_string_to_metric_families(body.decode()))
    assert families
    assert all(f.name.startswith("dteg_") for f in families)


def test_a_run_counts_status_duration_lag_and_rows() -> None:
    m = exercised()
    assert value(m, "dteg_runs_started_total", pipeline="orders") == 1
    assert value(m, "dteg_runs_total", pipeline="orders", status="succeeded") == 1
    # The failed series exists at 0 from the first run on, so increase() sees a first failure.
    assert value(m, "dteg_runs_total", pipeline="orders", status="failed") == 0
    assert value(m, "dteg_run_duration_seconds_sum", pipeline="orders") == 12.5
    assert value(m, "dteg_run_schedule_lag_seconds_bucket", pipeline="orders", le="0.25") == 0
    assert value(m, "dteg_run_schedule_lag_seconds_bucket", pipeline="orders", le="0.5") == 1
    assert value(m, "dteg_run_dispatch_lag_seconds_count", pipeline="orders") == 1
    assert value(m, "dteg_stream_records_in_total", pipeline="orders") == 100
    assert value(m, "dteg_stream_records_out_total", pipeline="orders", step="") == 98
    assert value(m, "dteg_stream_dead_lettered_total", pipeline="orders") == 2
    assert value(m, "dteg_scheduler_ticks_total", pipeline="orders") == 1
    assert value(m, "dteg_run_retries_total", pipeline="orders") == 1
    assert value(m, "dteg_alerts_total", channel="slack", status="sent") == 1


def test_lag_buckets_go_from_50_ms_to_10_minutes() -> None:
    assert LAG_BUCKETS[0] == 0.05 and LAG_BUCKETS[-1] == 600.0
    m = OrchestratorMetrics()
    m.run_started("p", schedule_lag_s=0.01)
    m.run_started("p", schedule_lag_s=-2.0)  # clock skew: counted as on time, not negative
    m.run_started("p", schedule_lag_s=900.0)
    assert value(m, "dteg_run_schedule_lag_seconds_bucket", pipeline="p", le="0.05") == 2
    assert value(m, "dteg_run_schedule_lag_seconds_bucket", pipeline="p", le="600.0") == 2
    assert value(m, "dteg_run_schedule_lag_seconds_bucket", pipeline="p", le="+Inf") == 3


def test_a_manual_run_has_no_schedule_lag() -> None:
    m = OrchestratorMetrics()
    m.run_started("p", schedule_lag_s=None)
    assert value(m, "dteg_runs_started_total", pipeline="p") == 1
    assert value(m, "dteg_run_schedule_lag_seconds_count", pipeline="p") is None


def test_rows_loaded_per_step_like_a_stream() -> None:
    m = OrchestratorMetrics()
    m.run_finished("p", "failed", 1.0, rows_read=10, rows_loaded={"wh": 7, "lake": 10},
                   rows_dead_lettered=0)
    assert value(m, "dteg_stream_records_out_total", pipeline="p", step="wh") == 7
    assert value(m, "dteg_stream_records_out_total", pipeline="p", step="lake") == 10
    assert value(m, "dteg_runs_total", pipeline="p", status="failed") == 1


@pytest.mark.parametrize("bad", [-1, float("nan")])
def test_a_negative_count_is_refused(bad: float) -> None:
    m = OrchestratorMetrics()
    with pytest.raises(ValueError, match="rows_read"):
        m.run_finished("p", "succeeded", 1.0, rows_read=bad, rows_loaded=0,  # type: ignore[arg-type]
                       rows_dead_lettered=0)
    with pytest.raises(ValueError, match="queue depth"):
        m.set_queue_depth(-1)
    with pytest.raises(ValueError, match="status"):
        m.run_finished("p", "", 1.0, rows_read=0, rows_loaded=0, rows_dead_lettered=0)


def test_state_gauges_appear_only_once_set() -> None:
    # A `dteg worker` run alone must not claim a queue depth, a heartbeat or workers of 0.
    m = OrchestratorMetrics()
    names = {name for name, _ in samples(m)}
    assert not names & {"dteg_queue_depth", "dteg_live_workers",
                        "dteg_scheduler_heartbeat_timestamp_seconds",
                        "dteg_last_success_timestamp_seconds"}
    m.set_queue_depth(4)
    m.set_queue_depth(1)
    m.set_live_workers(0)
    m.last_success("a", datetime(2024, 1, 1, tzinfo=timezone.utc))
    m.last_success("b", 5.0)
    assert value(m, "dteg_queue_depth") == 1
    assert value(m, "dteg_live_workers") == 0
    assert value(m, "dteg_last_success_timestamp_seconds", pipeline="a") == 1_704_067_200
    assert value(m, "dteg_last_success_timestamp_seconds", pipeline="b") == 5


def test_heartbeat_defaults_to_now() -> None:
    import time

    m = OrchestratorMetrics()
    before = time.time()
    m.scheduler_heartbeat()
    beat = value(m, "dteg_scheduler_heartbeat_timestamp_seconds")
    assert beat is not None and before <= beat <= time.time()


def test_each_instance_has_its_own_registry() -> None:
    a, b = OrchestratorMetrics(), OrchestratorMetrics()
    a.retries("p")
    assert value(a, "dteg_run_retries_total", pipeline="p") == 1
    assert value(b, "dteg_run_retries_total", pipeline="p") is None


def test_row_counters_have_the_names_and_labels_of_dteg_stream() -> None:
    stream = StreamMetrics("orders")
    stream.batch_done(read=5, loaded={"load": 4}, dead=1, seconds=0.1,
                      latencies=np.array([0.2]))
    stream_families = {f.name: f for f in _Collector(stream).collect()}

    batch = OrchestratorMetrics()
    batch.run_finished("orders", "succeeded", 1.0, rows_read=5, rows_loaded={"load": 4},
                       rows_dead_lettered=1)
    body, _ = batch.render()
    batch_families = {f.name: f for f in text_string_to_metric_families(body.decode())}

    for name in ("dteg_stream_records_in", "dteg_stream_records_out",
                 "dteg_stream_dead_lettered"):
        s, b = stream_families[name], batch_families[name]
        assert (s.type, b.type) == ("counter", "counter")
        assert [(x.name, x.labels, x.value) for x in s.samples] == \
            [(x.name, x.labels, x.value) for x in b.samples if x.name.endswith("_total")]


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_serve_metrics_serves_metrics_and_healthz_and_stops() -> None:
    m = exercised()
    health = {"ok": True}
    server = serve_metrics(m, "127.0.0.1", 0, healthy=lambda: health["ok"])
    try:
        code, content_type, body = _get(server.url + "/metrics")
        assert code == 200 and content_type == m.render()[1]
        assert 'dteg_runs_total{pipeline="orders",status="succeeded"} 1.0' in body
        assert _get(server.url + "/healthz")[::2] == (200, "ok\n")
        health["ok"] = False
        assert _get(server.url + "/healthz")[0] == 503
        assert _get(server.url + "/nope")[0] == 404
    finally:
        server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), 2):
        pass


def test_a_taken_port_is_a_config_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}"):
            serve_metrics(OrchestratorMetrics(), "127.0.0.1", port)
