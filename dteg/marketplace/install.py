"""``dteg install / update / uninstall``: pick a version that fits this dteg and Python, verify
it (``verify``), install its wheel into the running environment with pip, record it in
``dteg.lock``.

Order matters for "a crash loses nothing": compatibility and signature are checked before pip
runs; the lock is written only after pip succeeded, so the lock never names a component that
is not installed (a crash between the two leaves an installed, unlocked package, which the
next install of the same version records).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import Version

from dteg.errors import ConfigError, ConnectorError, SpecError
from dteg.marketplace.client import RegistryClient, RegistryError
from dteg.marketplace.compat import running, version_reason
from dteg.marketplace.lock import LockedComponent, now_iso, read_lock, write_lock
from dteg.marketplace.verify import fetch_verified, wheel_of

_REF = re.compile(r"^marketplace://(?P<name>[a-z0-9][a-z0-9-]*)(@(?P<version>[^@\s]+))?$")


@dataclass(frozen=True)
class Ref:
    """``marketplace://NAME[@VERSION]``."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return f"marketplace://{self.name}" + (f"@{self.version}" if self.version else "")


def parse_ref(text: str) -> Ref:
    """A ``marketplace://`` reference (a bare name is accepted too)."""
    match = _REF.match(text if text.startswith("marketplace://") else f"marketplace://{text}")
    if not match:
        raise ConfigError(f"`{text}` is not a marketplace reference",
                          hint="Write `marketplace://NAME` or `marketplace://NAME@1.2.3`, "
                               "e.g. `dteg install marketplace://kafka-extractor`.")
    return Ref(match["name"], match["version"])


def choose(client: RegistryClient, ref: Ref) -> dict[str, Any]:
    """The version document to install: the pinned one if it fits, else the newest that fits
    this dteg and Python; a ConfigError with the reason when none does."""
    dteg, python = running()
    if ref.version:
        doc = client.version(ref.name, ref.version)
        why = version_reason(doc, dteg=dteg, python=python)
        if why:
            raise ConfigError(
                f"{ref.name} {ref.version} cannot be installed here: {why}",
                hint=f"`dteg install marketplace://{ref.name}` picks the newest version that "
                     "fits; or upgrade dteg/Python to what it needs.")
        return doc
    try:
        found: dict[str, Any] = client.compatible(ref.name, dteg=dteg, python=python)["version"]
        return found
    except RegistryError as exc:
        if exc.kind != "incompatible":
            raise
        reasons = "; ".join(f"{v}: {why}" for v, why in exc.detail.get("reasons", {}).items())
        raise ConfigError(
            f"no version of {ref.name} can be installed here (dteg {dteg}, Python {python}): "
            f"{reasons}",
            hint="Upgrade dteg/Python to what a version needs, or ask the publisher for a "
                 "compatible release.") from None


def pip_install(wheel: Path, python: str | None = None) -> None:
    """``pip install`` one verified wheel into the environment of ``python`` (this one)."""
    _pip(python, ["install", "--no-input", "--disable-pip-version-check", "--quiet", str(wheel)],
         f"installing {wheel.name}")


def pip_uninstall(package: str, python: str | None = None) -> None:
    _pip(python, ["uninstall", "--yes", "--quiet", package], f"uninstalling {package}")


