"""The OpenAPI document of ``/api/v1``, as committed in ``docs/openapi.json``:
``python -m dteg.server.openapi [--output docs/openapi.json]``. A test fails when the code
and the committed file differ (regenerate with ``make openapi``)."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.store.store import Store
from dteg.server.app import create_app
from dteg.server.context import ServerContext

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open("sqlite://")
        try:
            app = create_app(ServerContext(store=store, catalog=Catalog(Path(folder))))
            return app.openapi()
        finally:
            store.close()


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, help="Write here instead of stdout")
    args = parser.parse_args()
    text = render(document())
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
