"""The loader keeps the line of every key and list item, and turns YAML mistakes into
located SpecErrors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dteg.errors import Location, SpecError
from dteg.spec.loader import load_yaml_file, load_yaml_text

DOC = textwrap.dedent("""\
    pipeline:
      name: p
      steps:
        - extract:
            type: csv
            config:
              path: a.csv
        - load:
            type: duckdb
            config: {table: t, mode: append}
      quality:
        validation_rules:
          - type: null_check
            columns:
              - id
              - email
""")


def test_source_map_lines_of_nested_keys_and_list_items() -> None:
    doc = load_yaml_text(DOC, "p.yaml")
    at = doc.source_map.at
    assert at(()) == Location("p.yaml", 1, 1)
    assert at(("pipeline",)) == Location("p.yaml", 1, 1)
    assert at(("pipeline", "name")) == Location("p.yaml", 2, 3)
    # A list item stands where its content starts (after `- `).
    assert at(("pipeline", "steps", 0)) == Location("p.yaml", 4, 7)
    assert at(("pipeline", "steps", 0, "extract")) == Location("p.yaml", 4, 7)
    assert at(("pipeline", "steps", 0, "extract", "type")) == Location("p.yaml", 5, 9)
    assert at(("pipeline", "steps", 0, "extract", "config", "path")) == Location("p.yaml", 7, 11)
    assert at(("pipeline", "steps", 1, "load")).line == 8
    # Keys of a flow mapping keep their own column on the shared line.
    assert at(("pipeline", "steps", 1, "load", "config", "table")) == Location("p.yaml", 10, 18)
    assert at(("pipeline", "steps", 1, "load", "config", "mode")) == Location("p.yaml", 10, 28)
    assert at(("pipeline", "quality", "validation_rules", 0)).line == 13
    assert at(("pipeline", "quality", "validation_rules", 0, "columns", 1)) \
        == Location("p.yaml", 16, 13)


def test_source_map_falls_back_to_the_nearest_ancestor() -> None:
    doc = load_yaml_text(DOC, "p.yaml")
    # A key that was never written (a missing one) points at the mapping that lacks it.
    assert doc.source_map.at(("pipeline", "steps", 0, "extract", "config", "delimiter")).line == 6
    assert doc.source_map.at(("pipeline", "nothing", "here")).line == 1


def test_data_is_plain_python() -> None:
    doc = load_yaml_text(DOC, "p.yaml")
    assert doc.data["pipeline"]["steps"][1] == {
        "load": {"type": "duckdb", "config": {"table": "t", "mode": "append"}}}
    assert doc.text == DOC


def test_duplicate_keys_are_refused_with_both_lines() -> None:
    with pytest.raises(SpecError) as info:
        load_yaml_text("pipeline:\n  name: a\n  steps: []\n  name: b\n", "d.yaml")
    assert info.value.location == Location("d.yaml", 4, 3)
    assert info.value.message == "the key `name` appears twice in one mapping (first at line 2)"


def test_empty_and_comment_only_files_are_refused() -> None:
    for text in ("", "# nothing yet\n"):
        with pytest.raises(SpecError, match="the file is empty"):
            load_yaml_text(text, "e.yaml")


@pytest.mark.parametrize(("text", "line", "phrase"), [
    ("pipeline:\n  name: p\n   steps: []\n", 3, "the line above is missing its `:`"),
    ("pipeline:\n  steps:\n    - extract: {type: csv\n  name: p\n", 3,
     "a `[…]` list or `{…}` mapping opened here is never closed"),
    ('pipeline:\n  name: "p\n  steps: []\n', 2, "a quoted value opened here is never closed"),
    ("pipeline:\n\tname: p\n", 2, "indented with a tab character"),
    ("pipeline:\n  steps:\n    - a: 1\n   b: 2\n", 4, "not indented like the keys above it"),
])
def test_yaml_syntax_errors_point_at_the_mistake(text: str, line: int, phrase: str) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml_text(text, "s.yaml")
    assert info.value.location is not None
    assert info.value.location.line == line
    assert phrase in info.value.message
    if "tab" not in phrase:  # the parser's own words stay available
        assert "YAML parser:" in info.value.message


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no pipeline file at"):
        load_yaml_file(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="is a folder, not a pipeline file"):
        load_yaml_file(tmp_path)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("pipeline:\n  name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpecError, match="is not UTF-8 text"):
        load_yaml_file(latin)


def test_errors_survive_pickling() -> None:
    import pickle

    with pytest.raises(SpecError) as info:
        load_yaml_text("a: 1\na: 2\n", "x.yaml")
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is SpecError
    assert again.render() == info.value.render()
    assert again.location == Location("x.yaml", 2, 1)
