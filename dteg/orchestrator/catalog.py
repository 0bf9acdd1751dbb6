"""The pipelines a server serves: every pipeline file under a folder, compiled, by revision.

A file is a pipeline file when its top level has ``pipeline:`` (dbt's ``dbt_project.yml`` and
other YAML in the folder are not). ``refresh()`` re-reads files whose bytes changed: a revision
that compiles becomes current; one that does not is reported with its error (file, line, what
to do) and the last good revision keeps running. Each revision is known by the sha256 of its
YAML text, which is what a worker checks before it runs a task.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from dteg.errors import DtegError
from dteg.spec.models import PipelineSpec
from dteg.spec.orchestration import RetryPolicy
from dteg.spec.phases import compile_spec
from dteg.spec.schedule import CronSchedule, ScheduleSpec

SKIPPED_DIRS = {".dteg", ".git", "node_modules", "target", "dbt_packages", "logs", "__pycache__"}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Revision:
    """One compiled revision of a pipeline file."""

    name: str
    path: Path
    yaml_text: str
    sha256: str
    spec: PipelineSpec

    # Cached: the scheduler asks for these for every pipeline on every pass.
    @cached_property
    def schedule(self) -> ScheduleSpec | None:
        return self.spec.body.schedule_spec()

    @cached_property
    def cron_schedule(self) -> CronSchedule | None:
        schedule = self.schedule
        return schedule.cron_schedule() if schedule else None

    @property
    def retries(self) -> RetryPolicy:
        return self.spec.body.retries

    @property
    def max_active_runs(self) -> int:
        schedule = self.schedule
        return schedule.max_active_runs if schedule else 1

    @property
    def triggered_after(self) -> tuple[str, ...]:
        trigger = self.spec.body.trigger
        return tuple(trigger.after) if trigger else ()


@dataclass(frozen=True)
class FileProblem:
    """A pipeline file that does not compile (its last good revision, if any, still runs)."""

    path: Path
    sha256: str
    error: str
    pipeline: str | None  # the pipeline it (last) served, when known


@dataclass
class Changes:
    """What one refresh found."""

    added: list[Revision] = field(default_factory=list)
    changed: list[Revision] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    problems: list[FileProblem] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.problems)


def _is_pipeline_file(text: str) -> bool:
    """Cheap test for ``pipeline:`` at the top level (a file that does not parse is a pipeline
    file when it says ``pipeline:`` at the start of a line, so its error is reported)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return any(line.startswith("pipeline:") for line in text.splitlines())
    return isinstance(data, dict) and "pipeline" in data


def pipeline_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        if SKIPPED_DIRS & set(path.relative_to(folder).parts[:-1]):
            continue
        yield path


class Catalog:
    """The current revision of every pipeline under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()
        self.revisions: dict[str, Revision] = {}  # by pipeline name
        self.problems: dict[Path, FileProblem] = {}
        self._seen: dict[Path, str] = {}  # path → sha256 of the bytes last read
        self._owner: dict[Path, str] = {}  # path → the pipeline it serves
        # Grows with every change of ``revisions`` (for caches built from them).
        self.generation = 0
        self._downstream: dict[str, list[Revision]] = {}
        self._downstream_generation = -1

    def get(self, name: str) -> Revision | None:
        return self.revisions.get(name)

    def refresh(self) -> Changes:
        changes = Changes()
        present: set[Path] = set()
        for path in pipeline_files(self.folder):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self._problem(changes, path, "", f"{path}: cannot be read: {exc}")
                continue
            digest = sha256_text(text)
            present.add(path)
            if self._seen.get(path) == digest:
                continue
            self._seen[path] = digest
            if not _is_pipeline_file(text):
                continue
            self._load(changes, path, text, digest)
        for path in [p for p in self._seen if p not in present]:
            del self._seen[path]
            self.problems.pop(path, None)
            name = self._owner.pop(path, None)
            if name and self.revisions.get(name) and self.revisions[name].path == path:
                del self.revisions[name]
                changes.removed.append(name)
        if changes.added or changes.changed or changes.removed:
            self.generation += 1
        return changes

    def downstream(self, upstream: str) -> list[Revision]:
        """The pipelines whose ``trigger.after`` names ``upstream``."""
        if self._downstream_generation != self.generation:
            index: dict[str, list[Revision]] = {}
            for revision in self.revisions.values():
                for name in revision.triggered_after:
                    index.setdefault(name, []).append(revision)
            self._downstream, self._downstream_generation = index, self.generation
        return self._downstream.get(upstream, [])

    def _load(self, changes: Changes, path: Path, text: str, digest: str) -> None:
        try:
            spec = compile_spec(path, text=text)
        except DtegError as exc:
            self._problem(changes, path, digest, exc.render())
            return
        except Exception as exc:  # a bug of ours: still one line, not a traceback
            self._problem(changes, path, digest, f"{path}: could not be compiled "
                          f"({type(exc).__name__}: {exc}); run `dteg validate {path}`")
            return
        other = self.revisions.get(spec.name)
        if other is not None and other.path != path:
            self._problem(changes, path, digest, (
                f"{path}: pipeline `{spec.name}` is already served from {other.path}; "
                "give one of them another `pipeline.name`"))
            return
        self.problems.pop(path, None)
        old_name = self._owner.get(path)
        if old_name and old_name != spec.name and old_name in self.revisions:
            del self.revisions[old_name]
            changes.removed.append(old_name)
        revision = Revision(spec.name, path, text, digest, spec)
        (changes.changed if spec.name in self.revisions else changes.added).append(revision)
        self.revisions[spec.name] = revision
        self._owner[path] = spec.name

    def _problem(self, changes: Changes, path: Path, digest: str, error: str) -> None:
        problem = FileProblem(path, digest, error, self._owner.get(path))
        self.problems[path] = problem
        changes.problems.append(problem)
