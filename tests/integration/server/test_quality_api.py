"""/api/v1/quality over real runs (the server's embedded executor, in this process): a
pipeline's runs with row counts, dead-letter rate and each rule's result per column with its
severity; a dataset's writes with freshness; the summary; scoped to what the caller may see."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dteg.server.quality_models import PipelineQuality
from tests.server_api import CLEAN, Api, write_folder

pytestmark = pytest.mark.slow

STRICT = CLEAN.replace("name: customers", "name: sales_strict").replace(
    "out/customers.csv", "out/sales.csv").replace(
    "  steps:", "    on_failure: fail\n  steps:")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("quality-api")
    folder = write_folder(tmp / "pipelines")
    (folder / "sales_strict.yaml").write_text(STRICT)
    handle = Api(folder, tmp, auth=True)
    handle.runs = [handle.run_now("customers"), handle.run_now("customers"),  # type: ignore[attr-defined]
                   handle.run_now("sales_strict")]
    yield handle
    handle.close()


def test_a_pipelines_runs_with_counts_and_rule_results(api: Api) -> None:
    answer = api.client.get("/api/v1/quality/pipelines/customers", headers=api.admin_headers())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    PipelineQuality.model_validate(body)  # the documented shape
    assert body["pipeline"] == "customers"
    assert [r["run_id"] for r in body["runs"]] == api.runs[:2]  # type: ignore[attr-defined]
    for run in body["runs"]:
        # The same counts the run's own record has.
        detail = api.client.get(f"/api/v1/runs/{run['run_id']}",
                                headers=api.admin_headers()).json()
        assert run["status"] == "succeeded"
        assert (run["rows_in"], run["loaded"], run["dead_lettered"]) == (4, 2, 2), detail
        assert run["dead_letter_rate"] == 0.5
        rules = {(r["rule"].split(":")[0] if ":" in r["rule"] else r["rule"], r["column"]):
                 r for r in run["rules"]}
        assert {c for _, c in rules} == {"email"}
        assert all(r["severity"] == "warn" for r in run["rules"])  # quarantine only flags
        assert sum(r["failed"] for r in run["rules"]) >= 2
        assert all(r["failed"] + r["passed"] == 4 for r in run["rules"])
        assert run["anomalies"] == []  # too few runs to judge
    limited = api.client.get("/api/v1/quality/pipelines/customers?limit=1",
                             headers=api.admin_headers()).json()
    assert [r["run_id"] for r in limited["runs"]] == api.runs[1:2]  # type: ignore[attr-defined]
    later = api.client.get("/api/v1/quality/pipelines/customers",
                           params={"since": body["runs"][1]["finished"]},
                           headers=api.admin_headers()).json()
    assert [r["run_id"] for r in later["runs"]] == api.runs[1:2]  # type: ignore[attr-defined]


def test_a_run_failed_by_a_fail_rule_is_recorded_as_failed(api: Api) -> None:
    body = api.client.get("/api/v1/quality/pipelines/sales_strict",
                          headers=api.admin_headers()).json()
    [run] = body["runs"]
    # on_failure: fail aborts the run inside Beam, before its counters are read: the
    # dashboard shows the failed run without counts (its error is in the run record).
    assert run["run_id"] == api.runs[2]  # type: ignore[attr-defined]
    assert run["status"] == "failed" and run["rows_in"] == 0


def test_a_datasets_writes_over_time(api: Api) -> None:
    listed = api.client.get("/api/v1/catalog", headers=api.admin_headers()).json()
    key = next(d["key"] for d in listed if d["key"].endswith("/out/customers.csv"))
    answer = api.client.get("/api/v1/quality/datasets", params={"name": key},
                            headers=api.admin_headers())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dataset"].endswith("/out/customers.csv")
    points = body["points"]
    assert [p["run_id"] for p in points] == api.runs[:2]  # type: ignore[attr-defined]
    assert [p["rows"] for p in points] == [2, 2]
    assert points[0]["freshness_s"] is None and points[1]["freshness_s"] >= 0
    assert all(p["schema_change"] is None and p["anomaly"] is None for p in points)
    missing = api.client.get("/api/v1/quality/datasets", params={"name": "nope::x"},
                             headers=api.admin_headers())
    assert missing.status_code == 404


def test_the_summary_is_scoped_to_what_the_caller_may_see(api: Api) -> None:
    body = api.client.get("/api/v1/quality/summary", headers=api.admin_headers()).json()
    by_name = {p["name"]: p for p in body["pipelines"]}
    customers = by_name["customers"]
    runs = api.client.get("/api/v1/quality/pipelines/customers",
                          headers=api.admin_headers()).json()["runs"]
    results = [r for run in runs for r in run["rules"]]
    assert customers["pass_rate"] == sum(r["failed"] == 0 for r in results) / len(results)
    assert customers["dead_letter_rate"] == 0.5
    assert customers["last_run"] == runs[-1]["finished"]
    assert by_name["downstream"]["last_run"] is None  # never ran: listed, nothing measured
    viewer = {"Authorization": f"Bearer {api.token(('viewer', 'sales_*'))}"}
    scoped = api.client.get("/api/v1/quality/summary", headers=viewer).json()
    assert [p["name"] for p in scoped["pipelines"]] == ["sales_strict"]
    refused = api.client.get("/api/v1/quality/pipelines/customers", headers=viewer)
    assert refused.status_code in (403, 404)
    assert api.client.get("/api/v1/quality/summary").status_code == 401