def _pip(python: str | None, args: list[str], what: str) -> None:
    # The wheel is installed by path, already verified; its own requirements come from
    # pip's configured index like any other dependency.
    done = subprocess.run([python or sys.executable, "-m", "pip", *args], capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise ConnectorError(f"pip failed {what}: {' | '.join(tail)}",
                             hint="Fix the environment pip reports, then run the command again.")


def pricing_label(component: dict[str, Any]) -> str:
    """``free``, ``premium 49.00 USD/month``, ``enterprise`` from a component's ``pricing``."""
    from dteg.marketplace.manifest import Pricing

    given = component.get("pricing") or {}
    try:
        return Pricing.model_validate({k: v for k, v in given.items() if v is not None}).label()
    except ValueError:
        return str(given.get("tier") or "free")


def licence_for(component: dict[str, Any]) -> str:
    """The id of the installed licence that covers a premium/enterprise component (checked
    offline: signature, expiry + grace, components, cap), else ``LicenceRefused``; "" for a
    free one."""
    if (component.get("pricing") or {}).get("tier", "free") == "free":
        return ""
    from dteg.marketplace import licences, metering

    verdict = licences.check_component(str(component["name"]), price=pricing_label(component),
                                       usage=metering.usage_of())
    if verdict.warning:
        sys.stderr.write(verdict.warning + "\n")
    return verdict.licence.id


def install(client: RegistryClient, ref: Ref, lock_path: Path) -> LockedComponent:
    """Install ``ref`` (verified; a premium one only under a valid licence) and record it in
    the lock; returns the lock entry."""
    doc = choose(client, ref)
    component = client.component(ref.name)
    licence = licence_for(component)
    with tempfile.TemporaryDirectory(prefix="dteg-install-") as tmp:
        try:
            wheel = fetch_verified(client, doc, Path(tmp))
        except RegistryError as exc:
            if exc.kind != "licence":
                raise
            from dteg.marketplace.licences import LicenceRefused

            raise LicenceRefused(exc.detail.get("message") or exc.message,
                                 hint=exc.hint) from None
        pip_install(wheel)
    artifact = wheel_of(doc)
    entry = LockedComponent(
        name=doc["name"], version=doc["version"], package=str(doc.get("package") or doc["name"]),
        registry=client.url, wheel=artifact["filename"], sha256=artifact["sha256"],
        key_id=artifact.get("key_id", ""), tier=str(component.get("tier", "community")),
        kind=str(component.get("kind", "")), installed_at=now_iso(),
        pricing=pricing_label(component), licence=licence)
    locked = read_lock(lock_path)
    locked[entry.name] = entry
    write_lock(lock_path, locked)
    return entry


def uninstall(name: str, lock_path: Path) -> LockedComponent:
    """Remove an installed component and its lock entry."""
    locked = read_lock(lock_path)
    entry = locked.get(name)
    if entry is None:
        known = ", ".join(sorted(locked)) or "none"
        raise ConfigError(f"`{name}` is not installed through the marketplace (lock "
                          f"{lock_path}; installed: {known})",
                          hint="`dteg components list` shows what is installed.")
    pip_uninstall(entry.package)
    del locked[name]
    write_lock(lock_path, locked)
    return entry


@dataclass(frozen=True)
class Update:
    """An available update of one installed component."""

    installed: LockedComponent
    target: dict[str, Any]
    breaking: list[dict[str, Any]]


def breaking_between(target: dict[str, Any], installed: str) -> list[dict[str, Any]]:
    """Breaking changes the new version's manifest lists after ``installed``."""
    new, old = Version(target["version"]), Version(installed)
    return [c for c in target.get("breaking_changes", [])
            if old < Version(str(c.get("version"))) <= new]


def plan_updates(client: RegistryClient, lock_path: Path,
                 name: str | None = None) -> list[Update]:
    """For each installed component (or ``name``), the newest compatible newer version."""
    locked = read_lock(lock_path)
    if name is not None and name not in locked:
        raise ConfigError(f"`{name}` is not installed through the marketplace",
                          hint=f"Install it first: `dteg install marketplace://{name}`.")
    updates = []
    for entry in ([locked[name]] if name else list(locked.values())):
        target = choose(client, Ref(entry.name))
        if Version(target["version"]) > Version(entry.version):
            updates.append(Update(entry, target, breaking_between(target, entry.version)))
    return updates


def apply_update(client: RegistryClient, update: Update, lock_path: Path) -> LockedComponent:
    return install(client, Ref(update.target["name"], update.target["version"]), lock_path)


def pipeline_refs(path: Path) -> list[Ref]:
    """Every ``components.marketplace`` entry of a pipeline file, at its pinned version."""
    from dteg.spec.loader import load_yaml_file

    doc = load_yaml_file(path)
    body = doc.data.get("pipeline") if isinstance(doc.data, dict) else None
    entries = ((body or {}).get("components") or {}).get("marketplace") or []
    refs = []
    for index, entry in enumerate(entries):
        where = ("pipeline", "components", "marketplace", index)
        if not isinstance(entry, dict) or not entry.get("name"):
            raise SpecError("a components.marketplace entry needs `name:`",
                            location=doc.source_map.at(where),
                            hint="Write `- {name: kafka-extractor, version: \"1.0.0\", "
                                 "source: \"dteg://streaming/kafka\"}`.")
        version = entry.get("version")
        refs.append(Ref(str(entry["name"]), str(version) if version is not None else None))
    return refs

