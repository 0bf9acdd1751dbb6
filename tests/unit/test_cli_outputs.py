"""`dteg plan`, `dteg schema` and `dteg connectors list`: what they print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dteg.spec.models import STEP_KINDS

from ._helpers import REPO

QUICKSTART = REPO / "pipelines" / "quickstart.yaml"


def test_plan_text_lists_steps_in_order_with_lines_and_config(cli) -> None:
    result = cli("plan", str(QUICKSTART))
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert lines[0] == f"pipeline quickstart ({QUICKSTART})"
    steps = [line.strip() for line in lines if line[:5].strip().rstrip(".").isdigit()]
    assert steps == [
        "1. extract: extract csv  [line 24]",
        "2. validate: validate validate ← extract  [line 16] "
        "(from pipeline.quality.validation_rules)",
        "3. mask: mask mask ← validate  [line 10] (from pipeline.security.data_masking)",
        "4. load: load duckdb ← mask  [line 30]",
        "5. transform: transform dbt ← load  [line 37]",
    ]
    assert '       table: "customers"' in lines
    # The masking key is shown as written, not resolved.
    assert '       key: "${env:DTEG_MASKING_KEY:-quickstart-demo-key}"' in lines
    assert result.out.count("quickstart-demo-key") == 1
    assert lines[-2].strip() == "dead letters → .dteg/dead_letter/quickstart/<run>.jsonl"


def test_plan_json_parses(cli) -> None:
    result = cli("plan", str(QUICKSTART), "--format", "json")
    assert result.code == 0, result.text
    plan = json.loads(result.out)
    assert plan["pipeline"] == "quickstart"
    assert [(s["name"], s["kind"], s["component"], s["inputs"], s["line"])
            for s in plan["steps"]] == [
        ("extract", "extract", "csv", [], 24),
        ("validate", "validate", "validate", ["extract"], 16),
        ("mask", "mask", "mask", ["validate"], 10),
        ("load", "load", "duckdb", ["mask"], 30),
        ("transform", "transform", "dbt", ["load"], 37),
        # The generated dead-letter sink reads the rejects of every producer.
        ("dead_letter", "load", "jsonl", ["extract", "validate", "mask"], 4),
    ]
    assert plan["steps"][3]["config"] == {"database": ".dteg/warehouse.duckdb",
                                          "table": "customers", "mode": "merge", "key": "id"}
    assert plan["warnings"] == []


def test_plan_mermaid(cli) -> None:
    result = cli("plan", str(QUICKSTART), "-f", "mermaid")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "flowchart LR"
    assert '    s_load["load<br/>load: duckdb"]' in lines
    assert "    s_extract --> s_validate" in lines
    assert "    s_mask --> s_load" in lines


def test_plan_dot(cli) -> None:
    result = cli("plan", str(QUICKSTART), "--format", "dot")
    assert result.code == 0
    assert result.out.startswith('digraph "quickstart" {')
    assert '    "mask" -> "load";' in result.out.splitlines()
    assert result.out.rstrip().endswith("}")


def test_plan_refuses_an_unknown_format(cli) -> None:
    result = cli("plan", str(QUICKSTART), "--format", "svg")
    assert result.code == 2
    assert "unknown plan format `svg`. Use one of: text, mermaid, dot, json." in result.err


def test_plan_prints_warnings_on_stderr(cli, write_pipeline) -> None:
    path = write_pipeline("""
        pipeline:
          name: p
          steps:
            - extract: {name: a, type: csv, config: {path: a.csv}}
            - extract: {name: b, type: csv, config: {path: b.csv}}
            - load: {input: a, type: duckdb, config: {table: t}}
    """)
    result = cli("plan", str(path), "--format", "json")
    assert result.code == 0
    message = f"step `b` ({path}:5): its output goes nowhere (no load reads it)"
    assert json.loads(result.out)["warnings"] == [message]
    assert f"warning: {message}" in result.err


def test_schema_is_json_with_a_variant_per_step_kind(cli) -> None:
    result = cli("schema")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "dteg pipeline"
    assert schema["required"] == ["pipeline"]
    variants = schema["$defs"]["PipelineBody"]["properties"]["steps"]["items"]["oneOf"]
    assert [v["required"] for v in variants] == [[k] for k in STEP_KINDS]
    assert all(v["additionalProperties"] is False for v in variants)
    # Every $ref resolves.
    refs = {ref.split("/")[-1] for ref in _refs(schema)}
    assert refs <= set(schema["$defs"])


def test_schema_spells_out_the_csv_source_config(cli) -> None:
    schema = json.loads(cli("schema").out)
    csv = schema["$defs"]["source_csv_config"]
    assert csv["required"] == ["path"]
    assert csv["additionalProperties"] is False
    assert {"path", "delimiter", "header", "schema", "batch_rows"} <= set(csv["properties"])
    extract = schema["$defs"]["PipelineBody"]["properties"]["steps"]["items"]["oneOf"][0]
    conditions = extract["properties"]["extract"]["allOf"][1:]
    csv_condition = next(c for c in conditions
                         if c["if"]["properties"]["type"]["enum"] == ["csv"])
    assert csv_condition["if"]["required"] == ["type"]
    assert csv_condition["then"] == {
        "properties": {"config": {"$ref": "#/$defs/source_csv_config"}}}
    # The duckdb sink's modes are an enum editors can offer.
    modes = schema["$defs"]["sink_duckdb_config"]["properties"]["mode"]
    assert modes["enum"] == ["append", "replace", "merge"]


def test_schema_output_file(cli, tmp_path: Path) -> None:
    target = tmp_path / "dteg.schema.json"
    result = cli("schema", "--output", str(target))
    assert result.code == 0
    assert result.out.strip() == f"wrote {target}"
    assert json.loads(target.read_text(encoding="utf-8"))["title"] == "dteg pipeline"


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_connectors_list(cli) -> None:
    result = cli("connectors", "list")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines.index("sources:") < lines.index("sinks:") < lines.index("transforms:")
    sources = lines[lines.index("sources:") + 1:lines.index("sinks:")]
    sinks = lines[lines.index("sinks:") + 1:lines.index("transforms:")]
    transforms = lines[lines.index("transforms:") + 1:]
    names = [line.split()[0] for line in sources]
    assert names == sorted(names)
    assert {"avro", "csv", "duckdb", "jsonl", "parquet"} <= set(names)
    assert {"csv", "duckdb", "parquet"} <= {line.split()[0] for line in sinks}
    assert {"validate", "mask", "filter", "map", "dbt"} <= {line.split()[0] for line in transforms}
    jsonl = next(line for line in sources if line.split()[0] == "jsonl")
    assert "(also: json, ndjson)" in jsonl and jsonl.endswith("[built-in]")


# Examples that read what another example writes (run that one first).
READS_ANOTHER_EXAMPLES_OUTPUT = {"secure_customers_read.yaml": "out/secure_customers.parquet"}


@pytest.mark.parametrize("pipeline", sorted((REPO / "pipelines").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_example_pipeline_validates(cli, pipeline: Path) -> None:
    result = cli("validate", str(pipeline))
    if pipeline.name in READS_ANOTHER_EXAMPLES_OUTPUT and result.code == 2:
        # Its input does not exist until the other example ran: validate says so, as run would.
        missing = pipeline.parent / READS_ANOTHER_EXAMPLES_OUTPUT[pipeline.name]
        assert f"no file matches {missing}" in result.err, result.text
        return
    assert result.code == 0, result.text
    assert result.out.startswith(f"ok: {pipeline} is valid")


def test_plan_shows_access_level_alerts_and_component_versions(cli, write_pipeline) -> None:
    from dteg.version import __version__

    path = write_pipeline("""
        pipeline:
          name: p
          security: {access_level: restricted}
          monitoring:
            alerts:
              - {type: webhook, url: "https://hooks.example/secret-token", on: [failed, succeeded]}
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - load: {type: duckdb, config: {table: t}}
    """)
    result = cli("plan", str(path))
    assert result.code == 0, result.text
    lines = result.out.splitlines()
    assert "access_level: restricted" in lines
    assert "alert: webhook on failure, success" in lines  # the old names, read as new
    assert lines[-1].startswith(f"components: csv {__version__} (built-in), duckdb {__version__} "
                                "(built-in)")
    assert "secret-token" not in result.out
    plan = json.loads(cli("plan", str(path), "-f", "json").out)
    assert plan["access_level"] == "restricted"
    assert plan["alerts"] == [{"type": "webhook", "on": ["failure", "success"]}]
    assert (plan["steps"][0]["version"], plan["steps"][0]["origin"]) == (__version__, "built-in")


def test_validate_counts_one_step_in_the_singular(cli, write_pipeline) -> None:
    path = write_pipeline("""
        pipeline:
          name: p
          steps:
            - extract: {type: csv, config: {path: a.csv}}
    """)
    (path.parent / "a.csv").write_text("id\n1\n")
    result = cli("validate", str(path))
    assert "(1 step: extract)" in result.out, result.text


def test_sql_sink_descriptions_say_what_the_sink_does(cli) -> None:
    lines = cli("connectors", "list").out.splitlines()
    sinks = lines[lines.index("sinks:") + 1:lines.index("transforms:")]
    sources = lines[lines.index("sources:") + 1:lines.index("sinks:")]
    for name in ("postgres", "mysql"):
        sink = next(line for line in sinks if line.split()[0] == name)
        source = next(line for line in sources if line.split()[0] == name)
        assert "incremental" not in sink and "append, replace, merge" in sink
        assert "incremental, partitioned" in source


def test_version_and_bare_dteg_succeed(cli) -> None:
    from dteg.version import __version__

    version = cli("--version")
    assert (version.code, version.out.strip()) == (0, f"dteg {__version__}")
    bare = cli()
    assert bare.code == 0 and "Usage: dteg" in bare.out
    assert cli("connectors").code == 0


def test_help_lists_every_runner_and_shows_flags_without_a_type(cli) -> None:
    from dteg.runners.settings import RUNNERS

    text = " ".join(cli("run", "--help").out.split())
    assert all(runner in text for runner in RUNNERS) and "spark" in text
    assert "<bool>" not in text and "--quiet" in text and "--dry-run" in text
    assert "<bool>" not in cli("--help").out


def test_run_records_keep_the_whole_sha256_of_the_pipeline_file(tmp_path: Path) -> None:
    import hashlib

    from dteg.run.records import RunStore

    store = RunStore.for_folder(tmp_path)
    store.start(run_id="r1", pipeline="p", yaml_text="pipeline: {}\n", runner="direct")
    record = store.get("r1")
    assert record is not None
    assert record.yaml_sha256 == hashlib.sha256(b"pipeline: {}\n").hexdigest()
    assert len(record.yaml_sha256) == 64
