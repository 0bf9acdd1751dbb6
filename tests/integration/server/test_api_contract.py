"""Contract tests: schemathesis generates requests from the committed OpenAPI document and
sends them to the real app (real store, real pipeline folder, runs that really ran); no
request gets a 5xx, and every response matches the document (status code, content type,
schema)."""

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

from tests.server_api import Api, write_folder

pytestmark = pytest.mark.slow

# The app must exist when the tests are collected (schemathesis reads its routes then);
# its pipelines run once, before the first test.
_TMP = Path(tempfile.mkdtemp(prefix="dteg-contract-"))
API = Api(write_folder(_TMP / "pipelines"), _TMP)
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", API.client.app)


@pytest.fixture(scope="module", autouse=True)
def contract_api() -> Iterator[Api]:
    API.run_now("customers")
    API.run_now("fails")
    yield API
    API.close()
    shutil.rmtree(_TMP, ignore_errors=True)


@schema.exclude(path_regex=r"/events$").parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_fails_the_server_or_the_document(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                   content_type_conformance, response_schema_conformance])


def test_the_event_stream_of_an_unknown_run_is_a_json_404(contract_api: Api) -> None:
    answer = contract_api.client.get("/api/v1/runs/nope/events")
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "not_found"
