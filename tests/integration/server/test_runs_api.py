"""/api/v1/runs over real runs (Beam's embedded runner, in this process): counts that
reconcile, quality, a masked dead-letter sample, logs paged and as Server-Sent Events, a
failed run's error with file:line, cancel and retry; lineage and quality history."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dteg.server.events import parse_events
from tests.server_api import Api

pytestmark = pytest.mark.slow


def test_a_run_has_its_step_counts_and_they_reconcile(ran: tuple[Api, dict[str, str]]) -> None:
    api, runs = ran
    run = api.client.get(f"/api/v1/runs/{runs['customers']}").json()
    assert run["status"] == "succeeded" and run["attempt"] == 1
    steps = {s["step"]: s for s in run["steps"]}
    assert steps["extract"]["rows_out"] == 4
    assert steps["validate"]["dead_letter"] == 2  # an empty and a malformed email
    assert steps["load"]["loaded"] == 2
    assert run["rows_read"] == run["rows_loaded"] + run["rows_dead_lettered"] == 4
    assert run["reconciles"] is True
    rules = run["quality"]["steps"][0]["rules"]
    assert {r["rule"]: r["failed"] for r in rules} == {"null_check": 1, "format_check": 1}
    assert [a["status"] for a in run["attempts"]] == ["succeeded"]
    directions = {(d["direction"], d["step"]) for d in run["datasets"]}
    assert directions == {("input", "extract"), ("output", "load")}


def test_the_dead_letter_sample_is_masked_like_the_loaded_rows(
        ran: tuple[Api, dict[str, str]]) -> None:
    api, runs = ran
    sample = api.client.get(f"/api/v1/runs/{runs['customers']}/dead-letters").json()
    assert sample["readable"] and sample["total"] == 2 and len(sample["records"]) == 2
    reasons = " ".join(r["reason"] for r in sample["records"])
    assert "null_check" in reasons or "null" in reasons
    for record in sample["records"]:
        assert record["source"].startswith("customers.csv:") or ":" in record["source"]
        assert "not-an-email" not in str(record["record"])  # email is hashed
    assert api.client.get(f"/api/v1/runs/{runs['customers']}/dead-letters?limit=1").json()[
        "records"].__len__() == 1


def test_a_failed_run_shows_its_error_with_file_and_line(
        ran: tuple[Api, dict[str, str]]) -> None:
    api, runs = ran
    run = api.client.get(f"/api/v1/runs/{runs['fails']}").json()
    assert run["status"] == "failed"
    assert "step `filter` (fails.yaml:6)" in run["error"]
    assert "nope" in run["error"]
    listed = {i["name"]: i for i in api.client.get("/api/v1/pipelines").json()["items"]}
    assert listed["fails"]["status"] == "failed"
    overview = api.client.get("/api/v1/overview").json()
    assert [p["name"] for p in overview["failing"]] == ["fails"]
    assert overview["runs_by_status"] == {"succeeded": 2, "failed": 1}
    assert sum(sum(b["counts"].values()) for b in overview["runs_by_hour"]) == 3


def test_logs_page_and_stream_give_the_same_lines(ran: tuple[Api, dict[str, str]]) -> None:
    api, runs = ran
    rid = runs["customers"]
    first = api.client.get(f"/api/v1/runs/{rid}/logs?limit=2").json()
    rest = api.client.get(f"/api/v1/runs/{rid}/logs?after={first['next_after']}").json()
    paged = [line["message"] for line in first["items"] + rest["items"]]
    assert len(paged) >= 3 and rest["finished"] and not first["finished"]
    assert any("attempt 1 of" in m for m in paged)
    events = parse_events(api.client.get(f"/api/v1/runs/{rid}/events").text)
    kinds = [kind for kind, _data in events]
    assert kinds[0] == "run" and kinds[-1] == "end"
    streamed = [data["message"] for kind, data in events if kind == "log"]
    assert streamed == paged
    resumed = parse_events(api.client.get(
        f"/api/v1/runs/{rid}/events", headers={"Last-Event-ID": str(first["next_after"])}).text)
    assert [d["message"] for k, d in resumed if k == "log"] == paged[2:]


def test_runs_page_with_a_cursor_and_filters(ran: tuple[Api, dict[str, str]]) -> None:
    api, runs = ran
    revision = api.catalog.get("downstream")
    assert revision is not None
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for minute in range(60):  # two runs a minute: equal created_at, ordered by id
        api.store.create_runs([dict(pipeline="downstream", dedupe_key=f"k{minute}-{i}",
                                    sha256=revision.sha256, kind="manual",
                                    run_id=f"bulk-{minute:02d}-{i}") for i in range(2)],
                              base + timedelta(minutes=minute))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = "/api/v1/runs?pipeline=downstream&limit=50" + (f"&cursor={cursor}" if cursor
                                                               else "")
        page = api.client.get(query).json()
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 121  # 120 + the real run, no gap, no repeat
    created = [api.store.run(i).created_at for i in seen]  # type: ignore[union-attr]
    assert created == sorted(created, reverse=True)
    failed = api.client.get("/api/v1/runs?status=failed").json()["items"]
    assert [r["id"] for r in failed] == [runs["fails"]]
    window = api.client.get("/api/v1/runs", params={
        "pipeline": "downstream", "since": "2026-01-01T00:10:00Z",
        "until": "2026-01-01T00:20:00Z", "limit": 500}).json()["items"]
    assert len(window) == 20
    both = api.client.get("/api/v1/runs?status=succeeded&status=failed&limit=500").json()
    assert {r["status"] for r in both["items"]} == {"succeeded", "failed"}


def test_cancel_and_retry(ran: tuple[Api, dict[str, str]]) -> None:
    api, runs = ran
    done = api.client.post(f"/api/v1/runs/{runs['customers']}/cancel")
    assert done.status_code == 409 and done.json()["error"]["type"] == "conflict"
    again = api.client.post(f"/api/v1/runs/{runs['fails']}/retry")
    assert again.status_code == 201
    retry = again.json()
    assert retry["kind"] == "retry" and retry["triggered_by"] == runs["fails"]
    assert api.client.post(f"/api/v1/runs/{retry['id']}/retry").status_code == 409
    cancelled = api.client.post(f"/api/v1/runs/{retry['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"


def test_lineage_joins_pipelines_through_their_datasets(
        ran: tuple[Api, dict[str, str]]) -> None:
    api, _runs = ran
    lineage = api.client.get("/api/v1/lineage").json()
    datasets = {d["id"]: d for d in lineage["datasets"]}
    shared = [d for d in datasets.values() if d["producers"] == ["customers"]
              and d["consumers"] == ["downstream"]]
    assert len(shared) == 1, datasets
    (middle,) = shared
    edges = {(e["source"], e["target"]) for e in lineage["graph"]["edges"]}
    assert ("pipeline:customers", middle["id"]) in edges
    assert (middle["id"], "pipeline:downstream") in edges
    (version,) = middle["schema_history"]
    assert [f["name"] for f in version["fields"]] == ["id", "name", "email", "amount"]
    one = api.client.get("/api/v1/datasets/detail", params={"id": middle["id"]}).json()
    assert one == middle


def test_quality_history_has_one_point_per_rule_and_run(
        ran: tuple[Api, dict[str, str]]) -> None:
    api, _runs = ran
    points = api.client.get("/api/v1/pipelines/customers/quality").json()["points"]
    assert {(p["rule"], p["failed"], p["rows"], p["passed"]) for p in points} == {
        ("null_check", 1, 4, False), ("format_check", 1, 4, False)}
