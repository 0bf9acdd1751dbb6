"""The dbt step: ``transform: {type: dbt, model: …, tests: true}`` runs dbt-core after the
loads it follows have committed.

It runs in the launcher (not on Beam workers): dbt talks to the warehouse, once per run.
Without ``profiles_dir``, dteg writes a dbt-duckdb profile pointing at the DuckDB database
the pipeline loaded, so dbt works on the embedded warehouse with no setup.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from dteg.components.contracts import (
    LoadedTarget,
    PostLoadFailed,
    PostLoadOutcome,
    PostLoadStep,
    RunContext,
)
from dteg.errors import ConfigError
from dteg.transforms.dbt_config import DbtConfig


@dataclass
class DbtOutcome(PostLoadOutcome):
    kind: ClassVar[str] = "dbt"
    command: str = "run"
    seconds: float = 0.0
    passed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (node, message)
    nodes: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"dbt {self.command}: {len(self.passed)} passed, {len(self.failed)} failed "
                f"({self.seconds:.1f}s)")

    def outputs(self) -> list[str]:
        return [n["name"] for n in self.nodes if n["type"].endswith("model")]


def _selection(config: DbtConfig) -> list[str]:
    if config.select:
        return ["--select", config.select]
    if config.model:
        return ["--select", Path(config.model).stem]
    return []


def write_duckdb_profile(project_dir: Path, database: Path, into: Path) -> Path:
    """profiles.yml for the project's profile name, pointing dbt-duckdb at ``database``."""
    project_file = project_dir / "dbt_project.yml"
    try:
        project = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    except OSError:
        raise ConfigError(
            f"no dbt project at {project_dir} (missing dbt_project.yml)",
            hint="Set `project_dir:` on the dbt step (relative to the pipeline file).",
        ) from None
    profile = project.get("profile") or project.get("name") or "dteg"
    into.mkdir(parents=True, exist_ok=True)
    (into / "profiles.yml").write_text(yaml.safe_dump({
        profile: {"target": "dteg", "outputs": {"dteg": {
            "type": "duckdb", "path": str(database), "threads": 1}}},
    }), encoding="utf-8")
    return into


def run_dbt(config: DbtConfig, ctx: RunContext, *, duckdb_databases: list[Path]) -> DbtOutcome:
    """Run ``dbt run`` (or ``dbt build`` with ``tests: true``); raise StepError on failure."""
    try:
        from dbt.cli.main import dbtRunner
    except ImportError:
        raise ConfigError(
            "the dbt step needs dbt-core and an adapter",
            hint="Reinstall dteg (`pip install dteg` brings dbt-core and dbt-duckdb); other "
            "warehouses need their adapter, e.g. `pip install 'dteg[dbt-postgres]'`.") from None
    project_dir = Path(ctx.resolve_path(config.project_dir))
    work = ctx.state_dir / "dbt" / ctx.step
    if config.profiles_dir:
        profiles_dir = Path(ctx.resolve_path(config.profiles_dir))
    elif len(set(duckdb_databases)) == 1:
        profiles_dir = write_duckdb_profile(project_dir, duckdb_databases[0], work / "profiles")
    else:
        raise ConfigError(
            "dteg can write a dbt profile only for a pipeline that loads "
            f"into exactly one DuckDB database (this one loads {len(set(duckdb_databases))})",
            step=ctx.step,
            hint="Set `profiles_dir:` to the folder of your profiles.yml.",
        )
    command = "build" if config.tests else "run"
    args = [command, *_selection(config), "--project-dir", str(project_dir),
            "--profiles-dir", str(profiles_dir), "--target-path", str(work / "target"),
            "--log-path", str(work / "logs"), "--quiet"]
    if not sys.stderr.isatty():
        args.append("--no-use-colors")
    if config.target:
        args += ["--target", config.target]
    if config.vars:
        args += ["--vars", yaml.safe_dump(config.vars, default_flow_style=True).strip()]
    if config.full_refresh:
        args.append("--full-refresh")
    started = time.perf_counter()
    previous = os.getcwd()
    try:
        os.chdir(project_dir)  # dbt resolves some relative paths against the cwd
        result = dbtRunner().invoke(args)
    finally:
        os.chdir(previous)
        _release_duckdb()
    outcome = DbtOutcome(ctx.step, command, time.perf_counter() - started)
    for node in getattr(result.result, "results", None) or []:
        name = getattr(node.node, "name", "?")
        resource = getattr(node.node, "resource_type", "")
        status = str(getattr(node.status, "value", node.status))
        outcome.nodes.append({"name": name, "type": str(resource), "status": status,
                              "unique_id": getattr(node.node, "unique_id", name)})
        if status in ("error", "fail", "runtime error"):
            outcome.failed.append((f"{resource} {name}".strip(), str(node.message or status)))
        else:
            outcome.passed.append(name)
    if outcome.failed or not result.success:
        details = "; ".join(f"{n}: {m}" for n, m in outcome.failed)
        if not details and result.exception is not None:
            details = str(result.exception).strip().splitlines()[0]
        raise PostLoadFailed(
            f"dbt {command} failed: {details or 'see the dbt log'}", step=ctx.step,
            outcome=outcome,
            hint="The loads committed; fix the model or test and run it again with "
            f"`{rerun_command(args)}` (dbt log: {work / 'logs' / 'dbt.log'}).",
        )
    return outcome


def rerun_command(args: list[str]) -> str:
    """The dbt command line a user can run by hand: dteg's own arguments, without its work
    folders, so the profile dteg wrote (or ``profiles_dir``) and the selection still apply."""
    import shlex

    own = {"--target-path", "--log-path"}
    kept: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in own:
            skip = True
        elif arg not in ("--quiet", "--no-use-colors"):
            kept.append(arg)
    return shlex.join(["dbt", *kept])


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open for the life of the process; close it so the
    next run (or the caller, when dteg is used as a library) can open the file again."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = DuckDBConnectionManager._ENV
    if env is not None and hasattr(env, "close"):
        env.close()
    DuckDBConnectionManager.close_all_connections()


class DbtStep(PostLoadStep):
    """``dbt run`` / ``dbt build`` after the loads it follows (DuckDB ones get a profile)."""

    def __init__(self, config: DbtConfig, ctx: RunContext) -> None:
        self.config = config
        self.ctx = ctx

    def run(self, loads: list[LoadedTarget]) -> DbtOutcome:
        databases = [t.database_file for t in loads if t.database_file is not None]
        return run_dbt(self.config, self.ctx, duckdb_databases=databases)


def create(config: DbtConfig, ctx: RunContext) -> DbtStep:
    return DbtStep(config, ctx)
