"""The governance pages in the browser, after real runs of the example pipelines on a server of
this module's own (an erasure changes its datasets; a pipeline with `retention:` is added):
the catalog lists the datasets with the API's PII classes, a dataset's page shows its
columns, profile and row counts, the compliance page lists the PII inventory and retention,
an admin files an erasure whose receipt appears while a viewer sees no form and is refused by
the API, and the quality page shows the API's numbers. Screenshots of each page."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import WAIT_S, Server, running_server, scenario_runner
from tests.integration.orchestrator.server_process import wait_for

# A DuckDB load (the retention job deletes its old rows) and a JSON Lines one (it cannot).
KEEP = """\
pipeline:
  name: keep_customers
  owners: [privacy-team@example.com]
  retention:
    column: signup_date
    keep: 400d
  security:
    data_masking: {email: hash}
    masking_key: ${env:DTEG_MASKING_KEY:-quickstart-demo-key}
  steps:
    - extract:
        type: csv
        config: {path: data/customers.csv}
    - load:
        name: warehouse
        type: duckdb
        config: {database: .dteg/kept.duckdb, table: customers, mode: replace}
    - load:
        name: export
        input: extract
        type: jsonl
        config: {path: out/kept_customers.jsonl}
"""
RUN = ["quickstart", "csv_to_parquet", "jsonl_events", "keep_customers"]
SUBJECT = "email=minji.kim@example.com"  # in data/customers.csv: loaded hashed by quickstart


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory, node: str, artifacts: Path
          ) -> Iterator[Server]:
    """This module's server, before any run."""
    with running_server(tmp_path_factory.mktemp("governance"), artifacts,
                        log_name="governance-server.log") as server:
        (server.folder / "keep_customers.yaml").write_text(KEEP)
        wait_for(lambda: any(p["name"] == "keep_customers"
                             for p in server.api.get("/pipelines")["items"]),
                 "the server to serve keep_customers.yaml", timeout=WAIT_S,
                 log=server.process.log)
        yield server


@pytest.fixture(scope="module")
def empty(fresh: Server, chromium: str, node: str, artifacts: Path) -> dict[str, Any]:
    """What the pages show before the first run."""
    result: dict[str, Any] = scenario_runner(fresh, chromium, node, artifacts)(
        "governance_empty")
    return result


@pytest.fixture(scope="module")
def gov(fresh: Server, empty: dict[str, Any]) -> Server:
    """The server after real runs (the empty pages were looked at first)."""
    # One worker runs them in turn; quickstart twice, so its datasets have a history.
    ids = [fresh.api.trigger(name) for name in [*RUN, "quickstart"]]
    for run_id in ids:
        run = fresh.wait_finished(run_id)
        assert run["status"] == "succeeded", run
    return fresh


@pytest.fixture(scope="module")
def page(gov: Server, chromium: str, node: str, artifacts: Path) -> Any:
    return scenario_runner(gov, chromium, node, artifacts)


def _pii(dataset: dict[str, Any]) -> dict[str, list[str]]:
    protection = {c["name"]: c["protection"] or "" for c in dataset["columns"]}
    return {c: [k, protection.get(c, "")] for c, k in dataset["pii_classes"].items()}


def test_the_catalog_lists_the_datasets_with_the_apis_pii_classes(page: Any,
                                                                   gov: Server) -> None:
    listed = gov.api.get("/catalog")
    warehouse = next(d for d in listed if d["key"].endswith(".dteg/warehouse.duckdb::customers"))
    source = next(d for d in listed if d["key"].endswith("/data/customers.csv"))
    result = page("catalog", key=warehouse["key"], source=source["key"])
    assert {r["key"]: r["pii"] for r in result["rows"]} == {d["key"]: _pii(d) for d in listed}
    assert result["piiOnly"] == sorted(d["key"] for d in gov.api.get("/catalog?pii=true"))
    assert result["piiOnly"]
    # quickstart hashes email and keeps the last 4 digits of phone; name is stored as is.
    assert _pii(warehouse) == {"email": ["email", "hash"], "phone": ["phone", "partial"],
                               "name": ["person_name", ""]}
    detail = gov.api.get("/catalog/detail?" + urllib.parse.urlencode({"key": warehouse["key"]}))
    dataset = result["dataset"]
    assert dataset["columns"] == {c["name"]: [c["pii"] or "", c["protection"] or ""]
                                  for c in detail["columns"]}
    assert dataset["writers"] == sorted({u["pipeline"] for u in detail["users"]
                                         if u["role"] == "write"}) == ["quickstart"]
    assert dataset["rows"] == f"{detail['last_rows']:,}"
    quality = gov.api.get("/catalog/quality?" + urllib.parse.urlencode({"key": warehouse["key"]}))
    assert dataset["volumePoints"] == len(quality["volume"]) == 2
    # The source's page carries a profile (it is taken where a pipeline reads).
    source = result["source"]
    assert source["profiled"] and source["nullShare"]["email"].endswith("%")


