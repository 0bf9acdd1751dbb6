"""`dteg create`: every kind writes a complete package whose manifest, entry point and docs
agree (the full `dteg test` of generated packages is in tests/integration/marketplace)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dteg.errors import ConfigError
from dteg.marketplace.component_test import find_component
from dteg.marketplace.create import TEMPLATES_BY_KIND, create_component
from dteg.marketplace.gates import docs_gate, manifest_gate


@pytest.mark.parametrize("kind", list(TEMPLATES_BY_KIND))
def test_every_kind_is_a_complete_package(kind: str, tmp_path: Path) -> None:
    root = create_component(kind, f"my-{kind}", parent=tmp_path, author="Ada <ada@example>")
    component = find_component(root)
    m = component.manifest
    assert m.kind == TEMPLATES_BY_KIND[kind].kind and m.author == "Ada <ada@example>"
    assert m.compatibility.accepts("0.1.0", "3.11.0") == []
    assert manifest_gate(component).passed and docs_gate(component).passed
    module = root / "src" / f"dteg_my_{kind}"
    assert (module / "__init__.py").is_file() and (module / "config.py").is_file()
    assert list(root.glob("tests/test_*.py"))
    assert not list(root.rglob("*.tmpl")) and "{{" not in "".join(
        p.read_text() for p in root.rglob("*") if p.is_file())
    # The generated code is valid Python that imports (with its src/ on the path).
    paths = [str(root / "src"), *(os.path.abspath(p) for p in
                                  os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)]
    ran = subprocess.run(
        [sys.executable, "-c", f"import dteg_my_{kind} as m; print(m.COMPONENT.kind)"],
        cwd=root / "src", env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == m.provides[0].kind


def test_refuses_unknown_kind_bad_name_and_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown component kind `widget`"):
        create_component("widget", "x", parent=tmp_path)
    with pytest.raises(ConfigError, match="is not a component name"):
        create_component("connector", "My_Connector", parent=tmp_path)
    create_component("connector", "dup", parent=tmp_path)
    with pytest.raises(ConfigError, match="already exists"):
        create_component("connector", "dup", parent=tmp_path)
