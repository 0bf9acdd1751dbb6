"""``pipeline.dead_letter`` as the output a sink writes the records it saw refused at commit
(``RunContext.dead_letters``): the dead-letter sink's own component and config, committed once
per batch under the run id ``<run>.<step>`` — so a ``{run_id}`` file path gets one file per
refusing step beside the run's file, a folder or a table gets more rows."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from dteg.components.contracts import RunContext
from dteg.components.registry import ComponentInfo
from dteg.components.settings import write_mode
from dteg.components.sink_dead_letters import default_path, write_jsonl

log = logging.getLogger("dteg.dead_letters")


@dataclass(frozen=True)
class SinkDeadLetters:
    """Picklable: the component is built where ``write`` runs (a Beam worker)."""

    info: ComponentInfo
    settings: Any
    config: dict[str, Any]
    step: str  # the dead-letter sink's step name
    pipeline: str
    base_dir: Path
    run_id: str

    def write(self, step: str, batch: pa.RecordBatch) -> str:
        ctx = RunContext(pipeline=self.pipeline, step=self.step, base_dir=self.base_dir,
                         run_id=f"{self.run_id}.{step}")
        if write_mode(self.settings) == "replace" and \
                "{run_id}" not in json.dumps(self.config, default=str):
            # One fixed target replaced per commit would lose the run's other dead letters.
            path = default_path(RunContext(pipeline=self.pipeline, step=step,
                                           base_dir=self.base_dir, run_id=self.run_id))
            log.warning("step `%s`: `pipeline.dead_letter` replaces one fixed target, so the "
                        "%d record(s) it refused at commit went to %s; put `{run_id}` in the "
                        "dead-letter path (or use a folder or table) to keep them together",
                        step, batch.num_rows, path)
            return write_jsonl(path, batch)
        writer = self.info.build(self.settings, ctx)
        part = writer.open_part(uuid.uuid4().hex[:12])
        part.write(batch)
        result = part.close()
        parts = [result] if result is not None else []
        try:
            committed = writer.commit(parts)
        except BaseException:
            writer.abort(parts)
            raise
        return str(committed.target)
