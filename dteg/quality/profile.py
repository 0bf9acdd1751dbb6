"""``dteg profile``: per-column statistics of a sample, and which columns look like PII.

The sample comes straight from the source readers (no Beam): for a pipeline, the rows each
extract step reads; for a data file, the source its extension names. Per column: type, null
share, empty-string share, distinct count, min/max (hidden for PII-looking columns, so the
profile itself does not leak them) and the kind of personal data it looks like; then a
``security.data_masking`` block that would mask the flagged columns.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from dteg.components.contracts import BatchReader, Rejected, RunContext
from dteg.components.records import without_provenance
from dteg.errors import ConfigError
from dteg.security.pii import classify_column, looks_like_person_names
from dteg.spec.masking import MASKING_KEY_LINE
from dteg.spec.models import PipelineSpec, StepSpec

DEFAULT_ROWS = 10_000
_COMPRESSION = (".gz", ".gzip", ".zst", ".zstd", ".bz2")
SOURCE_BY_EXTENSION = {
    ".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".parquet": "parquet", ".pq": "parquet", ".avro": "avro",
}


@dataclass
class ColumnProfile:
    name: str
    type: str
    rows: int
    nulls: int
    empty: int | None
    distinct: int | None
    min: Any
    max: Any
    pii: str | None = None
    pii_matched: int = 0
    pii_checked: int = 0
    suggestion: str | dict[str, Any] | None = None

    @property
    def null_rate(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


@dataclass
class Profile:
    """The profile of one sample (one extract step, or one file)."""

    source: str
    rows: int
    unreadable: int
    columns: list[ColumnProfile]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "unreadable": self.unreadable,
                "columns": [{**asdict(c), "null_rate": round(c.null_rate, 6)}
                            for c in self.columns]}


def _one_line(text: str) -> str:
    """A table cell: line breaks and tabs written as escapes, so a row stays one line."""
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def _shown(value: Any) -> Any:
    if isinstance(value, str):
        value = _one_line(value)
        return value[:23] + "…" if len(value) > 24 else value
    if isinstance(value, bytes):
        return value[:12].hex() + ("…" if len(value) > 12 else "")
    return value


def profile_table(table: pa.Table, source: str, unreadable: int = 0,
                  sample: int = DEFAULT_ROWS) -> Profile:
    """Statistics and PII flags for every column of ``table``."""
    columns = []
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        t = column.type
        text = pa.types.is_string(t) or pa.types.is_large_string(t)
        try:
            distinct: int | None = pc.count_distinct(column, mode="only_valid").as_py()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
            distinct = None
        try:
            bounds = pc.min_max(column)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
            low = high = None
        match = classify_column(column, sample=sample)
        if match is None and text:
            match = looks_like_person_names(
                name, column.slice(0, sample).drop_null().to_pylist())
        profile = ColumnProfile(
            name=name, type=str(t), rows=len(column), nulls=column.null_count,
            empty=int(pc.sum(pc.equal(column, "")).as_py() or 0) if text else None,
            distinct=distinct, min=_shown(low), max=_shown(high))
        if match is not None:
            profile.pii = match.kind.name
            profile.pii_matched, profile.pii_checked = match.matched, match.checked
            profile.suggestion = match.kind.suggestion
            profile.min = profile.max = None  # a profile must not leak what it flags
        columns.append(profile)
    return Profile(source, table.num_rows, unreadable, columns)


def suggested_masking(profiles: list[Profile]) -> dict[str, Any]:
    """column → strategy for every flagged column."""
    suggestion: dict[str, Any] = {}
    for profile in profiles:
        for column in profile.columns:
            if column.suggestion is not None:
                suggestion.setdefault(column.name, column.suggestion)
    return suggestion


def masking_yaml(suggestion: dict[str, Any]) -> str:
    """A ``security.data_masking`` block to paste into a pipeline, with the masking key when
    a strategy is ``hash`` (without a key, hash is plain SHA-256 and guessable values can be
    recovered)."""
    lines = ["security:", "  data_masking:"]
    for column, strategy in suggestion.items():
        if isinstance(strategy, dict):
            inner = ", ".join(f"{k}: {v}" for k, v in strategy.items())
            lines.append(f"    {_one_line(column)}: {{{inner}}}")
        else:
            lines.append(f"    {_one_line(column)}: {strategy}")
    if needs_masking_key(suggestion):
        lines.append(f"  {MASKING_KEY_LINE}")
    return "\n".join(lines)


def needs_masking_key(suggestion: dict[str, Any]) -> bool:
    return any((s.get("strategy") if isinstance(s, dict) else s) == "hash"
               for s in suggestion.values())


def render_text(profiles: list[Profile]) -> str:
    out: list[str] = []
    for p in profiles:
        unreadable = f" ({p.unreadable:,} unreadable)" if p.unreadable else ""
        rows = f"{p.rows:,} {'row' if p.rows == 1 else 'rows'}"
        out += [f"profile of {p.source} · {rows} sampled{unreadable}", "",
                f"  {'column':<20}{'type':<16}{'nulls':>7}{'empty':>7}{'distinct':>10}  "
                f"{'min':<25}{'max':<25}PII"]
        for c in p.columns:
            empty = "-" if c.empty is None else f"{c.empty / c.rows:.1%}" if c.rows else "-"
            distinct = "-" if c.distinct is None else f"{c.distinct:,}"
            low = "(hidden)" if c.pii else "" if c.min is None else str(c.min)
            high = "(hidden)" if c.pii else "" if c.max is None else str(c.max)
            pii = f"{c.pii} ({c.pii_matched}/{c.pii_checked})" if c.pii else ""
            name = _one_line(c.name)[:19]
            out.append(f"  {name:<20}{c.type[:15]:<16}{c.null_rate:>7.1%}{empty:>7}"
                       f"{distinct:>10}  {low:<25}{high:<25}{pii}")
        out.append("")
    suggestion = suggested_masking(profiles)
    if suggestion:
        out += ["Columns that look like personal data; to mask them, add:", "",
                masking_yaml(suggestion)]
    else:
        out.append("No column looks like personal data in the sampled rows.")
    return "\n".join(out)


def render_json(profiles: list[Profile]) -> str:
    suggestion = suggested_masking(profiles)
    extra = ({"suggested_masking_key": MASKING_KEY_LINE.split(": ", 1)[1]}
             if needs_masking_key(suggestion) else {})
    return json.dumps({"profiles": [p.to_dict() for p in profiles],
                       "suggested_data_masking": suggestion, **extra},
                      indent=2, default=str, ensure_ascii=False)


# --- sampling --------------------------------------------------------------------------------


def read_sample(reader: BatchReader, rows: int) -> tuple[pa.Table, int]:
    """Up to ``rows`` rows from a reader, and how many it could not read (dead letters)."""
    batches: list[pa.RecordBatch] = []
    have = unreadable = 0
    for split in reader.splits():
        for item in reader.read(split):
            if isinstance(item, Rejected):
                unreadable += item.batch.num_rows
                continue
            batches.append(without_provenance(item).slice(0, rows - have))
            have += batches[-1].num_rows
            if have >= rows:
                return pa.Table.from_batches(batches), unreadable
    if not batches:
        return pa.table({}), unreadable
    return pa.Table.from_batches(batches), unreadable


def _build(name: str, config: dict[str, Any], ctx: RunContext, rows: int) -> BatchReader:
    from dteg.components.registry import default_registry

    info = default_registry().find("source", name)
    if info is None:
        raise ConfigError(f"no source type `{name}` is installed",
                          hint="`dteg connectors list` shows the source types.")
    model = info.config_model()
    if "batch_rows" in model.model_fields and "batch_rows" not in config:
        config = {**config, "batch_rows": min(rows, 65_536)}
    reader: BatchReader = info.load_factory()(model.model_validate(config), ctx)
    return reader


def source_for_file(path: Path) -> tuple[str, dict[str, Any]]:
    """The source type and config that read ``path``, from its extension."""
    name = path.name.lower()
    for suffix in _COMPRESSION:
        name = name.removesuffix(suffix)
    ext = Path(name).suffix
    if ext not in SOURCE_BY_EXTENSION:
        raise ConfigError(
            f"cannot tell how to read {path}: unknown extension `{ext or '(none)'}`",
            hint=f"Profile a file ending in {', '.join(sorted(SOURCE_BY_EXTENSION))} (optionally "
            ".gz/.zst/.bz2), or a pipeline file whose extract step reads it.")
    config: dict[str, Any] = {"path": str(path.resolve())}
    if ext == ".tsv":
        config["delimiter"] = "\t"
    return SOURCE_BY_EXTENSION[ext], config


def profile_file(path: Path, rows: int = DEFAULT_ROWS) -> list[Profile]:
    source, config = source_for_file(path)
    ctx = RunContext(pipeline="profile", step="profile", base_dir=Path.cwd(), run_id="profile")
    table, unreadable = read_sample(_build(source, config, ctx, rows), rows)
    return [profile_table(table, f"{path} ({source})", unreadable, rows)]


def profile_pipeline(path: Path, rows: int = DEFAULT_ROWS) -> list[Profile]:
    """One profile per extract step of the pipeline at ``path``."""
    from dteg.spec.phases import compile_spec

    spec = compile_spec(path)
    return [profile_step(spec, step, rows, f"step `{step.name}` of {path}")
            for step in spec.sources()]


def profile_step(spec: PipelineSpec, step: StepSpec, rows: int = DEFAULT_ROWS,
                 label: str | None = None) -> Profile:
    """The profile of a sample of what the extract ``step`` of a compiled spec reads (the
    catalog profiles every run's bounded sources with it)."""
    if step.component is None:
        raise ConfigError(f"{step.where()}: its source `{step.type}` is not installed, so "
                          "its rows cannot be read", hint="Install it, or profile a file.")
    ctx = RunContext(pipeline=spec.name, step=step.name, base_dir=spec.base_dir,
                     run_id="profile")
    table, unreadable = read_sample(_build(step.component, step.config, ctx, rows), rows)
    return profile_table(table, label or f"step `{step.name}`", unreadable, rows)


def profile(target: Path, rows: int = DEFAULT_ROWS) -> list[Profile]:
    """Profile a pipeline file (``.yaml``/``.yml``) or a data file."""
    if not target.exists():
        raise ConfigError(f"{target} does not exist",
                          hint="Give a pipeline file or a data file (csv, jsonl, parquet, avro).")
    if target.suffix.lower() in (".yaml", ".yml"):
        return profile_pipeline(target, rows)
    return profile_file(target, rows)
