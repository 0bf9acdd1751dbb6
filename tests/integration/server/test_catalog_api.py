"""/api/v1/catalog over real runs (the server's embedded executor, in this process): the
datasets the runs read and wrote with PII classes and protection, search, detail with
history; a scoped viewer sees only the datasets of its pipelines, restricted ones not at
all; no token, no catalog."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from tests.integration.server.test_access_control import RESTRICTED
from tests.server_api import CLEAN, Api, write_folder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("catalog-api")
    folder = write_folder(tmp / "pipelines")
    (folder / "sales_orders.yaml").write_text(
        CLEAN.replace("name: customers", "name: sales_orders").replace(
            "out/customers.csv", "out/sales.csv"))
    (folder / "payroll.yaml").write_text(RESTRICTED)
    handle = Api(folder, tmp, auth=True)
    for name in ("customers", "sales_orders", "payroll"):
        handle.run_now(name)
    yield handle
    handle.close()


def _keys(items: Iterable[dict]) -> set[str]:
    return {d["key"].rsplit("/", 1)[-1] for d in items}


def test_the_catalog_lists_what_the_runs_read_and_wrote(api: Api) -> None:
    listed = api.client.get("/api/v1/catalog", headers=api.admin_headers())
    assert listed.status_code == 200, listed.text
    names = _keys(listed.json())
    assert {"customers.csv", "sales.csv", "payroll.csv"} <= names
    raw = next(d for d in listed.json() if d["key"].endswith("/customers.csv") and
               d["last_read"])
    assert raw["pii_classes"].get("email") == "email"
    loaded = next(d for d in listed.json() if d["key"].endswith("/out/customers.csv"))
    email = next(c for c in loaded["columns"] if c["name"] == "email")
    assert email["pii"] == "email" and email["protection"] == "hash"
    assert loaded["last_written"] and loaded["last_rows"] == 2


def test_search_pii_filter_and_detail(api: Api) -> None:
    headers = api.admin_headers()
    found = api.client.get("/api/v1/catalog?q=payroll", headers=headers).json()
    assert _keys(d for d in found if not d["dead_letter"]) == {"payroll.csv"}
    assert all("payroll" in d["key"] for d in found)
    pii = api.client.get("/api/v1/catalog?pii=true", headers=headers).json()
    assert pii and all(d["pii_classes"] for d in pii)
    key = next(d["key"] for d in pii if d["key"].endswith("/out/sales.csv"))
    detail = api.client.get("/api/v1/catalog/detail", params={"key": key}, headers=headers)
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert [(u["pipeline"], u["role"]) for u in body["users"]] == [("sales_orders", "write")]
    assert body["schema_history"][0]["version"] == 1
    assert body["runs"][0]["rows"] == 2
    missing = api.client.get("/api/v1/catalog/detail", params={"key": "nope::x"},
                             headers=headers)
    assert missing.status_code == 404 and "GET /api/v1/catalog" in missing.text


def test_a_scoped_viewer_sees_only_its_pipelines_datasets(api: Api) -> None:
    token = api.token(("viewer", "sales_*"))
    headers = {"Authorization": f"Bearer {token}"}
    names = _keys(api.client.get("/api/v1/catalog", headers=headers).json())
    assert "sales.csv" in names
    assert "payroll.csv" not in names and not any(n.endswith("out/customers.csv")
                                                  for n in names)
    everywhere = {"Authorization": f"Bearer {api.token(('viewer', '*'))}"}
    names = _keys(api.client.get("/api/v1/catalog", headers=everywhere).json())
    assert "payroll.csv" not in names  # restricted: only a role scoped to it shows it
    payroll = next(d["key"] for d in api.client.get(
        "/api/v1/catalog?q=payroll", headers=api.admin_headers()).json())
    assert api.client.get("/api/v1/catalog/detail", params={"key": payroll},
                          headers=everywhere).status_code == 404
    assert api.client.get("/api/v1/catalog").status_code == 401


def test_dataset_quality_has_volume_anomalies_and_schema_changes(api: Api) -> None:
    headers = api.admin_headers()
    key = next(d["key"] for d in api.client.get("/api/v1/catalog?q=sales",
                                                headers=headers).json()
               if d["key"].endswith("/out/sales.csv"))
    for _ in range(5):
        api.run_now("sales_orders")
    answer = api.client.get("/api/v1/catalog/quality", params={"key": key}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [p["rows"] for p in body["volume"]] == [2] * 6
    assert body["anomalies"] == 0 and body["volume"][-1]["median"] == 2
    assert body["schema_changes"] == [] and body["last_written"]
    assert api.client.get("/api/v1/catalog/quality", params={"key": key}).status_code == 401


def test_erasure_is_admin_only_audited_and_removes_the_subject(api: Api) -> None:
    editor = {"Authorization": f"Bearer {api.token(('editor', '*'))}"}
    body = {"subject": "email=ada@example.com"}
    assert api.client.post("/api/v1/privacy/erase", json=body,
                           headers=editor).status_code == 403
    answer = api.client.post("/api/v1/privacy/erase", json=body, headers=api.admin_headers())
    assert answer.status_code == 200, answer.text
    result = answer.json()
    # These pipelines load CSV files, which cannot delete rows in place: each dataset's
    # receipt says so (the row stores are erased by tests/integration/governance).
    by_pipeline = {r["pipeline"]: r for r in result["receipts"]}
    assert {"customers", "sales_orders", "payroll"} <= set(by_pipeline)
    assert by_pipeline["customers"]["status"] == "unsupported"
    assert "cannot delete rows in place" in by_pipeline["customers"]["message"]
    assert result["complete"] is False
    entries = [e for e in api.auth.audit.entries() if e.action == "privacy.erase"]
    receipts = [e for e in entries if e.detail and e.detail.get("request_id") ==
                result["request_id"]]
    assert len(receipts) == len(result["receipts"])
    assert any(e.result == "denied" for e in entries)  # the editor's attempt
    assert "ada@example.com" not in str([e.detail for e in entries])


def test_the_privacy_report_has_the_inventory_and_every_loads_retention(api: Api) -> None:
    answer = api.client.get("/api/v1/privacy/report", headers=api.admin_headers())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    loaded = next(d for d in body["datasets"] if d["dataset"].endswith("/out/customers.csv"))
    assert loaded["columns"]["email"] == "email" and loaded["protection"]["email"] == "hash"
    assert loaded["writers"] == ["customers"] and loaded["retention"] == "not set"
    assert all(d["columns"] for d in body["datasets"])  # the inventory: personal data only
    rows = {(r["pipeline"], r["step"]): r for r in body["retention"]}
    assert {"customers", "sales_orders", "payroll"} <= {p for p, _ in rows}
    customers = next(r for (p, _), r in rows.items() if p == "customers")
    assert customers["status"] == "not_set" and customers["dataset"] == loaded["dataset"]
    scoped = {"Authorization": f"Bearer {api.token(('viewer', 'sales_*'))}"}
    seen = api.client.get("/api/v1/privacy/report", headers=scoped).json()
    assert {r["pipeline"] for r in seen["retention"]} == {"sales_orders"}
    assert seen["datasets"] and all("sales" in d["dataset"] or "sales_orders" in
                                    d["recipients"] for d in seen["datasets"])
    assert api.client.get("/api/v1/privacy/report").status_code == 401


def test_recent_requests_list_the_receipts_without_the_subject(api: Api) -> None:
    headers = api.admin_headers()
    erased = api.client.post("/api/v1/privacy/erase", json={"subject": "email=bo@example.com"},
                             headers=headers).json()
    answer = api.client.get("/api/v1/privacy/requests", headers=headers)
    assert answer.status_code == 200, answer.text
    newest = answer.json()[0]
    assert newest["request_id"] == erased["request_id"] and newest["kind"] == "erase"
    assert newest["actor"] == "user:admin" and newest["complete"] is erased["complete"]
    assert [(r["dataset"], r["status"], r["rows"]) for r in newest["receipts"]] == [
        (r["dataset"], r["status"], r["rows"]) for r in erased["receipts"]]
    assert "bo@example.com" not in answer.text
    viewer = {"Authorization": f"Bearer {api.token(('viewer', '*'))}"}
    assert api.client.get("/api/v1/privacy/requests", headers=viewer).status_code == 403
