"""Schema drift: compare the columns a source delivered with the last successful run's."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

Schema = list[dict[str, str]]


@dataclass
class SchemaDrift:
    step: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[dict[str, str]] = field(default_factory=list)  # name, before, after

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append(f"new column(s) {self.added}")
        if self.removed:
            parts.append(f"missing column(s) {self.removed}")
        for change in self.changed:
            parts.append(f"`{change['name']}` changed {change['before']} → {change['after']}")
        return f"step `{self.step}`: schema changed since the last run: " + "; ".join(parts)


def compare(step: str, before: Schema, after: Schema) -> SchemaDrift:
    old = {f["name"]: f["type"] for f in before}
    new = {f["name"]: f["type"] for f in after}
    return SchemaDrift(
        step=step,
        added=[n for n in new if n not in old],
        removed=[n for n in old if n not in new],
        changed=[{"name": n, "before": old[n], "after": new[n]}
                 for n in new if n in old and old[n] != new[n]],
    )


def write_alert(alerts_file: Path, *, pipeline: str, run_id: str, drift: SchemaDrift) -> None:
    """Append an alert event; the alert channels (Slack, email) read these later."""
    alerts_file.parent.mkdir(parents=True, exist_ok=True)
    event = {"type": "schema_drift", "pipeline": pipeline, "run_id": run_id,
             "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
             **asdict(drift)}
    with alerts_file.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(event) + "\n")
