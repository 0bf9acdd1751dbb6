"""salesforce-loader's own tests: it registers under its name with the Salesforce sink's
capabilities and config, and loads Contacts through dteg's Salesforce writer into the org at
$DTEG_SALESFORCE_LOGIN_URL (``eval "$(scripts/services/salesforce env)"``: the stand-in)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from dteg_salesforce_loader import COMPONENT
from dteg_salesforce_loader.config import SinkConfig
from dteg_salesforce_loader.perf import NAMES, login

from dteg.connectors.salesforce.config import SinkConfig as SalesforceConfig
from dteg.testing import context


def test_component_is_a_salesforce_sink() -> None:
    assert COMPONENT.name == "salesforce-loader" and COMPONENT.kind == "sink"
    assert COMPONENT.capabilities.write_modes == ("append", "merge")
    assert COMPONENT.config_model() is SalesforceConfig is SinkConfig


def test_config_validates_like_the_built_in() -> None:
    settings = SinkConfig.model_validate({"api_version": "v53.0", "object_name": "Contact",
                                          "operation": "upsert",
                                          "external_id_field": "External_Id__c",
                                          "fields": {"id": "External_Id__c"}})
    assert settings.write_mode() == "merge"
    with pytest.raises(ValueError, match="needs `external_id_field:`"):
        SinkConfig.model_validate({"object_name": "Contact", "operation": "upsert"})


def test_perf_setup_needs_the_org(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match="scripts/services/salesforce"):
        login([], tmp_path)


def test_loads_contacts_through_the_component(tmp_path: Path) -> None:
    if not all(os.environ.get(n) for n in NAMES):
        pytest.fail("the load test needs a Salesforce: eval \"$(scripts/services/salesforce "
                    "env)\"")
    values = login([], tmp_path)
    key = uuid.uuid4().hex[:8]
    config = SinkConfig.model_validate({
        "login_url": values["login_url"], "object_name": "Contact", "operation": "upsert",
        "external_id_field": "External_Id__c", "poll_initial_seconds": 0.05,
        "auth": {"type": "client_credentials", "client_id": values["client_id"],
                 "client_secret": values["client_secret"]},
        "fields": {"key": "External_Id__c", "name": "LastName", "skip": None}})
    writer = COMPONENT.load_factory()(config, context(tmp_path))
    part = writer.open_part("p0")
    part.write(pa.record_batch({"key": [f"{key}-1", f"{key}-2"], "name": ["A", "B"],
                                "skip": ["x", "y"]}))
    result = part.close()
    assert result is not None
    committed = writer.commit([result])
    assert committed.rows == 2 and committed.dead_lettered == 0
