"""Each compile phase on its own: spec in, spec out (or a located SpecError)."""

from __future__ import annotations

import pytest

from dteg.components.registry import BUILT_INS, ComponentInfo, Registry
from dteg.errors import SpecError, SpecErrors
from dteg.spec.models import PipelineSpec
from dteg.spec.phases import (
    PHASES,
    check_configs,
    check_graph,
    compile_spec,
    insert_dead_letter_sink,
    insert_policy_steps,
    normalize_steps,
    resolve_types,
    run_blockers,
)

from ._helpers import shape


def _names(spec: PipelineSpec) -> list[str]:
    return [s.name for s in spec.steps]


def _inputs(spec: PipelineSpec) -> dict[str, tuple[str, ...]]:
    return {s.name: s.inputs for s in spec.steps}


def test_phases_run_in_documented_order() -> None:
    assert [name for name, _ in PHASES] == [
        "normalize_steps", "insert_policy_steps", "insert_dead_letter_sink", "resolve_types",
        "check_configs", "check_masking_keys", "check_graph", "check_monitoring", "check_tests",
    ]


# --- normalize_steps ------------------------------------------------------------------------


def test_normalize_names_steps_by_kind_and_counts_repeats() -> None:
    spec = normalize_steps(shape("""
        pipeline:
          name: p
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - filter: {config: {where: "x > 1"}}
            - load: {type: duckdb, config: {table: t}}
            - load: {type: parquet, config: {path: out/}}
    """))
    assert _names(spec) == ["extract", "filter", "load_1", "load_2"]
    # A chain: each step reads the nearest earlier step that produces rows (not a load).
    assert _inputs(spec) == {"extract": (), "filter": ("extract",), "load_1": ("filter",),
                             "load_2": ("filter",)}
    assert [s.kind for s in spec.steps] == ["extract", "filter", "load", "load"]
    # Own kinds carry their type; others keep the one written.
    assert [s.type for s in spec.steps] == ["csv", "filter", "duckdb", "parquet"]


def test_normalize_keeps_explicit_names_inputs_and_locations() -> None:
    spec = normalize_steps(shape("""
        pipeline:
          name: p
          steps:
            - extract:
                name: orders
                type: csv
                config: {path: o.csv}
            - extract:
                name: customers
                type: csv
                config: {path: c.csv}
            - load:
                input: orders
                type: duckdb
                config: {table: orders}
            - load:
                input: [customers]
                type: duckdb
                config: {table: customers}
    """))
    assert _names(spec) == ["orders", "customers", "load_1", "load_2"]
    assert _inputs(spec)["load_1"] == ("orders",)
    assert _inputs(spec)["load_2"] == ("customers",)
    # The location of a step is the line of its kind key.
    assert [s.location.line for s in spec.steps] == [4, 8, 12, 16]
    assert spec.step("load_2").path == ("pipeline", "steps", 3, "load")


def test_normalize_merges_body_keys_into_config_and_remembers_where() -> None:
    spec = normalize_steps(shape("""
        pipeline:
          name: p
          steps:
            - extract:
                type: csv
                path: a.csv
                config:
                  delimiter: ";"
            - transform:
                type: dbt
                model: m.sql
                tests: true
            - load: {type: duckdb, config: {table: t}}
    """))
    extract = spec.step("extract")
    assert extract.config == {"delimiter": ";", "path": "a.csv"}
    assert extract.config_paths == {
        "delimiter": ("pipeline", "steps", 0, "extract", "config", "delimiter"),
        "path": ("pipeline", "steps", 0, "extract", "path"),
    }
    assert spec.step("transform").config == {"model": "m.sql", "tests": True}
    # A dbt transform runs after the load and produces no rows: the load reads the extract.
    assert spec.step("load").inputs == ("extract",)


def test_normalize_refuses_a_key_in_body_and_config() -> None:
    with pytest.raises(SpecError) as info:
        normalize_steps(shape("""
            pipeline:
              name: p
              steps:
                - extract:
                    type: csv
                    path: a.csv
                    config:
                      path: b.csv
        """))
    assert info.value.location is not None and info.value.location.line == 6
    assert info.value.step == "extract"
    assert "`path` is set both in the step body and under `config:`" in info.value.message


