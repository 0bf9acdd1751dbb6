"""Contract tests: schemathesis generates requests from the OpenAPI document and sends them
to the real app (real store, real pipeline folder, runs that really ran, access control on).
With an admin's token no request gets a 5xx and every response matches the document
(status code, content type, schema); with a viewer scoped to `sales_*` no response holds
another pipeline's data."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server_api import CLEAN, Api, write_folder

pytestmark = pytest.mark.slow

# The app must exist when the tests are collected (schemathesis reads its routes then);
# its pipelines run once, before the first test.
_TMP = Path(tempfile.mkdtemp(prefix="dteg-contract-"))
_FOLDER = write_folder(_TMP / "pipelines")
(_FOLDER / "sales_orders.yaml").write_text(CLEAN.replace("name: customers", "name: sales_orders")
                                           .replace("out/customers.csv", "out/sales.csv"))
API = Api(_FOLDER, _TMP, auth=True)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", API.client.app)
HIDDEN: list[str] = []  # what the sales viewer must never see (filled by the fixture)
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def contract_api() -> Iterator[Api]:
    runs = {name: API.run_now(name) for name in ("customers", "fails", "sales_orders")}
    HIDDEN.extend([runs["customers"], runs["fails"], '"customers"', '"fails"',
                   '"downstream"', "pipeline:customers", "pipeline:fails"])
    TOKENS["admin"] = API.admin_headers()["Authorization"]
    TOKENS["sales"] = f"Bearer {API.token(('viewer', 'sales_*'), name='sales-viewer')}"
    yield API
    API.close()
    shutil.rmtree(_TMP, ignore_errors=True)


@schema.exclude(path_regex=r"/events$").parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_fails_the_server_or_the_document(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"Authorization": TOKENS["admin"]},
                           checks=[not_a_server_error, status_code_conformance,
                                   content_type_conformance, response_schema_conformance])


@schema.exclude(path_regex=r"/events$").exclude(method=["POST", "PUT", "PATCH", "DELETE"]
                                                ).parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_scoped_viewer_never_sees_another_scope(case: schemathesis.Case) -> None:
    answer = case.call(headers={"Authorization": TOKENS["sales"]})
    assert answer.status_code < 500, answer.text
    leaked = [h for h in HIDDEN if h in answer.text]
    assert not leaked, f"{case.method} {case.formatted_path} showed {leaked}: {answer.text[:300]}"


def test_the_event_stream_of_an_unknown_run_is_a_json_404(contract_api: Api) -> None:
    answer = contract_api.client.get("/api/v1/runs/nope/events",
                                     headers={"Authorization": TOKENS["admin"]})
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found"


def test_the_scoped_viewer_still_sees_its_own(contract_api: Api) -> None:
    listed = contract_api.client.get("/api/v1/runs", headers={
        "Authorization": TOKENS["sales"]}).json()["items"]
    assert [r["pipeline"] for r in listed] == ["sales_orders"]
