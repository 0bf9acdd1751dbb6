"""Data-subject requests (GDPR art. 15/17, CCPA): find one subject's rows in every dataset
the pipelines of a folder write, export them or erase them.

dteg holds the keys, so a column it hashed (HMAC) or tokenized (AES-SIV) is searched by the
subject's value protected the same way: every masking stage on the load's path is asked how
it would mask ``{column: value}`` (``mask_row``, the stage contract), so a third-party
masking stage works like the built-in one. A column encrypted with a random nonce (AES-GCM)
cannot be matched by value and is reported. A load whose target cannot delete rows in place
(the ``row_store`` capability) is reported as not erased, with what to do instead — unless an
encrypt step on its path sealed each row under a per-subject key (``key_per:`` the subject's
column): then the subject's key is destroyed (crypto-shredding, once per keystore and
request) and the dataset's receipt says ``crypto-shredded``.

This module decides and deletes; the caller (CLI, server) writes one receipt per dataset to
the audit log, since only it may import ``dteg.auth``."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dteg.components.contracts import RunContext
from dteg.components.registry import default_registry
from dteg.errors import ConfigError, DtegError
from dteg.governance.catalog_entry import dataset_key
from dteg.governance.datasets import dataset_of
from dteg.governance.protection import protections, upstream
from dteg.governance.retention import row_store
from dteg.spec.models import PipelineSpec, StepSpec

_SUBJECT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Subject:
    """Who the request is about: a column and its value (``email=ada@example.com``)."""

    column: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Subject:
        found = _SUBJECT.match(text.strip())
        if found is None:
            raise ConfigError(f"`--subject` must be column=value, not `{text[:40]}`",
                              hint="For example --subject email=ada@example.com.")
        return cls(found.group(1), found.group(2))


@dataclass
class DatasetOutcome:
    """What a request did in one dataset (the receipt the audit log keeps)."""

    dataset: str
    pipeline: str
    step: str
    target: str
    column: str
    protection: str | None
    status: str  # erased | crypto-shredded | exported | not_found | unsupported | failed
    rows: int = 0
    message: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)  # export only

    def receipt(self) -> dict[str, Any]:
        """The audit detail: counts and where, never the subject's value or its rows."""
        return {"dataset": self.dataset, "pipeline": self.pipeline, "step": self.step,
                "target": self.target, "column": self.column, "protection": self.protection,
                "status": self.status, "rows": self.rows, "message": self.message}


@dataclass
class RequestResult:
    request_id: str
    kind: str  # erase | export
    column: str
    outcomes: list[DatasetOutcome]
    seconds: float

    @property
    def complete(self) -> bool:
        return all(o.status not in ("failed", "unsupported") for o in self.outcomes)


def _masking_steps(spec: PipelineSpec, sink: str) -> list[StepSpec]:
    """The masking stages on ``sink``'s path, in the order rows pass them."""
    return [s for s in reversed(upstream(spec, sink)) if s.capabilities.masks]


def _stage(spec: PipelineSpec, step: StepSpec) -> Any:
    info = default_registry().find("transform", step.component or step.type)
    if info is None:
        raise ConfigError(f"{step.where()}: its component is not installed, so the "
                          "subject's value cannot be protected the same way",
                          hint="Install the component, then run the request again.")
    stage = info.build(step.validated(), RunContext(
        pipeline=spec.name, step=step.name, base_dir=spec.base_dir, run_id="privacy"))
    stage.setup()
    return stage


def stored_value(spec: PipelineSpec, sink: str, column: str, value: str) -> Any:
    """``value`` as ``sink``'s target stores it in ``column`` (or as step ``sink`` sees it):
    through every masking stage on the way, each asked through its ``mask_row``."""
    row: dict[str, Any] = {column: value}
    for step in _masking_steps(spec, sink):
        row = _stage(spec, step).mask_row(dict(row))
    return row[column]


def _subject_keyed(spec: PipelineSpec, sink: str, column: str) -> StepSpec | None:
    """The nearest step on ``sink``'s path that seals rows under per-subject keys of
    ``column`` (its settings' ``key_per``)."""
    for step in upstream(spec, sink):
        if step.capabilities.masks and getattr(step.settings, "key_per", None) == column:
            return step
    return None


