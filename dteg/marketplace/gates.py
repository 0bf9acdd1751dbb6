"""The quality gates a component passes before the registry takes it (``dteg publish``).

Required gates, each with a status and a reason: ``manifest`` (valid), ``semver`` (greater
than the last published version), ``docs`` (the four sections present and non-empty),
``coverage`` (≥ the manifest's threshold, at least 80 %), ``security`` (bandit finds nothing of
high severity, and no dependency admits a version listed in the registry's OSV advisories) and
``performance`` (the rows/s floor). Nothing is downloaded: the advisories come from the
registry the component is published to.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess  # nosec B404 - runs bandit from this environment on the author's own code
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from dteg.errors import ConfigError
from dteg.marketplace.component_test import ComponentFolder, ComponentReport
from dteg.marketplace.manifest import DOC_SECTIONS

GATE_NAMES = ("manifest", "semver", "docs", "coverage", "security", "performance")
Status = Literal["pass", "fail"]


@dataclass(frozen=True)
class Gate:
    name: str
    status: Status
    detail: str
    value: float | None = None
    threshold: float | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "value": self.value,
                "threshold": self.threshold}


def _gate(name: str, ok: bool, detail: str, value: float | None = None,
          threshold: float | None = None) -> Gate:
    return Gate(name, "pass" if ok else "fail", detail, value, threshold)


@dataclass
class GateReport:
    """Every gate's outcome; stored by the registry next to the version it was run for."""

    component: str
    version: str
    gates: list[Gate] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc)
                            .isoformat(timespec="seconds").replace("+00:00", "Z"))

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[Gate]:
        return [g for g in self.gates if not g.passed]

    def to_dict(self) -> dict[str, Any]:
        from dteg.version import __version__

        return {"component": self.component, "version": self.version,
                "dteg_version": __version__, "created_at": self.created_at,
                "passed": self.passed, "gates": {g.name: g.to_dict() for g in self.gates}}

    def render(self) -> str:
        lines = [f"quality gates of {self.component} {self.version}"]
        lines += [f"  {g.status.upper():4}  {g.name}: {g.detail}" for g in self.gates]
        return "\n".join(lines)


def manifest_gate(component: ComponentFolder) -> Gate:
    """The manifest loaded (``find_component`` validated it); its entry points must match."""
    m = component.manifest
    project = component.pyproject.get("project", {})
    problems = []
    if canonicalize_name(str(project.get("name", ""))) != canonicalize_name(m.package):
        problems.append(f"`package: {m.package}` is not pyproject's name "
                        f"`{project.get('name')}`")
    if str(project.get("version", "")) != m.version:
        problems.append(f"manifest version {m.version} is not pyproject's "
                        f"{project.get('version')}")
    groups = {"source": "dteg.sources", "sink": "dteg.sinks", "transform": "dteg.transforms"}
    for item in m.provides:
        if item.name not in component.entry_points.get(groups[item.kind], {}):
            problems.append(f"no `{groups[item.kind]}` entry point named `{item.name}` in "
                            "pyproject.toml")
    if problems:
        return _gate("manifest", False, "; ".join(problems))
    return _gate("manifest", True, f"{m.kind} `{m.name}` {m.version}, "
                 f"dteg {m.compatibility.framework_versions}")


def semver_gate(version: str, last_published: str | None) -> Gate:
    if last_published is None:
        return _gate("semver", True, f"{version} is the first published version")
    if Version(version) > Version(last_published):
        return _gate("semver", True, f"{version} > last published {last_published}")
    return _gate("semver", False, f"{version} is not greater than the last published version "
                 f"{last_published}: raise `version:` in dteg-component.yaml and pyproject.toml")


def _has_body(text: str) -> bool:
    """More than headings and blank lines."""
    return any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines())


def docs_gate(component: ComponentFolder) -> Gate:
    missing = []
    for section in DOC_SECTIONS:
        rel = getattr(component.manifest.documentation, section)
        path = component.root / rel
        if not path.is_file():
            missing.append(f"{section} ({rel} is missing)")
        elif not _has_body(path.read_text(encoding="utf-8")):
            missing.append(f"{section} ({rel} is empty)")
    if missing:
        return _gate("docs", False, "incomplete: " + ", ".join(missing))
    return _gate("docs", True, "complete: " + ", ".join(DOC_SECTIONS))


def coverage_gate(component: ComponentFolder, tested: ComponentReport) -> Gate:
    required = component.manifest.quality_gates.required.test_coverage
    tests = tested.step("tests")
    percent = tests.value if tests is not None and tests.value is not None else 0.0
    if tests is not None and not tests.passed:
        return _gate("coverage", False, tests.detail, percent, required)
    ok = percent >= required
    return _gate("coverage", ok, f"{percent:.1f} % of lines and branches covered by its tests "
                 f"({'≥' if ok else 'below'} the required {required:.0f} %)", percent, required)


