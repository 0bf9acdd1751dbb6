"""dteg as a library: load a pipeline and apply it inside someone else's Beam pipeline."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import duckdb
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

import dteg


def test_to_beam_runs_inside_an_existing_pipeline(workdir: Path) -> None:
    spec = dteg.load(workdir / "parquet_orders.yaml")
    # The phases add the sink every rejected record goes to.
    assert [s.name for s in spec.steps] == ["extract", "filter", "map", "load", "dead_letter"]
    with beam.Pipeline(runner=FnApiRunner()) as p:
        results = p | dteg.to_beam(spec)
        # The caller's own transforms can follow dteg's outputs.
        _ = results["load"] | beam.Map(lambda commit: commit.rows)
    con = duckdb.connect(str(workdir / ".dteg" / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM paid_orders").fetchall()[0][0] > 0


def test_load_reports_spec_errors_without_beam(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("pipeline:\n  name: x\n  steps:\n    - extract: {type: csvv}\n")
    try:
        dteg.load(path)
    except dteg.SpecError as exc:
        assert exc.location is not None and exc.location.line == 4
        assert "Did you mean `csv`" in str(exc)
    else:
        raise AssertionError("expected a SpecError")
