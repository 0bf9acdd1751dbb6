"""The web UI in a real browser against a real ``dteg server``: every page opens and answers
its question, a run started from the UI is followed live, and what pages show matches the API.
A screenshot of every page lands in DTEG_TEST_ARTIFACTS (default .test-artifacts/browser/)."""

from __future__ import annotations

import json
import re
import urllib.error
from typing import Any

import pytest

from tests.browser.conftest import Server

ORDER = {"queued": 0, "dispatched": 1, "running": 2, "succeeded": 3, "failed": 3, "cancelled": 3}


@pytest.fixture(scope="module")
def quickstart_run(server: Server) -> dict[str, Any]:
    """A finished quickstart run (validate, mask, DuckDB, dbt): lineage, quality, charts."""
    run = server.wait_finished(server.api.trigger("quickstart"))
    assert run["status"] == "succeeded", run.get("error")
    return run


def test_overview_opens(browser: Any) -> None:
    result = browser("overview")
    assert isinstance(result["counts"], dict)


def test_run_now_is_followed_live_without_reloading(browser: Any, server: Server) -> None:
    result = browser("live_run", pipeline="held_run", blocker="held_run",
                     release=server.gate.release_url)
    statuses = result["statuses"]
    # Seen on the page as it happened: queued (behind the blocker on the one worker) → running
    # → succeeded, never backwards.
    assert statuses[0] in ("queued", "dispatched"), statuses
    assert "running" in statuses and statuses[-1] == "succeeded", statuses
    assert [ORDER[s] for s in statuses] == sorted(ORDER[s] for s in statuses), statuses
    # Log lines arrived while the page was open: the count grew, the page never reloaded.
    counts = result["counts"]
    assert len(counts) >= 2 and counts == sorted(counts) and counts[-1] > 0, counts
    assert result["lines"] == counts[-1]
    assert result["samePage"] and result["loads"] == 1, result
    run = server.api.get(f"/runs/{result['runId']}")
    assert run["pipeline"] == "held_run" and run["status"] == "succeeded"
    logs = server.api.get(f"/runs/{result['runId']}/logs?limit=500")
    assert len(logs["items"]) == result["lines"]
    server.wait_finished(result["blocker"])


def test_run_page_counts_match_the_run_record(browser: Any, server: Server) -> None:
    run_id = server.api.trigger("jsonl_events")  # poison lines and a drop rule: dead letters
    assert server.wait_finished(run_id)["status"] == "succeeded"
    record = server.api.get(f"/runs/{run_id}")
    result = browser("run_page", run_id=run_id)
    assert result["status"] == "succeeded"
    fields = ("rows_in", "rows_out", "dead_letter", "filtered", "loaded")
    want = [{"step": s["step"], **{f: s[f] for f in fields}} for s in record["steps"]]
    assert result["steps"] == want
    assert sum(s["dead_letter"] for s in want) > 0, "the example should dead-letter some lines"
    if record["reconciles"] is not None:
        assert result["reconciliation"] and f"read {record['rows_read']:,}" in \
            result["reconciliation"]
    assert result["datasets"] == len(record["datasets"])


def test_failed_run_shows_its_error_with_file_and_line(browser: Any, server: Server) -> None:
    run = server.wait_finished(server.api.trigger("breaks_at_runtime"))
    assert run["status"] == "failed" and run["error"]
    result = browser("failed_run", run_id=run["id"])
    assert result["status"] == "failed"
    # The line of the step that failed, as the pipeline's graph knows it.
    graph = server.api.get("/pipelines/breaks_at_runtime")["graph"]
    line = next(n["line"] for n in graph["nodes"] if n["kind"] == "validate")
    assert re.fullmatch(rf"(.*/)?breaks_at_runtime\.yaml:{line}", result["location"]), result
    assert result["location"] in run["error"]
    assert "range_check" in result["message"]
    assert result["retry"] and result["opened"] == "breaks_at_runtime"


def test_pipeline_page_draws_its_steps_and_validates_a_change(
        browser: Any, server: Server, quickstart_run: dict[str, Any]) -> None:
    detail = server.api.get("/pipelines/quickstart")
    broken = detail["yaml"].replace("type: csv", "type: csvv")
    result = browser("pipeline", name="quickstart", broken_yaml=broken)
    assert sorted(result["nodes"]) == sorted(n["id"] for n in detail["graph"]["nodes"])
    assert result["yamlLines"] == len(detail["yaml"].rstrip("\n").split("\n"))
    assert result["runs"] >= 1
    assert result["valid"] == "false" and result["errors"], result
    assert re.search(r"quickstart\.yaml:\d+", " ".join(result["errors"])), result["errors"]


def test_pipelines_page_lists_every_pipeline(browser: Any, server: Server) -> None:
    api = {p["name"]: p["status"] for p in server.api.get("/pipelines")["items"]}
    result = browser("pipelines")
    shown = {r["name"]: r["status"] for r in result["rows"]}
    assert set(shown) == set(api)
    for name, status in shown.items():
        # A run may start between the two reads; a finished status never changes back.
        assert status == api[name] or api[name] in ("queued", "dispatched", "running"), name


def test_lineage_page_shows_datasets_and_their_pipelines(
        browser: Any, server: Server, quickstart_run: dict[str, Any]) -> None:
    lineage = server.api.get("/lineage")
    result = browser("lineage")
    assert {d["id"] for d in result["datasets"]} == {d["id"] for d in lineage["datasets"]}
    assert result["nodes"] == len(lineage["graph"]["nodes"])
    assert any("quickstart" in d["producers"] for d in result["datasets"]), result


def test_unknown_run_and_pipeline_show_the_api_error(browser: Any, server: Server) -> None:
    for path, shot, api_path in [("/run/?id=no-such-run", "error-run", "/runs/no-such-run"),
                                 ("/pipeline/?name=no_such_pipeline", "error-pipeline",
                                  "/pipelines/no_such_pipeline")]:
        with pytest.raises(urllib.error.HTTPError) as answer:
            server.api.get(api_path)
        error = json.loads(answer.value.read())["error"]
        result = browser("error_state", path=path, shot=shot)
        assert result["message"] == error["message"]
        if error.get("hint"):
            assert error["hint"] in (result["hint"] or "")


def test_overview_after_runs_counts_them_and_names_the_failing(browser: Any,
                                                               server: Server) -> None:
    overview = server.api.get("/overview?hours=24")
    result = browser("overview", shot="overview-after-runs")
    assert result["counts"] == overview["runs_by_status"]
    assert "breaks_at_runtime" in result["failing"]