def performance_gate(component: ComponentFolder, tested: ComponentReport) -> Gate:
    floor = component.manifest.performance.min_rows_per_second
    kit = tested.step("kit")
    if kit is not None and not kit.passed:
        return _gate("performance", False, f"not run: the test kit failed ({kit.detail})",
                     None, floor)
    perf = tested.step("performance")
    if perf is None or perf.value is None:
        return _gate("performance", False, "the performance test did not run", None, floor)
    return _gate("performance", perf.passed, perf.detail, perf.value, floor)


def bandit_high_findings(component: ComponentFolder) -> list[str]:
    """Bandit's high-severity findings in the component's code (not its tests)."""
    try:
        ran = subprocess.run(  # nosec B603 - a fixed command on the author's own folder
            [sys.executable, "-m", "bandit", "-r", "-q", "-f", "json", str(component.src)],
            capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return ["bandit did not finish in 600 s"]
    try:
        results = json.loads(ran.stdout)["results"]
    except (json.JSONDecodeError, KeyError):
        raise ConfigError(f"bandit could not scan {component.src}: "
                          f"{(ran.stderr.strip().splitlines() or ['no output'])[-1]}",
                          hint="Install it with `pip install 'dteg[author]'`.") from None
    return [f"{r['test_id']} {r['issue_text']} ({r['filename']}:{r['line_number']})"
            for r in results if r.get("issue_severity") == "HIGH"]


def _affected(entry: dict[str, Any], probe: Version) -> bool:
    for rng in entry.get("ranges", []):
        if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
            continue
        introduced: Version | None = None
        for event in rng.get("events", []):
            try:
                if "introduced" in event:
                    introduced = Version(str(event["introduced"]))
                elif introduced is not None and ("fixed" in event or "last_affected" in event):
                    end = Version(str(event.get("fixed", event.get("last_affected"))))
                    inside = probe < end if "fixed" in event else probe <= end
                    if introduced <= probe and inside:
                        return True
                    introduced = None
            except InvalidVersion:
                continue
        if introduced is not None and probe >= introduced:
            return True  # introduced and never fixed
    return str(probe) in {str(v) for v in entry.get("versions", [])}


def vulnerable_dependencies(requirements: Iterable[str],
                            advisories: list[dict[str, Any]]) -> list[str]:
    """Each requirement that admits a version an OSV advisory lists as affected.

    The probes are the advisory's own versions and range starts, the requirement's bounds, and
    ``0`` (the lowest version, for a requirement without a lower bound): a requirement is
    flagged when it admits a probe that the advisory says is affected."""
    found = []
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            found.append(f"`{text}` is not a valid requirement")
            continue
        name = canonicalize_name(req.name)
        for adv in advisories:
            for entry in adv.get("affected", []):
                package = entry.get("package", {})
                if package.get("ecosystem", "PyPI") != "PyPI" or canonicalize_name(
                        str(package.get("name", ""))) != name:
                    continue
                probes = {"0", *map(str, entry.get("versions", []))}
                # The requirement's own bounds (`>=1.5` admits 1.5, `>1.5` admits 1.5.0.1).
                for spec in req.specifier:
                    bound = spec.version.removesuffix(".*")
                    probes.update({bound, f"{bound}.0.1"})
                for rng in entry.get("ranges", []):
                    for event in rng.get("events", []):
                        probes.update(str(v) for k, v in event.items() if k != "fixed")
                hits = []
                for raw in sorted(probes):
                    try:
                        probe = Version(raw)
                    except InvalidVersion:
                        continue
                    if req.specifier.contains(probe, prereleases=True) and _affected(entry,
                                                                                     probe):
                        hits.append(raw)
                if hits:
                    found.append(f"`{text}` admits {req.name} {', '.join(hits[:3])}, affected by "
                                 f"{adv.get('id', '?')} ({adv.get('summary', 'no summary')})")
                    break
    return found


def security_gate(component: ComponentFolder, requirements: list[str],
                  advisories: list[dict[str, Any]]) -> Gate:
    problems = bandit_high_findings(component)
    problems += vulnerable_dependencies(requirements, advisories)
    if problems:
        return _gate("security", False, "; ".join(problems))
    return _gate("security", True, f"bandit: no high-severity finding; {len(requirements)} "
                 f"dependencies checked against {len(advisories)} advisories")


def run_gates(component: ComponentFolder, tested: ComponentReport, *,
              last_published: str | None, advisories: list[dict[str, Any]],
              requirements: list[str] | None = None) -> GateReport:
    """Every required gate, in the order the report shows them."""
    m = component.manifest
    deps = component.dependencies if requirements is None else requirements
    return GateReport(m.name, m.version, [
        manifest_gate(component),
        semver_gate(m.version, last_published),
        docs_gate(component),
        coverage_gate(component, tested),
        security_gate(component, deps, advisories),
        performance_gate(component, tested),
    ])
