"""Run in a subprocess by ``dteg test``: the connector test kit on each component a package
provides, then the performance test on the standard generated input.

    python -m dteg.marketplace.component_run COMPONENT_DIR WORK_DIR RESULT_JSON

The standard input is the same for every component: ``rows`` rows of (id int64, name string,
amount float64, created_at string), as Arrow batches of 10,000 rows and as one JSON Lines file.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.contracts import BatchReader, BatchTransform, BatchWriter, Rejected
from dteg.components.registry import import_ref
from dteg.components.testkit import build, check_sink, check_source, check_stage, context
from dteg.marketplace.manifest import Manifest, Provided, load_manifest

BATCH_ROWS = 10_000
KIT_ROWS = 1_000


def standard_batches(rows: int) -> list[pa.RecordBatch]:
    """The standard generated input, deterministic so runs compare."""
    batches = []
    for start in range(0, rows, BATCH_ROWS):
        ids = list(range(start, min(rows, start + BATCH_ROWS)))
        batches.append(pa.RecordBatch.from_pydict({
            "id": pa.array(ids, pa.int64()),
            "name": pa.array([f" Name {i % 977} " for i in ids], pa.string()),
            "amount": pa.array([(i % 10_000) / 100 for i in ids], pa.float64()),
            "created_at": pa.array([f"2026-12-{1 + i % 28:02d}T00:00:00Z" for i in ids]),
        }))
    return batches


def write_jsonl(path: Path, batches: list[pa.RecordBatch]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for batch in batches:
            out.writelines(json.dumps(row) + "\n" for row in batch.to_pylist())
    return path


def _config(manifest: Manifest, work: Path, tag: str, rows: int) -> dict[str, Any]:
    batches = standard_batches(rows)
    values = {"input": str(write_jsonl(work / tag / "input.jsonl", batches)),
              "output": str(work / tag / "output")}
    if manifest.performance.setup:
        # A source of a system (a topic, a table) gets the same rows through its own hook.
        prepare = import_ref(manifest.performance.setup)
        values.update({k: str(v) for k, v in prepare(batches, work / tag).items()})

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            for key, text in values.items():
                value = value.replace("{" + key + "}", text)
            return value
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return fill(manifest.performance.config)


def run_kit(manifest: Manifest, item: Provided, work: Path) -> None:
    config = _config(manifest, work, f"kit-{item.name}", KIT_ROWS)
    base = work / f"kit-{item.name}"
    if item.kind == "source":
        table, _ = check_source(item.name, config, base_dir=base)
        assert table.num_rows > 0, "the source read no rows of the standard input"
    elif item.kind == "sink":
        check_sink(item.name, config, standard_batches(KIT_ROWS), base_dir=base)
    else:
        batch = pa.Table.from_batches(standard_batches(KIT_ROWS)).combine_chunks().to_batches()[0]
        check_stage(item.name, config, batch, base_dir=base)


def time_component(manifest: Manifest, item: Provided, work: Path) -> float:
    """Rows per second through the component on ``performance.rows`` rows."""
    rows = manifest.performance.rows
    config = _config(manifest, work, f"perf-{item.name}", rows)
    ctx = context(work / f"perf-{item.name}")
    component = build(item.kind, item.name, config, ctx)
    batches = standard_batches(rows) if item.kind != "source" else []
    started = time.perf_counter()
    seen = 0
    if isinstance(component, BatchReader):
        for split in component.splits():
            for out in component.read(split):
                if not isinstance(out, Rejected):
                    seen += out.num_rows
    elif isinstance(component, BatchWriter):
        part = component.open_part("p0")
        for batch in batches:
            part.write(batch)
        result = part.close()
        seen = component.commit([result] if result else []).rows
    elif isinstance(component, BatchTransform):
        component.setup()
        for batch in batches:
            out = component.apply(batch)
            seen += (out.kept.num_rows if out.kept is not None else 0) + out.filtered + (
                out.rejected.num_rows if out.rejected is not None else 0)
    else:
        raise AssertionError(f"{item.name} built a {type(component).__name__}, not a reader, "
                             "writer or stage")
    elapsed = max(time.perf_counter() - started, 1e-9)
    if seen != rows:
        raise AssertionError(f"{rows} rows in, {seen} accounted for")
    return rows / elapsed


def main(argv: list[str]) -> int:
    root, work, result = Path(argv[0]), Path(argv[1]), Path(argv[2])
    manifest = load_manifest(root)
    outcome: dict[str, Any] = {"kit": {"passed": True, "detail": ""}}
    names = []
    try:
        for item in manifest.provides:
            run_kit(manifest, item, work)
            names.append(f"{item.kind} `{item.name}`")
        outcome["kit"]["detail"] = f"{', '.join(names)} keep the contracts"
    except Exception as exc:  # any failure is the kit's finding, reported whole
        outcome["kit"] = {"passed": False, "detail": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc()}
    if outcome["kit"]["passed"]:
        # The slowest provided component decides: a pipeline runs at its slowest step.
        rates = [time_component(manifest, item, work) for item in manifest.provides]
        outcome["performance"] = {"rows": manifest.performance.rows,
                                  "rows_per_second": min(rates)}
    result.write_text(json.dumps(outcome), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