def _shred(spec: PipelineSpec, keyed: StepSpec, subject: Subject, outcome: DatasetOutcome,
           done: dict[Path, str | None]) -> DatasetOutcome:
    """Destroy the subject's key in the keystore of step ``keyed`` (once per request)."""
    stage = _stage(spec, keyed)
    store = stage.keystore(create=False)
    path = stage.keystore_file
    if path not in done:
        if store is None:
            done[path] = None
        else:
            seen = stored_value(spec, keyed.name, subject.column, subject.value)
            done[path] = store.shred(subject.column, str(seen)).key_id
    if store is not None:
        store.close()
    key_id = done[path]
    if key_id is None:
        outcome.message = f"the subject has no key in {path.name} (never written here)"
        return outcome
    outcome.status = "crypto-shredded"
    outcome.protection = "encrypted per subject"
    outcome.message = (f"the subject's key `{key_id}` was destroyed in {path.name}: their "
                       f"values written by step `{keyed.name}` no longer decrypt")
    return outcome


def _one(spec: PipelineSpec, step: StepSpec, subject: Subject, kind: str,
         known: set[str] | None, shredded: dict[Path, str | None]) -> DatasetOutcome:
    namespace, name = dataset_of(spec, step)
    guard = protections(spec, step.name).get(subject.column)
    outcome = DatasetOutcome(
        dataset=dataset_key(namespace, name), pipeline=spec.name, step=step.name,
        target=step.component or step.type, column=subject.column,
        protection=guard.strategy if guard else None, status="not_found")
    if known is not None and subject.column not in known:
        outcome.message = f"no column `{subject.column}` (per the catalog)"
        return outcome
    keyed = _subject_keyed(spec, step.name, subject.column)
    if keyed is not None:
        if kind == "erase":
            try:
                return _shred(spec, keyed, subject, outcome, shredded)
            except DtegError as exc:
                outcome.status, outcome.message = "failed", spec.redactor(exc.render())
                return outcome
        outcome.status = "unsupported"
        outcome.message = (f"rows are sealed under per-subject keys by step `{keyed.name}`: "
                           "read the dataset through a `decrypt` step and filter it")
        return outcome
    if guard is not None and guard.strategy in ("encrypted", "redact", "null", "partial",
                                                "email"):
        outcome.status = "unsupported"
        outcome.message = (f"`{subject.column}` is {guard.strategy} by step "
                           f"`{guard.step}`, so rows cannot be matched by its value; match "
                           "the subject by another column (--subject id=…)")
        return outcome
    try:
        store = row_store(spec, step)
    except DtegError as exc:
        store, outcome.message = None, spec.redactor(str(exc))
    if store is None:
        outcome.status = "unsupported"
        outcome.message = outcome.message or (
            f"`{outcome.target}` cannot delete rows in place; erase by destroying the "
            "subject's key, or rewrite the target")
        return outcome
    outcome.target = store.description
    try:
        if subject.column not in store.columns():
            outcome.message = f"no column `{subject.column}`"
            return outcome
        wanted = [stored_value(spec, step.name, subject.column, subject.value)]
        if kind == "export":
            outcome.records = store.find(subject.column, wanted)
            outcome.rows = len(outcome.records)
            outcome.status = "exported" if outcome.rows else "not_found"
        else:
            outcome.rows = store.delete_matching(subject.column, wanted)
            outcome.status = "erased" if outcome.rows else "not_found"
    except DtegError as exc:
        outcome.status, outcome.message = "failed", spec.redactor(exc.render())
    except Exception as exc:  # a driver error we have no words for: still report it
        outcome.status, outcome.message = "failed", spec.redactor(f"{type(exc).__name__}: "
                                                                  f"{exc}")
    finally:
        store.close()
    return outcome


def handle(specs: list[PipelineSpec], subject: Subject, kind: str,
           columns: dict[str, set[str]] | None = None) -> RequestResult:
    """Export (``kind="export"``) or erase the subject's rows in every load of ``specs``
    (a dataset written by several pipelines is handled once). ``columns``: dataset key →
    its columns as the catalog knows them; a dataset known to lack the subject's column is
    not opened (a file target without it is then not reported as impossible to erase)."""
    started = time.monotonic()
    seen: set[str] = set()
    shredded: dict[Path, str | None] = {}
    outcomes = []
    for spec in specs:
        for step in spec.sinks():
            key = dataset_key(*dataset_of(spec, step))
            if key in seen:
                continue
            seen.add(key)
            outcomes.append(_one(spec, step, subject, kind, (columns or {}).get(key),
                                 shredded))
    return RequestResult(request_id=uuid.uuid4().hex[:16], kind=kind, column=subject.column,
                         outcomes=outcomes, seconds=time.monotonic() - started)
