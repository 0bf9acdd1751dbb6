"""Run reports and records: per-sink reconciliation, a source's read count, and a run that
fails after Beam counted its rows (its record and --report-json keep the counts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dteg.components.plan import RunPlan
from dteg.run.events import Committed, RunEvent, RunListener
from dteg.run.lifecycle import execute, report_dict
from dteg.run.records import ReportFile, RunRecords, SqliteRunStore
from dteg.run.report import RunReport, StepCounts
from dteg.spec.phases import compile_spec

FAN_OUT = """
pipeline:
  name: fan
  steps:
    - extract: {name: orders, type: csv, config: {path: orders.csv}}
    - validate:
        name: valid
        input: orders
        rules: [{type: null_check, column: id, on_failure: quarantine}]
    - load:
        name: all_orders
        input: valid
        type: jsonl
        config: {path: out/all.jsonl}
    - filter: {name: refunds, input: orders, where: "status = 'refunded'"}
    - load:
        name: refunds_file
        input: refunds
        type: jsonl
        config: {path: out/refunds.jsonl}
"""


def _report(loaded_all: int = 9, loaded_refunds: int = 3) -> RunReport:
    return RunReport(
        pipeline="fan", run_id="r1", runner="direct", seconds=1.0, dead_letter_target="",
        dead_lettered_stored=0, steps=[
            StepCounts("orders", "extract", rows_out=10),
            StepCounts("valid", "transform", rows_in=10, rows_out=9, dead_letter=1),
            StepCounts("all_orders", "load", rows_in=9, loaded=loaded_all),
            StepCounts("refunds", "transform", rows_in=10, rows_out=3, filtered=7),
            StepCounts("refunds_file", "load", rows_in=3, loaded=loaded_refunds),
        ])


@pytest.fixture
def spec(tmp_path: Path):
    (tmp_path / "orders.csv").write_text("id,status\n1,refunded\n")
    return compile_spec(tmp_path / "fan.yaml", text=FAN_OUT)


def test_a_fan_out_run_reconciles_each_sink_with_its_own_path(spec) -> None:
    report = _report()
    balances = {b.sink: b for b in report.balances(spec)}
    assert balances["all_orders"].read == 10 and balances["all_orders"].dead_lettered == 1
    assert balances["refunds_file"].filtered == 7 and balances["refunds_file"].loaded == 3
    assert report.reconciles(spec) is True
    text = report.render(spec)
    assert "all_orders: counts reconcile: read 10 = loaded 9 + dead-lettered 1" in text
    assert "refunds_file: counts reconcile: read 10 = loaded 3 + dead-lettered 0 + " \
        "filtered 7" in text


def test_a_sink_that_lost_rows_does_not_reconcile(spec) -> None:
    report = _report(loaded_refunds=2)
    assert report.reconciles(spec) is False
    assert "WARNING: refunds_file: counts do not reconcile (read 10 ≠ 9" in report.render(spec)
    by_sink = {b["sink"]: b["reconciles"] for b in report_dict(report, spec)["reconciliation"]}
    assert by_sink == {"all_orders": True, "refunds_file": False}


def test_a_source_reports_its_read_count_as_its_input_in_json_and_text(spec) -> None:
    report = _report()
    report.steps[0].dead_letter = 2
    steps = {s["name"]: s for s in report_dict(report, spec)["steps"]}
    assert steps["orders"]["rows_in"] == 12
    line = next(x for x in report.render(spec).splitlines() if x.strip().startswith("orders"))
    assert line.split()[1] == "12"


class _FailsAfterCommit(RunListener):
    """Stands in for any failure after the loads committed (a dbt step, a state save)."""

    def on_event(self, event: RunEvent) -> None:
        if isinstance(event, Committed):
            raise RuntimeError("boom after the loads")


def test_a_run_failing_after_its_loads_keeps_counts_in_its_record_and_json(
        spec, tmp_path: Path) -> None:
    store = SqliteRunStore(tmp_path / "runs.sqlite")
    out = tmp_path / "report.json"
    with pytest.raises(Exception, match="boom after the loads"):
        execute(spec, RunPlan(run_id="r1"), launch=lambda _spec, _plan: _report(),
                listeners=[RunRecords(store), _FailsAfterCommit(), ReportFile(out)])
    record = store.get("r1")
    assert record is not None and record.status == "failed"
    assert (record.rows_read, record.rows_loaded, record.rows_dead_lettered,
            record.rows_filtered) == (10, 12, 1, 7)
    assert record.report is not None and record.report["reconciles"] is True
    written = json.loads(out.read_text())
    assert written["status"] == "failed" and "boom after the loads" in written["error"]
    assert written["loaded"] == 12


def test_report_json_is_written_for_a_run_that_failed_before_counting(
        spec, tmp_path: Path) -> None:
    out = tmp_path / "report.json"

    def launch(_spec, _plan):
        raise RuntimeError("the runner fell over")

    store = SqliteRunStore(tmp_path / "runs.sqlite")
    with pytest.raises(Exception, match="the runner fell over"):
        execute(spec, RunPlan(run_id="r2"), launch=launch,
                listeners=[RunRecords(store), ReportFile(out)])
    written = json.loads(out.read_text())
    assert written["status"] == "failed" and written["run_id"] == "r2"
    assert "the runner fell over" in written["error"]
    record = store.get("r2")
    assert record is not None and record.status == "failed" and record.rows_read is None


def test_the_summary_counts_one_loaded_row_in_the_singular(tmp_path) -> None:
    from dteg.spec.phases import compile_spec

    (tmp_path / "one.csv").write_text("id\n1\n")
    spec = compile_spec(tmp_path / "p.yaml", text="""pipeline:
  name: p
  steps:
    - extract: {type: csv, config: {path: one.csv}}
    - load: {type: jsonl, config: {path: out.jsonl}}
""", environ={})
    report = RunReport(pipeline="p", run_id="r", runner="direct", seconds=1.0,
                       steps=[StepCounts("extract", "extract", rows_out=1),
                              StepCounts("load", "load", rows_in=1, loaded=1)],
                       dead_letter_target="", dead_lettered_stored=0,
                       targets={"load": "out.jsonl"})
    text = report.render(spec)
    assert "load → out.jsonl (1 row)" in text and "(1 rows)" not in text


def test_a_load_of_no_rows_to_a_column_partitioned_path_says_no_partition_changed(
        tmp_path) -> None:
    (tmp_path / "one.csv").write_text("id,region\n")
    spec = compile_spec(tmp_path / "p.yaml", text="""pipeline:
  name: p
  steps:
    - extract: {type: csv, config: {path: one.csv}}
    - load: {name: by_region, type: parquet, config: {path: "out/{region}/", mode: replace}}
    - load: {name: by_day, type: parquet, config: {path: "out/dt={date}/", mode: replace}}
""", environ={})
    report = RunReport(pipeline="p", run_id="r", runner="direct", seconds=1.0,
                       steps=[StepCounts("extract", "extract", rows_out=0),
                              StepCounts("by_region", "load", rows_in=0, loaded=0),
                              StepCounts("by_day", "load", rows_in=0, loaded=0)],
                       dead_letter_target="", dead_lettered_stored=0,
                       targets={"by_region": "out/{region}", "by_day": "out/dt=2026-12-02"})
    text = report.render(spec)
    assert ("by_region → out/{region} (0 rows: no partition written; the existing ones are "
            "unchanged)") in text
    assert "by_day → out/dt=2026-12-02 (0 rows)" in text
