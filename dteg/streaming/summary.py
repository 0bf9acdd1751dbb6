"""A stream as one recorded run (run record, OpenLineage) and its summary."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from dteg.errors import DtegError
from dteg.spec.models import PipelineSpec
from dteg.streaming.launcher import Stream, StreamOptions, StreamResult
from dteg.transforms import checkpoint


def stream_report(result: StreamResult) -> dict[str, Any]:
    """The stream's own fields for --report-json and the run record."""
    return {"micro_batches": result.batches, "stopped_by": result.stopped_by,
            "offsets": result.positions, "latency_p50_seconds": result.latency_p50,
            "latency_p99_seconds": result.latency_p99, "retries": result.retries,
            "active_seconds": result.active_seconds, "notes": result.notes}


def render(result: StreamResult, spec: PipelineSpec) -> str:
    lines = [result.report.render(spec), ""]
    p50, p99 = result.latency_p50, result.latency_p99
    latency = (f" · end-to-end latency p50 {p50:.2f}s p99 {p99:.2f}s"
               if p50 is not None and p99 is not None else "")
    lines.append(f"  {result.batches:,} micro-batches{latency} · stopped by {result.stopped_by}")
    if result.retries:
        lines.append(f"  {result.retries} micro-batch(es) retried after retriable errors")
    for step, offsets in result.positions.items():
        shown = ", ".join(f"{k}={v}" for k, v in offsets.items())
        lines.append(f"  {step}: offsets committed {shown}")
    return "\n".join(lines)


def execute_stream(spec: PipelineSpec, run_id: str, options: StreamOptions,
                   say: Callable[[str], None], warn: Callable[[str], None]) -> StreamResult:
    """Record the stream as one run (run record, lineage) around ``Stream.run``."""
    from dteg.governance.lineage import LineageEmitter
    from dteg.run.lifecycle import read_schemas, report_dict
    from dteg.run.records import RunStore

    stream = Stream(spec, run_id, options, say, warn)
    store = RunStore.for_folder(spec.base_dir)
    store.start(run_id=run_id, pipeline=spec.name, yaml_text=spec.yaml_text,
                runner="direct (stream)")
    lineage = LineageEmitter(spec, run_id)
    lineage.start()
    try:
        result = stream.run()
        result.report.schemas = read_schemas(stream.run_dir)
    except BaseException as exc:
        message = exc.render() if isinstance(exc, DtegError) else f"{type(exc).__name__}: {exc}"
        store.finish(run_id, status="failed", error=spec.redactor(message))
        lineage.fail(message)
        raise
    finally:
        pending = stream.folder / checkpoint.PENDING
        if not pending.exists():
            shutil.rmtree(stream.run_dir, ignore_errors=True)
        # else: its offsets are not committed yet; the next start settles them from there.
    summary = {**report_dict(result.report, stream.spec), **stream_report(result)}
    report = result.report
    store.finish(run_id, status="succeeded", report=summary, counts={
        "read": report.read, "loaded": report.loaded,
        "dead_lettered": report.dead_lettered, "filtered": report.filtered})
    lineage.complete(report, report.schemas, {}, None)
    return result
