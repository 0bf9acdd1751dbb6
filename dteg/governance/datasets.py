"""The OpenLineage identity (namespace, name) of the dataset a step reads or writes."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from dteg.spec.models import PipelineSpec, StepSpec

FILE_CONNECTORS = {"csv", "jsonl", "parquet", "avro"}


def _file_identity(path: str, base_dir: Path) -> tuple[str, str]:
    if "://" in path and not path.startswith("file://"):
        url = urlparse(path)
        return f"{url.scheme}://{url.netloc}", url.path.lstrip("/") or "/"
    local = Path(path.removeprefix("file://")).expanduser()
    return "file", str(local if local.is_absolute() else (base_dir / local).resolve())


def dataset_of(spec: PipelineSpec, step: StepSpec) -> tuple[str, str]:
    config = step.config
    if step.component in FILE_CONNECTORS:
        path = config.get("path", "")
        first = path[0] if isinstance(path, list) and path else path
        namespace, name = _file_identity(str(first), spec.base_dir)
    elif step.component == "duckdb":
        database = str(config.get("database", "warehouse.duckdb"))
        if database == ":memory:":
            namespace = "duckdb://memory"
        else:
            db_path = Path(database)
            namespace = "duckdb://" + str(
                db_path if db_path.is_absolute() else (spec.base_dir / db_path).resolve())
        name = str(config.get("table") or f"query:{step.name}")
    elif step.component == "kafka":
        # OpenLineage naming: namespace kafka://{first bootstrap server}, name = topic.
        servers = str(config.get("bootstrap_servers", "")).split(",")[0].strip()
        topic = config.get("topic") or config.get("topic_name") or ""
        namespace = f"kafka://{servers}"
        name = ",".join(topic) if isinstance(topic, list) else str(topic)
    else:
        namespace, name = f"dteg://{step.component or step.type}", f"{spec.name}.{step.name}"
    return spec.redactor(namespace), spec.redactor(name)
