"""The dteg-component.yaml model: the component standard, errors with lines, the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dteg.errors import SpecError
from dteg.marketplace.manifest import Manifest, load_manifest, manifest_json_schema, parse_manifest


def _data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "kafka-extractor", "version": "1.2.0", "author": "dteg", "kind": "extractor",
        "description": "Kafka topics", "category": "streaming", "package": "dteg-kafka-extractor",
        "provides": [{"kind": "source", "name": "kafka-extractor"}],
        "compatibility": {"framework_versions": ">=0.1,<1", "python_versions": ">=3.10"},
        "performance": {"min_rows_per_second": 5000},
        "allowed_hosts": ["broker.example:9092", "*.kafka.example"],
        "breaking_changes": [{"version": "1.0.0", "change": "renamed `topic` to `topics`",
                              "migration": "write `topics: [x]`"}],
    }
    data.update(changes)
    return data


def test_the_standard_with_defaults() -> None:
    m = parse_manifest(_data())
    assert m.pricing.tier == "free"
    assert m.quality_gates.required.test_coverage == 80
    assert m.quality_gates.optional.community_rating == 4.0
    assert m.documentation.troubleshooting == "docs/troubleshooting.md"
    assert m.compatibility.accepts("0.1.0", "3.11.4") == []
    assert m.compatibility.accepts("1.0.0", "3.9.0") == [
        "needs dteg >=0.1,<1, this is dteg 1.0.0", "needs Python >=3.10, this is Python 3.9.0"]


def test_breaking_changes_between_versions_and_hosts() -> None:
    m = parse_manifest(_data(breaking_changes=[
        {"version": "1.0.0", "change": "a", "migration": "x"},
        {"version": "1.2.0", "change": "b", "migration": "y"}]))
    assert [c.change for c in m.breaking_between("0.9.0", "1.2.0")] == ["a", "b"]
    assert [c.change for c in m.breaking_between("1.0.0", "1.2.0")] == ["b"]
    assert m.host_allowed("a.kafka.example") and m.host_allowed("broker.example", 9092)
    assert not m.host_allowed("broker.example", 9093) and not m.host_allowed("evil.example")


@pytest.mark.parametrize(("change", "message"), [
    ({"version": "1.0"}, "`1.0` is not a semantic version"),
    ({"name": "Kafka Extractor"}, "is not a component name"),
    ({"kind": "loader"}, "a loader provides sink components, not a source"),
    ({"quality_gates": {"required": {"test_coverage": 60}}}, "greater than or equal to 80"),
    ({"compatibility": {"framework_versions": "0.1+"}}, "is not a version range"),
    ({"allowed_hosts": ["http://x/y"]}, "is not a host"),
    ({"breaking_changes": [{"version": "2.0.0", "change": "c", "migration": "m"}]},
     "newer than this version"),
])
def test_bad_manifests_say_what(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_manifest(_data(**change))


def test_errors_name_the_line(tmp_path: Path) -> None:
    data = _data()
    data["performance"] = {"min_rows_per_second": -1}
    (tmp_path / "dteg-component.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(SpecError) as err:
        load_manifest(tmp_path)
    assert err.value.location is not None
    lines = (tmp_path / "dteg-component.yaml").read_text().splitlines()
    assert "min_rows_per_second" in lines[err.value.location.line - 1]


def test_missing_manifest_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="dteg create connector"):
        load_manifest(tmp_path)


def test_json_schema_accepts_good_and_refuses_bad() -> None:
    schema = manifest_json_schema()
    json.dumps(schema)
    jsonschema.validate(_data(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_data(kind="widget"), schema)
    assert set(schema["required"]) >= {"name", "version", "author", "compatibility"}
    assert Manifest.model_fields.keys() == schema["properties"].keys()
