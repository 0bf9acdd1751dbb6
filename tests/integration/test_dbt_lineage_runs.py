"""dbt after the load, OpenLineage events (to a real HTTP receiver), run records, drift."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import duckdb
import jsonschema
import pytest

from dteg.cli import main

# The required core of OpenLineage 2-0-2's RunEvent (https://openlineage.io/spec/2-0-2/
# OpenLineage.json): what every consumer relies on. The package ships no schema file.
_DATASET = {"type": "object", "required": ["namespace", "name"],
            "properties": {"namespace": {"type": "string"}, "name": {"type": "string"},
                           "facets": {"type": "object"}}}
_FACET = {"type": "object", "required": ["_producer", "_schemaURL"],
          "properties": {"_producer": {"type": "string", "format": "uri"},
                         "_schemaURL": {"type": "string", "format": "uri"}}}
RUN_EVENT_SCHEMA = {
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
    "properties": {
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri"},
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "run": {"type": "object", "required": ["runId"], "properties": {
            "runId": {"type": "string", "pattern": "^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$"},
            "facets": {"type": "object", "additionalProperties": _FACET}}},
        "job": {"type": "object", "required": ["namespace", "name"], "properties": {
            "namespace": {"type": "string"}, "name": {"type": "string"},
            "facets": {"type": "object", "additionalProperties": _FACET}}},
        "inputs": {"type": "array", "items": _DATASET},
        "outputs": {"type": "array", "items": _DATASET},
    },
}


class _Receiver(BaseHTTPRequestHandler):
    events: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).events.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, dict]]]]:
    events: ClassVar[list[tuple[str, dict]]] = []
    handler = type("Receiver", (_Receiver,), {"events": events})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", events
    server.shutdown()
    server.server_close()


def test_quickstart_runs_dbt_after_the_load(workdir: Path, run_pipeline) -> None:
    code, report, out = run_pipeline(workdir / "quickstart.yaml")
    assert code == 0, out
    assert report["dbt"][0]["command"] == "build"
    assert "customers_by_country" in report["dbt"][0]["passed"]
    assert report["dbt"][0]["failed"] == []
    assert "dbt build: 4 passed, 0 failed" in out
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"), read_only=True)
    by_country = dict(con.execute(
        "SELECT country, customers FROM customers_by_country").fetchall())
    con.close()
    assert by_country == {"KR": 2, "BR": 1, "JP": 1, "ES": 1, "GB": 1, "FR": 1, "VN": 1}


def test_a_failing_dbt_test_fails_the_run_with_its_name(workdir: Path, run_pipeline) -> None:
    sources = workdir / "dbt" / "models" / "sources.yml"
    sources.write_text(sources.read_text().replace(
        "data_tests: [not_null, unique]",
        "data_tests:\n          - accepted_values:\n              arguments: {values: [KR]}"))
    code, _report, out = run_pipeline(workdir / "quickstart.yaml")
    assert code == 1
    assert "dbt build failed" in out
    assert "accepted_values_customers_by_country_country__KR" in out
    assert "The loads committed" in out


def test_a_run_whose_dbt_step_fails_keeps_its_counts_report_and_dbt_results(
        workdir: Path, run_pipeline) -> None:
    sources = workdir / "dbt" / "models" / "sources.yml"
    sources.write_text(sources.read_text().replace(
        "data_tests: [not_null, unique]",
        "data_tests:\n          - accepted_values:\n              arguments: {values: [KR]}"))
    code, report, out = run_pipeline(workdir / "quickstart.yaml")
    assert code == 1, out
    # --report-json is written for a failed run too, with its status, error and counts.
    assert report is not None and report["status"] == "failed"
    assert "dbt build failed" in report["error"]
    assert report["loaded"] > 0 and report["read"] > 0
    assert report["dbt"][0]["failed"], report["dbt"]
    from dteg.run.records import RunStore

    record = RunStore.for_folder(workdir).list("quickstart", limit=1)[0]
    assert record.status == "failed" and "dbt build failed" in (record.error or "")
    assert record.rows_loaded == report["loaded"] and record.rows_read == report["read"]
    assert record.report is not None and record.report["dbt"][0]["failed"]


def test_lineage_events_reach_an_http_receiver_in_order(workdir: Path, run_pipeline,
                                                        receiver, monkeypatch) -> None:
    url, events = receiver
    secret = "hunter2-masking-key-value"
    monkeypatch.setenv("DTEG_MASKING_KEY", secret)
    path = workdir / "quickstart.yaml"
    path.write_text(path.read_text().replace(
        "  steps:",
        f"  monitoring:\n    lineage:\n      transport: http\n      url: {url}\n  steps:", 1))
    code, _report, out = run_pipeline(path)
    assert code == 0, out
    kinds = [(e["job"]["name"], e["eventType"]) for _, e in events]
    assert kinds == [
        ("quickstart", "START"),
        ("quickstart.transform", "START"), ("quickstart.transform", "COMPLETE"),
        ("quickstart", "COMPLETE"),
    ]
    assert all(p == "/api/v1/lineage" for p, _ in events)
    assert secret not in json.dumps(events)
    for _, event in events:
        jsonschema.validate(event, RUN_EVENT_SCHEMA)
    complete = events[-1][1]
    assert complete["run"]["runId"] == events[0][1]["run"]["runId"]
    source = complete["inputs"][0]
    assert source["namespace"] == "file"
    assert source["name"].endswith("data/customers.csv")
    assert [f["name"] for f in source["facets"]["schema"]["fields"]][:3] == [
        "id", "name", "email"]
    assertions = source["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert {(a["assertion"], a["column"], a["success"]) for a in assertions} == {
        ("null_check", "id", False), ("null_check", "email", False),
        ("format_check", "email", False)}
    sink = complete["outputs"][0]
    assert sink["namespace"].startswith("duckdb://") and sink["name"] == "customers"
    assert sink["outputFacets"]["outputStatistics"]["rowCount"] == 8
    dbt_complete = events[2][1]
    assert dbt_complete["run"]["facets"]["parent"]["run"]["runId"] == complete["run"]["runId"]
    assert {o["name"] for o in dbt_complete["outputs"]} == {"customers_by_country"}


def test_failed_run_is_recorded_and_announced(workdir: Path, run_pipeline) -> None:
    path = workdir / "broken.yaml"
    path.write_text((workdir / "csv_to_parquet.yaml").read_text().replace(
        "data/customers.csv", "data/none-*.csv"))
    code, _report, _out = run_pipeline(path)
    assert code == 2
    events = [json.loads(line) for line in
              (workdir / ".dteg" / "lineage" / "events.jsonl").read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert "no file matches" in events[1]["run"]["facets"]["errorMessage"]["message"]


def test_run_records_list_and_show(workdir: Path, run_pipeline, capsys) -> None:
    assert run_pipeline(workdir / "parquet_orders.yaml")[0] == 0
    assert run_pipeline(workdir / "duckdb_query.yaml")[0] == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["runs", "list", str(workdir)])
    assert exit_info.value.code in (0, None)
    listing = capsys.readouterr().out.splitlines()
    assert "duckdb_query" in listing[1] and "succeeded" in listing[1]
    assert "parquet_orders" in listing[2]
    run_id = listing[1].split()[0]
    with pytest.raises(SystemExit):
        main(["runs", "show", run_id, str(workdir)])
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "succeeded"
    assert record["rows_loaded"] == 366
    assert record["report"]["schemas"]["extract"][0] == {"name": "day_index", "type": "int64"}


def test_schema_drift_is_detected_recorded_and_alerted(workdir: Path, run_pipeline) -> None:
    data = workdir / "data" / "customers.csv"
    path = workdir / "csv_to_parquet.yaml"
    assert run_pipeline(path)[0] == 0
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0] + ",tier"] + [f"{line},gold" for line in lines[1:]])
                    + "\n")
    code, report, out = run_pipeline(path)
    assert code == 0, out
    assert report["schema_drift"] == [{"step": "extract", "added": ["tier"], "removed": [],
                                       "changed": []}]
    assert "schema changed since the last run: new column(s) ['tier']" in out
    alert = json.loads((workdir / ".dteg" / "alerts.jsonl").read_text().splitlines()[-1])
    assert alert["type"] == "schema_drift" and alert["added"] == ["tier"]
    complete = json.loads(
        (workdir / ".dteg" / "lineage" / "events.jsonl").read_text().splitlines()[-1])
    assert complete["run"]["facets"]["dteg_schemaDrift"]["changes"][0]["added"] == ["tier"]
