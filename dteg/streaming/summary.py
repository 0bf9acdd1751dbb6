"""A stream as one recorded run (run record, OpenLineage) and its summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dteg.spec.models import PipelineSpec
from dteg.spec.preflight import check_preflight
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
    unit = "bundles committed" if result.report.runner.startswith("prism") else \
        "micro-batches"
    lines.append(f"  {result.batches:,} {unit}{latency} · stopped by {result.stopped_by}")
    if result.retries:
        lines.append(f"  {result.retries} micro-batch(es) retried after retriable errors")
    for step, offsets in result.positions.items():
        shown = ", ".join(f"{k}={v}" for k, v in offsets.items())
        lines.append(f"  {step}: offsets committed {shown}")
    return "\n".join(lines)


def execute_stream(spec: PipelineSpec, run_id: str, options: StreamOptions,
                   say: Callable[[str], None], warn: Callable[[str], None], *,
                   runner: str = "direct", prism_location: str | None = None
                   ) -> StreamResult:
    """Record the stream as one run (its listeners: run record, lineage, drift) around
    ``Stream.run`` (micro-batches on the embedded runner) or, with ``runner="prism"``,
    ``PrismStream.run`` (one unbounded Beam pipeline on Prism)."""
    from dteg.governance.listeners import default_listeners
    from dteg.run.lifecycle import RecordedRun

    if runner == "prism":
        from dteg.streaming.native import PrismStream

        stream: Stream = PrismStream(spec, run_id, options, say, warn,
                                     prism_location=prism_location)
    else:
        stream = Stream(spec, run_id, options, say, warn)
    run = RecordedRun(stream.spec, run_id, f"{runner} (stream)", default_listeners(spec),
                      kind="stream")
    run.started()
    try:
        check_preflight(stream.spec)  # before the first micro-batch can commit
        result = stream.run()
        report = result.report
        run.counted(report)
        run.committed(report)
    except BaseException as exc:
        error = run.failed(exc)
        if error is exc or isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise error from exc
    finally:
        if not (stream.folder / checkpoint.PENDING).exists():
            stream.run_dir.remove()
        # else: its offsets are not committed yet; the next start settles them from there.
    run.finished(report, stream_report(result))
    return result
