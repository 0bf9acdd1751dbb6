"""The committed OpenAPI document matches the code; every route names the action it
performs (the one place authorization decides, issue #15); errors are JSON with a type."""

from __future__ import annotations

import json

from dteg.server.access import ACTIONS, MUTATING, declared_routes
from dteg.server.openapi import COMMITTED, document, render
from tests.server_api import Api


def test_the_committed_document_is_the_generated_one() -> None:
    generated = render(document())
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    assert committed == generated, (
        "docs/openapi.json differs from the API's code: run `make openapi` and commit it")


def test_every_api_route_declares_its_action(api: Api) -> None:
    routes = [r for r in declared_routes(api.client.app) if r.path.startswith("/api/v1")
              and not r.path.startswith(("/api/v1/openapi.json", "/api/v1/docs"))]
    assert len(routes) >= 20, routes
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if len(r.actions) != 1]
    assert not missing, f"routes without exactly one requires(action): {missing}"
    wrong = [f"{r.path}: {r.actions[0]}" for r in routes
             if r.mutates and not r.public
             and r.actions[0] not in MUTATING | {"pipelines.validate"}]
    assert not wrong, f"mutating routes with a read action: {wrong}"
    assert set(ACTIONS) >= MUTATING


def test_errors_are_json_with_a_type(api: Api) -> None:
    cases = {
        ("get", "/api/v1/pipelines/nope"): (404, "not_found"),
        ("get", "/api/v1/runs/nope"): (404, "not_found"),
        ("get", "/api/v1/runs?limit=0"): (422, "invalid_request"),
        ("get", "/api/v1/runs?cursor=garbage"): (422, "invalid_request"),
        ("get", "/api/v1/runs?since=2026-01-01T00:00:00"): (422, "invalid_request"),
        ("delete", "/api/v1/pipelines/customers"): (405, "method_not_allowed"),
        ("get", "/api/v1/nothing-here"): (404, "not_found"),
        ("post", "/api/v1/pipelines/validate"): (422, "invalid_request"),
    }
    for (method, path), (status, kind) in cases.items():
        answer = getattr(api.client, method)(path)
        assert answer.status_code == status, (path, answer.text)
        body = answer.json()
        assert body["error"]["type"] == kind, (path, body)
        assert body["error"]["message"], path


def test_the_document_is_valid_openapi_json() -> None:
    doc = json.loads(render(document()))
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/runs/{run_id}/events" in doc["paths"]
    assert "text/event-stream" in json.dumps(doc["paths"]["/api/v1/runs/{run_id}/events"])
