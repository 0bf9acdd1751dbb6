"""Plain helpers the unit tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from dteg.spec.loader import load_yaml_text
from dteg.spec.models import PipelineSpec
from dteg.spec.phases import check_file_shape

REPO = Path(__file__).resolve().parents[2]
BROKEN = Path(__file__).resolve().parent / "broken"


def shape(text: str, *, base_dir: Path | None = None,
          environ: dict[str, str] | None = None) -> PipelineSpec:
    """Load YAML text and run the first (shape) phase only."""
    text = textwrap.dedent(text).lstrip("\n")
    doc = load_yaml_text(text, "p.yaml")
    return check_file_shape(doc, file="p.yaml", base_dir=base_dir or Path("/nonexistent"),
                            environ=environ or {})
