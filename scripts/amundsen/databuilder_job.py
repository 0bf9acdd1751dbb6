"""Load dteg's catalog export into Amundsen with databuilder's own models and job.

    dteg catalog export pipelines/ --output catalog.json
    ~/.cache/dteg/amundsen-venv/bin/python scripts/amundsen/databuilder_job.py catalog.json OUT

Runs in a virtualenv of its own (``scripts/amundsen/setup-venv``: ``amundsen-databuilder``
pins libraries dteg cannot share). Builds ``TableMetadata`` (columns, descriptions, tags),
``TableOwner``, ``Watermark`` and ``TableLineage`` records, and runs a databuilder
``DefaultJob`` whose loader is ``FsNeo4jCSVLoader``: node and relationship CSVs under OUT,
the files databuilder's ``Neo4jCsvPublisher`` pushes into a live Amundsen's Neo4j (add
``--publish`` settings for your Neo4j to publish; not run here, there is no Amundsen)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from databuilder.extractor.base_extractor import Extractor
from databuilder.job.job import DefaultJob
from databuilder.loader.file_system_neo4j_csv_loader import FsNeo4jCSVLoader
from databuilder.models.table_lineage import TableLineage
from databuilder.models.table_metadata import ColumnMetadata, TableMetadata
from databuilder.models.table_owner import TableOwner
from databuilder.models.watermark import Watermark
from databuilder.task.task import DefaultTask
from pyhocon import ConfigFactory


def records(export: dict[str, Any]) -> Iterator[Any]:
    """databuilder model records for every table of a dteg catalog export."""
    for t in export["tables"]:
        columns = [ColumnMetadata(c["name"], c["description"] or None, c["type"],
                                  c["sort_order"]) for c in t["columns"]]
        yield TableMetadata(t["database"], t["cluster"], t["schema"], t["table"],
                            t["description"], columns, tags=t["tags"] or None)
        if t["owners"]:
            yield TableOwner(db_name=t["database"], schema=t["schema"],
                             table_name=t["table"], owners=t["owners"],
                             cluster=t["cluster"])
        if t["watermark"]:
            yield Watermark(create_time=t["watermark"], database=t["database"],
                            schema=t["schema"], table_name=t["table"],
                            part_name=f"last_written={t['watermark']}",
                            part_type="high_watermark", cluster=t["cluster"])
        if t["downstream"]:
            yield TableLineage(table_key=t["key"], downstream_deps=t["downstream"])


class DtegCatalogExtractor(Extractor):
    """Extracts the records of a dteg catalog export file (``extractor.dteg.path``)."""

    def init(self, conf: Any) -> None:
        export = json.loads(Path(conf.get_string("path")).read_text(encoding="utf-8"))
        self._iter = iter(list(records(export)))

    def extract(self) -> Any:
        return next(self._iter, None)

    def get_scope(self) -> str:
        return "extractor.dteg"


def run(export_file: Path, out: Path) -> None:
    conf = ConfigFactory.from_dict({
        "extractor.dteg.path": str(export_file),
        "loader.filesystem_csv_neo4j.node_dir_path": str(out / "nodes"),
        "loader.filesystem_csv_neo4j.relationship_dir_path": str(out / "relationships"),
        "loader.filesystem_csv_neo4j.delete_created_directories": False,
    })
    DefaultJob(conf=conf, task=DefaultTask(extractor=DtegCatalogExtractor(),
                                           loader=FsNeo4jCSVLoader())).launch()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: databuilder_job.py CATALOG_JSON OUT_DIR")
    run(Path(sys.argv[1]), Path(sys.argv[2]))
