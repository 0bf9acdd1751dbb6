"""Small real component packages for the registry tests and the bench: a wheel (PEP 427: dist-info
with METADATA, WHEEL, entry_points.txt, RECORD with hashes) and an sdist, written with zipfile
and tarfile so no build backend runs. pip installs these wheels like any other.

The component's code is a source entry point that reuses dteg's CSV reader, so a pipeline can
run it without a service.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import yaml

from dteg.marketplace import signing


def manifest(name: str, version: str, *, framework: str = ">=0.1,<1",
             python: str = ">=3.10", breaking: list[dict[str, str]] | None = None,
             kind: str = "extractor", category: str = "files",
             description: str | None = None,
             pricing: str | dict[str, Any] = "free") -> dict[str, Any]:
    """A complete ``dteg-component.yaml`` as a dict."""
    return {
        "name": name, "version": version, "author": "Test Author <t@example.com>",
        "description": description or f"{name}: reads CSV files (test component)",
        "kind": kind, "category": category, "pricing": pricing, "package": name,
        "provides": [{"kind": "source", "name": name}],
        "compatibility": {"framework_versions": framework, "python_versions": python},
        "performance": {"rows": 1000, "min_rows_per_second": 1.0},
        "breaking_changes": breaking or [],
    }


def _module(name: str) -> str:
    return name.replace("-", "_")


def _code(name: str, version: str, *, licensed: bool = False) -> str:
    # A premium component asks every run for its licence check and usage report.
    caps = (", capabilities=Capabilities(run_listener='dteg.marketplace.licence_run:create')"
            if licensed else "")
    return (
        '"""A marketplace test component: CSV files through dteg\'s CSV reader."""\n'
        "from dteg.components.capabilities import Capabilities\n"
        "from dteg.components.registry import ComponentInfo\n\n"
        f"COMPONENT = ComponentInfo({name!r}, 'source', 'dteg.connectors.csv.config:SourceConfig',"
        f" 'dteg.connectors.csv.source:create', 'CSV via {name} {version}', version={version!r}"
        f"{caps})\n"
    )


def _licensed(meta: dict[str, Any]) -> bool:
    pricing = meta.get("pricing")
    return isinstance(pricing, dict) and pricing.get("tier", "free") != "free"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(folder: Path, meta: dict[str, Any]) -> Path:
    """A pure-Python wheel whose entry point registers the component."""
    name, version = meta["name"], meta["version"]
    mod = _module(name)
    dist_info = f"{mod}-{version}.dist-info"
    files = {
        f"{mod}/__init__.py": _code(name, version, licensed=_licensed(meta)).encode(),
        f"{mod}/dteg-component.yaml": yaml.safe_dump(meta, sort_keys=False).encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: {meta['description']}\n"
            f"Requires-Python: {meta['compatibility']['python_versions']}\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: dteg-tests\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": f"[dteg.sources]\n{name} = {mod}:COMPONENT\n".encode(),
        f"{dist_info}/top_level.txt": f"{mod}\n".encode(),
    }
    record = [_record_line(p, d) for p, d in files.items()] + [f"{dist_info}/RECORD,,"]
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = folder / f"{mod}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as whl:
        for member, data in files.items():
            whl.writestr(member, data)
    return path


def build_sdist(folder: Path, meta: dict[str, Any]) -> Path:
    name, version = meta["name"], meta["version"]
    root = f"{_module(name)}-{version}"
    path = folder / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, text in ((f"{root}/PKG-INFO",
                              f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
                             (f"{root}/dteg-component.yaml", yaml.safe_dump(meta)),
                             (f"{root}/{_module(name)}/__init__.py", _code(name, version))):
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def passing_report(name: str, version: str) -> dict[str, Any]:
    """A gate report in which every required gate passed."""
    gates = {g: {"status": "pass", "detail": "ok", "value": None, "threshold": None}
             for g in ("manifest", "semver", "docs", "coverage", "security", "performance")}
    gates["coverage"].update(value=91.0, threshold=80.0)
    return {"component": name, "version": version, "passed": True, "gates": gates}


def sign(key: signing.PublisherKey, key_id: str, *paths: Path) -> dict[str, dict[str, str]]:
    """The ``signatures`` field of a publish: each file's signature over its name and sha256."""
    return {p.name: {"key_id": key_id,
                     "signature": key.sign(signing.message(p.name, signing.file_sha256(p)))}
            for p in paths}


def publish(client: Any, key: signing.PublisherKey, key_id: str, folder: Path,
            meta: dict[str, Any]) -> dict[str, Any]:
    """Build, sign and upload one version through the registry client."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel, sdist = build_wheel(folder, meta), build_sdist(folder, meta)
    return dict(client.publish(meta, wheel, sdist, sign(key, key_id, wheel, sdist),
                               passing_report(meta["name"], meta["version"])))


def dump(meta: dict[str, Any]) -> str:
    return json.dumps(meta)