def test_normalize_requires_a_type_for_extract_and_load() -> None:
    with pytest.raises(SpecError) as info:
        normalize_steps(shape("""
            pipeline:
              name: p
              steps:
                - extract:
                    config: {path: a.csv}
        """))
    assert info.value.message == "`type` is required"
    assert "e.g. `type: csv`" in (info.value.hint or "")
    assert info.value.location is not None and info.value.location.line == 4


# --- insert_policy_steps --------------------------------------------------------------------

POLICY = """
    pipeline:
      name: p
      security:
        data_masking: [email, phone]
        masking_key: k3y-k3y
      quality:
        on_failure: drop
        validation_rules:
          - type: null_check
            columns: [id]
      steps:
        - extract: {type: csv, config: {path: a.csv}}
        - filter: {config: {where: "id > 0"}}
        - load: {type: duckdb, config: {table: t}}
"""


def test_policy_steps_go_validate_then_mask_right_after_the_extract() -> None:
    spec = insert_policy_steps(normalize_steps(shape(POLICY)))
    assert _names(spec) == ["extract", "validate", "mask", "filter", "load"]
    assert _inputs(spec) == {"extract": (), "validate": ("extract",), "mask": ("validate",),
                             "filter": ("mask",), "load": ("filter",)}
    validate, mask = spec.step("validate"), spec.step("mask")
    assert validate.generated_from == "pipeline.quality.validation_rules"
    assert mask.generated_from == "pipeline.security.data_masking"
    assert validate.config == {"rules": [{"type": "null_check", "columns": ["id"]}],
                               "on_failure": "drop", "max_invalid_ratio": None}
    assert mask.config == {"columns": ["email", "phone"], "key": "k3y-k3y"}
    # Their locations are the policy keys' lines, for errors about them.
    assert validate.location.line == 8
    assert mask.location.line == 4
    assert mask.config_paths["key"] == ("pipeline", "security", "masking_key")


def test_policy_steps_per_source_when_there_are_several() -> None:
    spec = insert_policy_steps(normalize_steps(shape("""
        pipeline:
          name: p
          security: {data_masking: [email]}
          steps:
            - extract: {name: a, type: csv, config: {path: a.csv}}
            - extract: {name: b, type: csv, config: {path: b.csv}}
            - load: {input: a, type: duckdb, config: {table: a}}
            - load: {input: b, type: duckdb, config: {table: b}}
    """)))
    assert _names(spec) == ["a", "mask_a", "b", "mask_b", "load_1", "load_2"]
    assert _inputs(spec)["load_1"] == ("mask_a",)
    assert _inputs(spec)["load_2"] == ("mask_b",)
    assert _inputs(spec)["mask_b"] == ("b",)


def test_policy_step_names_do_not_collide_with_user_steps() -> None:
    spec = insert_policy_steps(normalize_steps(shape("""
        pipeline:
          name: p
          security: {data_masking: [email]}
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - mask: {config: {columns: [phone]}}
            - load: {type: duckdb, config: {table: t}}
    """)))
    assert _names(spec) == ["extract", "mask_policy", "mask", "load"]
    assert spec.step("mask").inputs == ("mask_policy",)


def test_no_policy_leaves_the_spec_alone() -> None:
    spec = normalize_steps(shape("""
        pipeline:
          name: p
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - load: {type: duckdb, config: {table: t}}
    """))
    assert insert_policy_steps(spec) is spec


# --- resolve_types --------------------------------------------------------------------------

MARKET = """
    pipeline:
      name: p
      components:
        marketplace:
          - name: twitter-extractor
            source: dteg://social/twitter
      steps:
        - extract: {type: "dteg://twitter-extractor", config: {topic: t}}
        - load: {type: duckdb, config: {table: t}}
"""


def test_resolve_sets_components_for_built_ins_and_aliases() -> None:
    spec = resolve_types(normalize_steps(shape("""
        pipeline:
          name: p
          steps:
            - extract: {type: ndjson, config: {path: a.jsonl}}
            - filter: {config: {where: "x > 1"}}
            - load: {type: DuckDB, config: {table: t}}
    """)))
    assert [s.component for s in spec.steps] == ["jsonl", "filter", "duckdb"]
    assert spec.warnings == ()


