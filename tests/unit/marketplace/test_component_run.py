"""The performance test's standard input and its config placeholders, including a source's
own setup hook (`performance.setup`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.marketplace.component_run import _config, standard_batches
from dteg.marketplace.manifest import parse_manifest


def prepare(batches: list[pa.RecordBatch], work: Path) -> dict[str, Any]:
    """A setup hook as a Kafka source would write one: put the rows somewhere, say where."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "topic.json").write_text(json.dumps(sum(b.num_rows for b in batches)))
    return {"topic": "perf-topic", "rows": sum(b.num_rows for b in batches)}


def _manifest(performance: dict[str, Any]) -> Any:
    return parse_manifest({
        "name": "x", "version": "0.1.0", "author": "a", "description": "d", "kind": "extractor",
        "category": "c", "package": "dteg-x", "provides": [{"kind": "source", "name": "x"}],
        "compatibility": {"framework_versions": ">=0.1"}, "performance": performance})


def test_standard_input_is_deterministic() -> None:
    batches = standard_batches(25_000)
    assert [b.num_rows for b in batches] == [10_000, 10_000, 5_000]
    assert batches[0].schema.names == ["id", "name", "amount", "created_at"]
    assert standard_batches(25_000)[2].equals(batches[2])


def test_placeholders_and_setup_hook(tmp_path: Path) -> None:
    m = _manifest({"rows": 2_000, "min_rows_per_second": 1, "setup":
                   "tests.unit.marketplace.test_component_run:prepare",
                   "config": {"path": "{input}", "out": ["{output}"], "topic": "{topic}",
                              "n": "{rows}", "keep": 3}})
    config = _config(m, tmp_path, "perf", 2_000)
    assert config["topic"] == "perf-topic" and config["n"] == "2000" and config["keep"] == 3
    assert config["out"] == [str(tmp_path / "perf" / "output")]
    assert len(Path(config["path"]).read_text().splitlines()) == 2_000
    assert json.loads((tmp_path / "perf" / "topic.json").read_text()) == 2_000
