"""``dteg publish NAME``: build the wheel and sdist, run ``dteg test`` and every quality gate,
sign both artifacts with the publisher's Ed25519 key and upload them with the gate report.

A failed gate refuses the publish before anything is uploaded, naming each failed gate and why
(``GatesFailed``); the registry checks the report's required gates and the signatures again.
"""

from __future__ import annotations

import email
import shutil
import subprocess  # nosec B404 - runs `python -m build` from this environment
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dteg.errors import ConfigError, DtegError
from dteg.marketplace.component_test import ComponentFolder, find_component, run_component_tests
from dteg.marketplace.gates import GateReport, run_gates
from dteg.marketplace.signing import PublisherKey


class GatesFailed(DtegError):
    """A required quality gate failed: nothing was uploaded."""

    exit_code = 1

    def __init__(self, report: GateReport) -> None:
        self.report = report
        failed = "; ".join(f"{g.name}: {g.detail}" for g in report.failed)
        super().__init__(f"publish of {report.component} {report.version} refused, "
                         f"{len(report.failed)} quality gate(s) failed — {failed}",
                         hint="Fix these and run `dteg publish` again (`dteg test NAME` "
                         "shows the tests, coverage and performance).")


@dataclass(frozen=True)
class Artifacts:
    wheel: Path
    sdist: Path


def build_artifacts(component: ComponentFolder, outdir: Path) -> Artifacts:
    """The wheel and sdist, built from the component folder without network access (the build
    backend must be installed here: ``--no-isolation``)."""
    outdir.mkdir(parents=True, exist_ok=True)
    ran = subprocess.run(  # nosec B603 - a fixed command on the author's own folder
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
         "--outdir", str(outdir), str(component.root)],
        capture_output=True, text=True, timeout=900, check=False)
    wheels, sdists = sorted(outdir.glob("*.whl")), sorted(outdir.glob("*.tar.gz"))
    if ran.returncode != 0 or not wheels or not sdists:
        said = (ran.stderr.strip() or ran.stdout.strip()).splitlines()[-5:]
        raise ConfigError(f"could not build {component.manifest.name}: {' | '.join(said)}",
                          hint="Build it yourself with `python -m build --no-isolation` to see "
                          "why; `pip install 'dteg[author]'` brings the build tools.")
    return Artifacts(wheels[-1], sdists[-1])


def wheel_requirements(wheel: Path) -> list[str]:
    """The wheel's ``Requires-Dist`` lines (what the security gate checks)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(name))
    return [str(r) for r in metadata.get_all("Requires-Dist") or []]


@dataclass(frozen=True)
class Published:
    report: GateReport
    artifacts: Artifacts
    version: dict[str, Any]  # the registry's record of the new version


def check_component(component: ComponentFolder, client: Any, outdir: Path
                    ) -> tuple[GateReport, Artifacts]:
    """Build (into ``outdir``), test and gate ``component`` against the registry ``client``
    talks to."""
    artifacts = build_artifacts(component, outdir)
    tested = run_component_tests(component.root)
    report = run_gates(component, tested,
                       last_published=client.latest_version(component.manifest.name),
                       advisories=client.advisories(),
                       requirements=wheel_requirements(artifacts.wheel))
    return report, artifacts


def publish(target: str | Path, *, client: Any, key: PublisherKey, publisher: str,
            dist: Path | None = None) -> Published:
    """Publish the component folder ``target`` through ``client`` (a ``RegistryClient``); the
    built artifacts stay in ``dist`` (default: the component's ``dist/<version>/``)."""
    component = find_component(target)
    outdir = dist or component.root / "dist" / component.manifest.version
    if outdir.exists():
        shutil.rmtree(outdir)  # a rebuild of the same version replaces the old artifacts
    report, artifacts = check_component(component, client, outdir)
    if not report.passed:
        raise GatesFailed(report)
    kid = key.key_id(publisher)
    signatures = {path.name: {**key.sign_file(path), "key_id": kid}
                  for path in (artifacts.wheel, artifacts.sdist)}
    manifest = component.manifest.model_dump(mode="json")
    manifest["publisher"] = manifest.get("publisher") or publisher
    version = client.publish(manifest, artifacts.wheel, artifacts.sdist, signatures,
                             report.to_dict())
    return Published(report, artifacts, version)