def test_resolve_warns_about_components_not_installed() -> None:
    spec = resolve_types(normalize_steps(shape(MARKET)))
    assert spec.step("extract").component is None
    assert spec.step("load").component == "duckdb"
    (warning,) = spec.warnings
    assert warning.startswith("step `extract` (p.yaml:8): component "
                              "`dteg://twitter-extractor` (declared in components as "
                              "dteg://social/twitter) is not installed")
    assert "Install it with `dteg install marketplace://twitter-extractor` (or every " \
        "component the pipeline declares with `dteg install -f p.yaml`)" in warning
    assert "or use a built-in source type: " in warning and "csv" in warning
    assert run_blockers(spec) == [warning]


def test_resolve_finds_an_installed_dteg_component() -> None:
    twitter = ComponentInfo("twitter", "source", "some.module:Config", "some.module:create",
                            origin="dteg-twitter")
    registry = Registry((*BUILT_INS, twitter))
    spec = resolve_types(normalize_steps(shape(MARKET)), registry)
    assert spec.step("extract").component == "twitter"
    assert spec.warnings == ()
    assert run_blockers(spec) == []


def test_resolve_dteg_url_of_a_built_in() -> None:
    spec = resolve_types(normalize_steps(shape("""
        pipeline:
          name: p
          steps:
            - extract: {type: "dteg://files/csv", config: {path: a.csv}}
            - load: {type: duckdb, config: {table: t}}
    """)))
    assert spec.step("extract").component == "csv"


def test_resolve_reports_every_unknown_type_with_its_line() -> None:
    with pytest.raises(SpecErrors) as info:
        resolve_types(normalize_steps(shape("""
            pipeline:
              name: p
              steps:
                - extract:
                    type: parquett
                    config: {path: a.parquet}
                - load:
                    type: filter
                    config: {table: t}
        """)))
    first, second = info.value.errors
    assert first.step == "extract" and first.location is not None
    assert first.location.line == 5
    assert first.message == "unknown source type `parquett`"
    assert (first.hint or "").startswith("Did you mean `parquet`?")
    assert second.location is not None and second.location.line == 8
    assert "`filter` is a transform, not a sink." in (second.hint or "")


# --- check_configs --------------------------------------------------------------------------


def test_check_configs_points_at_the_body_key_when_written_in_the_body() -> None:
    spec = resolve_types(normalize_steps(shape("""
        pipeline:
          name: p
          steps:
            - extract:
                type: csv
                path: a.csv
                header: perhaps
            - load: {type: duckdb, config: {table: t}}
    """)))
    with pytest.raises(SpecError) as info:
        check_configs(spec)
    assert info.value.location is not None and info.value.location.line == 7
    assert info.value.message == "`header` must be true or false, not 'perhaps'"


def test_check_configs_skips_unresolved_components() -> None:
    spec = resolve_types(normalize_steps(shape(MARKET)))
    checked = check_configs(spec)
    unresolved = [s for s in checked.steps if s.component is None]
    assert unresolved and all(s.settings is None for s in unresolved)
    assert all(s.settings is not None for s in checked.steps if s.component is not None)


def test_check_configs_keeps_each_steps_validated_settings() -> None:
    from dteg.connectors.csv.config import SourceConfig

    spec = check_configs(resolve_types(normalize_steps(shape("""
        pipeline:
          name: p
          steps:
            - extract: {type: csv, config: {path: a.csv}}
            - load: {type: duckdb, config: {table: t}}
    """))))
    source = spec.sources()[0]
    assert isinstance(source.settings, SourceConfig)
    assert source.validated() is source.settings


# --- check_graph ----------------------------------------------------------------------------


def _graph(text: str) -> PipelineSpec:
    return check_graph(resolve_types(normalize_steps(shape(text))))


def test_check_graph_accepts_a_fan_out_and_warns_about_dangling_output() -> None:
    spec = _graph("""
        pipeline:
          name: p
          steps:
            - extract: {name: src, type: csv, config: {path: a.csv}}
            - filter: {name: big, input: src, config: {where: "x > 1"}}
            - load: {input: src, type: duckdb, config: {table: t}}
    """)
    assert spec.warnings == ("step `big` (p.yaml:5): its output goes nowhere (no load reads it)",)


