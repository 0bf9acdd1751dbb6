"""/api/v1/pipelines: listing with status, schedule and next run; one pipeline's file, plan
and graph; validation with the CLI's file:line errors; saving revisions; pause and resume;
run now; the next fire times."""

from __future__ import annotations

import itertools
from datetime import datetime

from dteg.errors import DtegError
from dteg.spec.phases import compile_spec
from tests.server_api import CLEAN, Api

BROKEN = """\
pipeline:
  name: broken
  steps:
    - extract: {type: csv, config: {path: customers.csv}}
    - load: {type: nosuchsink, config: {}}
"""


def test_pipelines_are_listed_with_schedule_status_and_next_run(api: Api) -> None:
    page = api.client.get("/api/v1/pipelines").json()
    by_name = {item["name"]: item for item in page["items"]}
    assert sorted(by_name) == ["customers", "downstream", "fails"]
    customers = by_name["customers"]
    assert customers["schedule"] == "*/5 * * * *"
    assert customers["status"] == "never_run"
    assert customers["file"] == "customers.yaml"
    upcoming = datetime.fromisoformat(customers["next_run_at"])
    assert upcoming.minute % 5 == 0 and upcoming.tzinfo is not None
    assert by_name["downstream"]["next_run_at"] is None  # no schedule
    assert page["problems"] == []


def test_a_file_that_does_not_compile_is_reported_with_its_line(api: Api) -> None:
    (api.folder / "broken.yaml").write_text(BROKEN)
    api.context.current_catalog(force=True)
    problems = api.client.get("/api/v1/pipelines").json()["problems"]
    assert len(problems) == 1
    assert problems[0]["file"] == "broken.yaml"
    assert "broken.yaml:5" in problems[0]["message"]
    assert "nosuchsink" in problems[0]["message"]


def test_one_pipeline_has_its_yaml_plan_and_step_graph(api: Api) -> None:
    detail = api.client.get("/api/v1/pipelines/customers").json()
    assert detail["yaml"] == CLEAN
    assert [s["name"] for s in detail["plan"]["steps"]][:2] == ["extract", "validate"]
    nodes = {n["id"]: n for n in detail["graph"]["nodes"]}
    assert nodes["extract"]["line"] == 11 and not nodes["extract"]["generated"]
    assert nodes["validate"]["generated"] and nodes["mask"]["generated"]
    edges = {(e["source"], e["target"]) for e in detail["graph"]["edges"]}
    assert {("extract", "validate"), ("validate", "mask"), ("mask", "load")} <= edges
    assert ("validate", "dead_letter") in edges  # rejected rows have somewhere to go


def test_validate_answers_with_the_same_error_as_the_cli(api: Api) -> None:
    answer = api.client.post("/api/v1/pipelines/validate",
                             json={"yaml": BROKEN, "filename": "broken.yaml"})
    assert answer.status_code == 200
    result = answer.json()
    assert result["valid"] is False
    (error,) = result["errors"]
    try:
        compile_spec(api.folder / "broken.yaml", text=BROKEN)
    except DtegError as exc:
        expected = exc.render().replace(f"{api.folder}/", "")
    assert error["message"] == expected
    assert (error["file"], error["line"], error["step"]) == ("broken.yaml", 5, "load")
    good = api.client.post("/api/v1/pipelines/validate", json={"yaml": CLEAN}).json()
    assert good["valid"] is True and good["pipeline"] == "customers"
    assert good["plan"]["pipeline"] == "customers"


def test_yaml_that_does_not_parse_names_its_line(api: Api) -> None:
    text = "pipeline:\n  name: x\n  steps: [\n"
    (error,) = api.client.post("/api/v1/pipelines/validate", json={"yaml": text}).json()[
        "errors"]
    assert error["file"] == "pipeline.yaml" and error["line"] is not None


def test_a_revision_is_saved_only_when_it_compiles(api: Api) -> None:
    new = CLEAN.replace("name: customers", "name: fresh").replace("*/5", "*/10")
    created = api.client.put("/api/v1/pipelines/fresh", json={"yaml": new})
    assert created.status_code == 200, created.text
    assert created.json()["created"] and created.json()["file"] == "fresh.yaml"
    assert (api.folder / "fresh.yaml").read_text() == new
    assert api.client.get("/api/v1/pipelines/fresh").json()["schedule"] == "*/10 * * * *"

    same = api.client.put("/api/v1/pipelines/fresh", json={"yaml": new}).json()
    assert not same["created"] and not same["changed"]

    bad = api.client.put("/api/v1/pipelines/fresh",
                         json={"yaml": BROKEN.replace("name: broken", "name: fresh")})
    assert bad.status_code == 422
    assert bad.json()["error"]["line"] == 5
    assert (api.folder / "fresh.yaml").read_text() == new  # untouched

    other = api.client.put("/api/v1/pipelines/fresh", json={"yaml": CLEAN})
    assert other.status_code == 422
    assert other.json()["error"]["type"] == "name_mismatch"


def test_pause_resume_and_run_now(api: Api) -> None:
    paused = api.client.post("/api/v1/pipelines/customers/pause").json()
    assert paused["paused"] is True and paused["next_run_at"] is None
    times = api.client.get("/api/v1/pipelines/customers/schedule?count=3").json()
    assert times["paused"] is True and len(times["next"]) == 3
    resumed = api.client.post("/api/v1/pipelines/customers/resume").json()
    assert resumed["paused"] is False and resumed["next_run_at"] is not None

    run = api.client.post("/api/v1/pipelines/customers/runs", json={})
    assert run.status_code == 201
    assert run.json()["status"] == "queued" and run.json()["kind"] == "manual"
    listed = api.client.get("/api/v1/pipelines").json()["items"]
    assert {i["name"]: i["status"] for i in listed}["customers"] == "queued"
    assert api.client.post("/api/v1/pipelines/nope/runs", json={}).status_code == 404


def test_next_fire_times_follow_the_cron(api: Api) -> None:
    times = api.client.get("/api/v1/pipelines/customers/schedule?count=4").json()
    moments = [datetime.fromisoformat(t) for t in times["next"]]
    assert [(b - a).total_seconds() for a, b in itertools.pairwise(moments)] == [300.0] * 3
    none = api.client.get("/api/v1/pipelines/downstream/schedule").json()
    assert none["schedule"] is None and none["next"] == []


def test_a_backfill_of_a_pipeline_without_a_cursor_says_what_to_do(api: Api) -> None:
    answer = api.client.post("/api/v1/pipelines/customers/backfills",
                             json={"start": "2026-11-01", "end": "2026-11-03"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert "incremental" in error["message"] and str(api.folder) not in error["message"]
