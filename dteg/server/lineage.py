"""The dataset ↔ pipeline graph: what every served pipeline reads and writes (its sources'
and sinks' OpenLineage identities, the names its lineage events carry), and each dataset's
schema history from the schemas its runs recorded."""

from __future__ import annotations

from dteg.orchestrator.catalog import Catalog
from dteg.orchestrator.store.store import Store
from dteg.server.models import Dataset, Graph, GraphEdge, GraphNode, Lineage, SchemaVersion
from dteg.server.run_detail import datasets_of

# Runs per pipeline whose schemas make up the history.
HISTORY_RUNS = 50


def pipeline_node_id(name: str) -> str:
    return f"pipeline:{name}"


def lineage(catalog: Catalog, store: Store, shown: frozenset[str] | None = None) -> Lineage:
    """``shown``: only these pipelines (and the datasets they touch); None: every one."""
    revisions = sorted((r for r in list(catalog.revisions.values())
                        if shown is None or r.name in shown), key=lambda r: r.name)
    datasets: dict[str, Dataset] = {}
    step_dataset: dict[tuple[str, str], str] = {}  # (pipeline, step) → dataset id
    nodes = [GraphNode(id=pipeline_node_id(r.name), label=r.name, kind="pipeline")
             for r in revisions]
    edges: list[GraphEdge] = []
    for revision in revisions:
        for ref in datasets_of(revision.spec):
            dataset = datasets.setdefault(ref.id, Dataset(id=ref.id, namespace=ref.namespace,
                                                          name=ref.name))
            step_dataset[(revision.name, ref.step)] = ref.id
            if ref.direction == "input":
                if revision.name not in dataset.consumers:
                    dataset.consumers.append(revision.name)
                edges.append(GraphEdge(source=ref.id, target=pipeline_node_id(revision.name)))
            else:
                if revision.name not in dataset.producers:
                    dataset.producers.append(revision.name)
                edges.append(GraphEdge(source=pipeline_node_id(revision.name), target=ref.id))
    nodes += [GraphNode(id=d.id, label=d.name, kind="dataset", type=d.namespace)
              for d in datasets.values()]
    _add_schema_history(datasets, step_dataset, store, [r.name for r in revisions])
    return Lineage(graph=Graph(nodes=nodes, edges=edges), datasets=list(datasets.values()))


def _add_schema_history(datasets: dict[str, Dataset], step_dataset: dict[tuple[str, str], str],
                        store: Store, pipelines: list[str]) -> None:
    last: dict[str, list[dict[str, str]]] = {}
    for point in store.succeeded_summaries(pipelines, HISTORY_RUNS):  # oldest first
        for step, fields in (point.summary.get("schemas") or {}).items():
            dataset_id = step_dataset.get((point.pipeline, step))
            if dataset_id is None or not isinstance(fields, list) or last.get(
                    dataset_id) == fields:
                continue
            last[dataset_id] = fields
            datasets[dataset_id].schema_history.insert(0, SchemaVersion(
                first_seen=point.at, run_id=point.run_id,
                fields=[{"name": str(f.get("name")), "type": str(f.get("type"))}
                        for f in fields]))