def test_the_compliance_page_lists_the_inventory_and_an_admin_erases(page: Any,
                                                                     gov: Server) -> None:
    report = gov.api.get("/privacy/report")
    result = page("compliance", subject=SUBJECT)
    assert {r["key"]: r["pii"] for r in result["inventory"]} == {
        d["dataset"]: {c: [k, d["protection"].get(c) or ""] for c, k in d["columns"].items()}
        for d in report["datasets"]}
    retention = {(r["pipeline"], r["step"]): r["status"] for r in report["retention"]}
    assert {(r["pipeline"], r["step"]): r["status"] for r in result["retention"]} == retention
    assert retention[("keep_customers", "warehouse")] == "enforced"
    assert retention[("keep_customers", "export")] == "not_enforced"
    assert retention[("quickstart", "load")] == "not_set"
    assert "cannot delete rows in place" in result["reasons"]["keep_customers.export"]
    assert "erase every row" in result["confirmText"].lower()
    # The receipt the page shows is the audit log's, and the subject's value is nowhere.
    request = next(r for r in gov.api.get("/privacy/requests")
                   if r["request_id"] == result["requestId"])
    assert result["receipts"] == [[r["dataset"], r["status"]] for r in request["receipts"]]
    erased = {r["dataset"]: r["rows"] for r in request["receipts"] if r["status"] == "erased"}
    assert any(k.endswith("warehouse.duckdb::customers") for k in erased), request
    assert all(rows == 1 for rows in erased.values()), erased
    assert "minji.kim" not in str(request) and "minji.kim" not in result["requestsText"]


def test_a_viewer_sees_the_inventory_but_no_erasure_form_and_the_api_refuses(
        page: Any, gov: Server) -> None:
    result = page("compliance_viewer", user=gov.user("viewer"), subject=SUBJECT)
    assert result["inventory"] == len(gov.api.get("/privacy/report")["datasets"]) > 0
    assert result["forms"] == 0 and "audit.read" in result["requestsNote"]
    assert result["erase"]["status"] == 403, result["erase"]
    assert "privacy.erase" in result["erase"]["body"]["error"]["message"]
    assert not {"nav-audit", "nav-admin"} & set(result["navLinks"])
    assert {"nav-catalog", "nav-quality", "nav-compliance"} <= set(result["navLinks"])


def test_the_quality_page_shows_the_apis_numbers(page: Any, gov: Server) -> None:
    listed = gov.api.get("/catalog")
    warehouse = next(d["key"] for d in listed
                     if d["key"].endswith(".dteg/warehouse.duckdb::customers"))
    result = page("quality", pipeline="quickstart", dataset=warehouse)
    summary = {p["name"]: p for p in gov.api.get("/quality/summary")["pipelines"]}
    assert set(result["pipelines"]) == set(summary) == {
        p["name"] for p in gov.api.get("/pipelines")["items"]}

    def number(text: str) -> float | None:  # a data attribute: JS's text of the number
        return None if text == "" else float(text)

    for name, shown in result["pipelines"].items():
        api = summary[name]
        assert (number(shown["pass_rate"]), number(shown["dead_letter_rate"]),
                int(shown["anomalies"])) == (api["pass_rate"], api["dead_letter_rate"],
                                             api["anomalies"]), name
    assert summary["quickstart"]["dead_letter_rate"] and summary["quickstart"]["pass_rate"] == 0
    runs = gov.api.get("/quality/pipelines/quickstart")["runs"]
    assert [r["id"] for r in result["runs"]] == [r["run_id"] for r in reversed(runs)]
    for shown, run in zip(result["runs"], reversed(runs), strict=True):
        assert (shown["read"], shown["loaded"], shown["dead"]) == (
            str(run["rows_in"]), str(run["loaded"]), str(run["dead_lettered"]))
        assert shown["rate"] == f"{100 * run['dead_letter_rate']:.1f} %"
    last = {f"{r['step']} · {r['rule']}" + (f" · {r['column']}" if r["column"] else ""):
            [r["severity"], str(r["failed"]), str(r["passed"])] for r in runs[-1]["rules"]}
    assert result["rules"] == last and len(last) >= 2, result["rules"]
    quality = gov.api.get("/catalog/quality?" + urllib.parse.urlencode({"key": warehouse}))
    assert result["datasets"][warehouse] == {"anomalies": str(quality["anomalies"]),
                                             "changes": str(len(quality["schema_changes"]))}
    history = gov.api.get("/quality/datasets?" + urllib.parse.urlencode({"name": warehouse}))
    assert result["freshnessPoints"] == sum(
        p["freshness_s"] is not None for p in history["points"]) == 1


def test_before_any_run_the_pages_say_what_to_do(empty: dict[str, Any],
                                                  fresh: Server) -> None:
    assert "the catalog fills itself when a pipeline runs" in empty["catalog"]
    assert "appear after a pipeline" in empty["qualityDatasets"]
    assert set(empty["rules"]) == {"no rules"}
    assert "nothing has run yet" in empty["inventory"]
    assert "No data-subject request yet" in empty["requests"]
    # Retention is read from the pipeline files, so it shows before any run.
    assert empty["retention"] == len(fresh.api.get("/privacy/report")["retention"]) > 0


def test_an_unknown_dataset_shows_the_apis_error(page: Any, gov: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as answer:
        gov.api.get("/catalog/detail?key=nope%3A%3Agone")
    error = json.loads(answer.value.read())["error"]
    result = page("error_state", path="/catalog/dataset/?key=nope%3A%3Agone",
                  shot="catalog-dataset-error")
    assert result["message"] == error["message"] and error["hint"] in (result["hint"] or "")