def test_check_graph_finds_a_cycle() -> None:
    with pytest.raises(SpecError) as info:
        _graph("""
            pipeline:
              name: p
              steps:
                - extract: {name: src, type: csv, config: {path: a.csv}}
                - filter: {name: a, input: [src, c], config: {where: "x > 1"}}
                - filter: {name: b, input: a, config: {where: "x > 2"}}
                - filter: {name: c, input: b, config: {where: "x > 3"}}
                - load: {input: c, type: duckdb, config: {table: t}}
        """)
    # Arrows follow the data: a feeds b, b feeds c, c feeds a.
    assert info.value.message == "the steps form a cycle through `input:`: a → b → c → a"
    assert info.value.step == "a"
    assert info.value.location is not None and info.value.location.line == 5


def test_check_graph_refuses_unknown_inputs_loads_as_inputs_and_extract_inputs() -> None:
    with pytest.raises(SpecErrors) as info:
        _graph("""
            pipeline:
              name: p
              steps:
                - extract: {name: src, type: csv, config: {path: a.csv}}
                - extract: {name: other, input: src, type: csv, config: {path: b.csv}}
                - load: {name: sink, input: scr, type: duckdb, config: {table: t}}
                - load: {name: again, input: sink, type: duckdb, config: {table: u}}
        """)
    messages = [(e.step, e.message) for e in info.value.errors]
    assert messages == [
        ("other", "an extract step cannot have `input:`"),
        ("sink", "`input: scr` names no step"),
        ("again", "`input: sink` is a load step, which produces no rows"),
    ]
    assert (info.value.errors[1].hint or "").startswith("Did you mean `src`?")


def test_check_graph_refuses_duplicate_names_at_the_name_line() -> None:
    with pytest.raises(SpecError) as info:
        _graph("""
            pipeline:
              name: p
              steps:
                - extract:
                    name: same
                    type: csv
                    config: {path: a.csv}
                - load:
                    name: same
                    type: duckdb
                    config: {table: t}
        """)
    assert not isinstance(info.value, SpecErrors)
    assert info.value.location is not None and info.value.location.line == 9
    assert info.value.message == "two steps are named `same` (the other at p.yaml:5)"


def test_compile_spec_runs_every_phase(tmp_path) -> None:
    spec = compile_spec(tmp_path / "p.yaml", text=POLICY.replace("\n    ", "\n"), environ={})
    assert _names(spec) == ["extract", "validate", "mask", "filter", "load", "dead_letter"]
    assert all(s.component for s in spec.steps)
    assert spec.base_dir == tmp_path


# --- insert_dead_letter_sink -----------------------------------------------------------------


def test_every_producer_feeds_one_generated_dead_letter_sink() -> None:
    spec = insert_dead_letter_sink(insert_policy_steps(normalize_steps(shape(POLICY))))
    sink = spec.dead_letter_sink()
    assert sink is not None and sink.is_sink and sink.is_dead_letter_sink
    assert sink.name == "dead_letter" and sink.type == "jsonl"
    assert sink.inputs == ("extract", "validate", "mask", "filter")
    assert sink.config == {"path": ".dteg/dead_letter/p/{run_id}.jsonl"}
    # It reads rejects, not rows: no step counts it as a consumer of its rows.
    assert all(sink not in spec.consumers(s.name) for s in spec.steps)
    assert [s.name for s in spec.sinks()] == ["load"]


def test_a_configured_dead_letter_sink_is_checked_with_its_line(tmp_path) -> None:
    text = """pipeline:
  name: p
  dead_letter:
    type: duckdb
    config: {table: rejects, mode: sometimes}
  steps:
    - extract: {type: csv, config: {path: a.csv}}
    - load: {type: duckdb, config: {table: t}}
"""
    with pytest.raises(SpecError) as info:
        compile_spec(tmp_path / "p.yaml", text=text, environ={})
    assert info.value.step == "dead_letter"
    assert info.value.location is not None and info.value.location.line == 5


def test_a_step_cannot_take_the_dead_letter_sinks_name() -> None:
    with pytest.raises(SpecError) as info:
        insert_dead_letter_sink(normalize_steps(shape("""
            pipeline:
              name: p
              steps:
                - extract: {type: csv, config: {path: a.csv}}
                - load: {name: dead_letter, type: jsonl, config: {path: x.jsonl}}
        """)))
    assert "dteg's own dead-letter sink" in info.value.message
