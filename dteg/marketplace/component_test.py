"""``dteg test NAME``: a component folder's own tests with coverage, the connector test kit on
it, and the performance test (rows/s on a standard generated input vs the manifest's floor).

Everything runs in subprocesses of this Python with the component's ``src/`` on the path and a
development ``.dist-info`` beside it that declares its entry points: the component is found the
way an installed one is (by entry point), and the environment is left untouched (no
``pip install -e`` into it).
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 - runs this Python on the author's own component
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from dteg.errors import ConfigError
from dteg.marketplace.manifest import MANIFEST_FILE, Manifest, load_manifest

# Generous: the performance test alone reads 100k rows, and the machine is shared.
STEP_TIMEOUT_S = 900


@dataclass(frozen=True)
class ComponentFolder:
    """A component's source folder and what its manifest and pyproject say."""

    root: Path
    manifest: Manifest
    pyproject: dict[str, Any]

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def modules(self) -> list[str]:
        return sorted(p.name for p in self.src.iterdir() if (p / "__init__.py").is_file())

    @property
    def entry_points(self) -> dict[str, dict[str, str]]:
        found = self.pyproject.get("project", {}).get("entry-points", {})
        return {str(group): dict(items) for group, items in found.items()}

    @property
    def dependencies(self) -> list[str]:
        return list(self.pyproject.get("project", {}).get("dependencies", []))


def find_component(target: str | Path) -> ComponentFolder:
    """The component folder ``target`` names: a path, or a folder of that name here."""
    root = Path(target)
    if not (root / MANIFEST_FILE).is_file():
        raise ConfigError(f"`{target}` is not a component folder (no {MANIFEST_FILE} in "
                          f"{root.resolve()})",
                          hint="Run `dteg test NAME` in the folder that holds NAME/ (made by "
                          "`dteg create connector NAME`), or pass the folder's path.")
    manifest = load_manifest(root)
    pyproject_path = root / "pyproject.toml"
    if not pyproject_path.is_file():
        raise ConfigError(f"{root} has no pyproject.toml",
                          hint="A component is a Python package: `dteg create` writes one.")
    try:
        pyproject = tomllib.loads(pyproject_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{pyproject_path} is not valid TOML: {exc}",
                          hint="Fix the file.") from None
    if not (root / "src").is_dir():
        raise ConfigError(f"{root} has no src/ folder",
                          hint="Keep the package under src/ as `dteg create` lays it out.")
    return ComponentFolder(root.resolve(), manifest, pyproject)


def dev_environment(component: ComponentFolder, scratch: Path) -> dict[str, str]:
    """Environment variables under which the component's entry points are visible."""
    project = component.pyproject.get("project", {})
    dist = str(project.get("name", component.manifest.package)).replace("-", "_")
    version = str(project.get("version", component.manifest.version))
    info = scratch / f"{dist}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project.get('name', dist)}\nVersion: {version}\n",
        encoding="utf-8")
    lines = []
    for group, items in component.entry_points.items():
        lines.append(f"[{group}]")
        lines.extend(f"{name} = {value}" for name, value in items.items())
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = dict(os.environ)
    # Absolute: the subprocesses run in the component's folder, not in ours.
    inherited = [os.path.abspath(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths = [str(component.src), str(scratch), *inherited]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("COVERAGE_PROCESS_START", None)
    return env


@dataclass
class StepOutcome:
    name: str
    passed: bool
    detail: str
    value: float | None = None
    threshold: float | None = None
    output: str = ""


@dataclass
class ComponentReport:
    component: str
    version: str
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.steps)

    def step(self, name: str) -> StepOutcome | None:
        return next((s for s in self.steps if s.name == name), None)

    def render(self) -> str:
        lines = [f"dteg test {self.component} {self.version}"]
        for s in self.steps:
            lines.append(f"  {'PASS' if s.passed else 'FAIL'}  {s.name}: {s.detail}")
        lines.append("passed" if self.passed else "FAILED")
        return "\n".join(lines)


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True,  # nosec
                              timeout=STEP_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", f"timed out after {STEP_TIMEOUT_S} s")


def run_tests_with_coverage(component: ComponentFolder, env: dict[str, str],
                            scratch: Path) -> StepOutcome:
    """The component's own tests under coverage; the value is line coverage in percent."""
    data = scratch / ".coverage"
    sources = ",".join(str(component.src / m) for m in component.modules)
    tests = component.root / component.manifest.tests
    if not tests.is_dir():
        return StepOutcome("tests", False, f"no tests folder {tests}", value=0.0)
    env = {**env, "COVERAGE_FILE": str(data)}
    ran = _run([sys.executable, "-m", "coverage", "run", "--branch", f"--source={sources}",
                "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
               env, component.root)
    report = scratch / "coverage.json"
    _run([sys.executable, "-m", "coverage", "json", "-q", "-o", str(report)], env,
         component.root)
    percent = 0.0
    if report.is_file():
        percent = float(json.loads(report.read_text())["totals"]["percent_covered"])
    tail = (ran.stdout.strip().splitlines() or [""])[-1]
    if ran.returncode != 0:
        return StepOutcome("tests", False, f"the component's tests failed: {tail}",
                           value=percent, output=ran.stdout + ran.stderr)
    return StepOutcome("tests", True, f"{tail}; coverage {percent:.1f} %", value=percent,
                       output=ran.stdout)


def run_kit_and_performance(component: ComponentFolder, env: dict[str, str],
                            scratch: Path) -> list[StepOutcome]:
    """The test kit on every provided component, then the timed run (``component_run``)."""
    result = scratch / "run.json"
    ran = _run([sys.executable, "-m", "dteg.marketplace.component_run",
                str(component.root), str(scratch / "work"), str(result)], env, component.root)
    if ran.returncode != 0 or not result.is_file():
        detail = (ran.stderr.strip().splitlines() or ["no output"])[-1]
        return [StepOutcome("kit", False, f"the component could not be run: {detail}",
                            output=ran.stdout + ran.stderr)]
    outcome = json.loads(result.read_text(encoding="utf-8"))
    steps = [StepOutcome("kit", bool(outcome["kit"]["passed"]), outcome["kit"]["detail"])]
    perf = outcome.get("performance")
    if perf is not None:
        floor = component.manifest.performance.min_rows_per_second
        rate = float(perf["rows_per_second"])
        steps.append(StepOutcome(
            "performance", rate >= floor,
            f"{rate:,.0f} rows/s on {perf['rows']:,} generated rows (floor {floor:,.0f})",
            value=rate, threshold=floor))
    return steps


def run_component_tests(target: str | Path) -> ComponentReport:
    """Run the kit, the component's tests with coverage and the performance test."""
    component = find_component(target)
    report = ComponentReport(component.manifest.name, component.manifest.version)
    with tempfile.TemporaryDirectory(prefix="dteg-test-") as tmp:
        scratch = Path(tmp)
        env = dev_environment(component, scratch / "meta")
        report.steps.extend(run_kit_and_performance(component, env, scratch))
        tests = run_tests_with_coverage(component, env, scratch)
        required = component.manifest.quality_gates.required.test_coverage
        report.steps.append(tests)
        report.steps.append(StepOutcome(
            "coverage", (tests.value or 0.0) >= required,
            f"{tests.value or 0.0:.1f} % (required {required:.0f} %)",
            value=tests.value, threshold=required))
    return report
