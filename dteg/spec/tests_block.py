"""The pipeline's own ``tests:`` block: config unit tests that ``dteg test pipeline.yaml`` runs
offline (rows given per source step, rows expected per load step and in the dead letters).

Only the models and the checks that need no run live here (the spec layer): the shape of each
test (``check_tests_shape``, before the file's model, with file:line) and whether the steps a
test names exist and are sources or loads (``check_test_steps``, a compile phase, so ``dteg
validate`` checks them too). Running them is ``dteg.run.pipeline_tests``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from dteg.components.types import check_type
from dteg.errors import SpecError
from dteg.spec.loader import Path_, SourceMap
from dteg.spec.model_errors import located_errors
from dteg.spec.names import known_names_hint

TESTS_KEY = "tests"
Row = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TestInput(_Strict):
    """The rows an extract step produces in a test: inline ``rows`` or a fixture file."""

    __test__ = False  # not a pytest test class

    rows: list[Row] | None = Field(default=None, description="The rows, one mapping each")
    path: str | None = Field(
        default=None, description="A .csv or .jsonl (.json, .ndjson) fixture file, relative "
        "to the pipeline file")
    schema_: dict[str, str] = Field(
        default_factory=dict, alias="schema", description="column → type (int, float, "
        "string, bool, date, timestamp, timestamptz, decimal(p,s) …) the given values are "
        "cast to, as the source's own `schema:` would; other columns keep the types YAML or "
        "the fixture gives them")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("schema_")
    @classmethod
    def _known_types(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            check_type(name)
        return value

    @model_validator(mode="after")
    def _one_of(self) -> TestInput:
        if (self.rows is None) == (self.path is None):
            raise ValueError("give either `rows:` (inline rows) or `path:` (a .csv or .jsonl "
                             "fixture file), not both or neither")
        if self.path is not None and not self.path.lower().endswith(
                (".csv", ".jsonl", ".json", ".ndjson")):
            raise ValueError(f"`path: {self.path}` must be a .csv or .jsonl fixture file")
        return self


class Expectation(_Strict):
    """What a test expects at one load step, or in the dead letters.

    ``rows``: exactly these rows (in any order unless ``ordered``); ``contains``: at least
    these (a row may give only some of its columns); ``count``: this many rows."""

    rows: list[Row] | None = Field(default=None, description="Exactly these rows")
    contains: list[Row] | None = Field(
        default=None, description="At least these rows; each may list only the columns it "
        "checks")
    count: int | None = Field(default=None, ge=0, description="Exactly this many rows")
    key: list[str] | None = Field(
        default=None, description="Key columns: rows are paired by key, so a diff shows the "
        "changed cells of each key")
    ordered: bool = Field(default=False, description="`rows:` must come in this order")
    ignore_columns: list[str] = Field(
        default_factory=list, description="Columns left out of the comparison (e.g. "
        "encrypted values, which differ on every run)")

    @model_validator(mode="before")
    @classmethod
    def _key_text(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("key"), str):
            return {**data, "key": [data["key"]]}
        return data

    @model_validator(mode="after")
    def _something(self) -> Expectation:
        if self.rows is None and self.contains is None and self.count is None:
            raise ValueError("say what to expect: `rows:`, `contains:` or `count:`")
        if self.rows is not None and self.contains is not None:
            raise ValueError("give `rows:` (exactly these) or `contains:` (at least these), "
                             "not both")
        if self.ordered and self.key:
            raise ValueError("`ordered: true` and `key:` do not go together: rows paired by "
                             "key have no order")
        return self


class DeadLetterExpectation(Expectation):
    """Expected dead letters. A row may give ``step``, ``rule``, ``column``, ``source``,
    ``reason`` (a part of the reason's text is enough) and ``record`` (some of the rejected
    record's columns)."""

    @model_validator(mode="after")
    def _no_key(self) -> DeadLetterExpectation:
        if self.key or self.ordered:
            raise ValueError("dead letters are matched row by row: `key:` and `ordered:` do "
                             "not apply to them")
        return self


class PipelineTest(_Strict):
    """One config unit test of the pipeline."""

    __test__ = False

    name: str = Field(min_length=1, description="What the test checks")
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment for `${env:…}` and for keys read at "
        "run time; the real environment is not used")
    inputs: dict[str, TestInput] = Field(
        min_length=1, description="extract step name → its rows (an extract step left out "
        "produces no rows)")
    expect: dict[str, Expectation] = Field(
        default_factory=dict, description="load step name → what it should receive")
    dead_letter: DeadLetterExpectation | None = Field(
        default=None, description="What should go to the dead-letter output")
    error: str | None = Field(
        default=None, description="The run should fail with an error whose text contains this "
        "(e.g. a quality threshold)")

    @model_validator(mode="after")
    def _expects_something(self) -> PipelineTest:
        if not self.expect and self.dead_letter is None and self.error is None:
            raise ValueError("the test checks nothing: add `expect:` (load step → rows), "
                             "`dead_letter:` or `error:`")
        return self


_TESTS = TypeAdapter(dict[int, PipelineTest])


def check_tests_shape(tests: Any, smap: SourceMap) -> list[SpecError]:
    """Problems in the raw ``tests:`` value, each at its file:line (the whole file's model
    would report them too, but these name the test)."""
    path: Path_ = (TESTS_KEY,)
    if tests is None:
        return []
    if not isinstance(tests, list):
        return [SpecError("`tests:` must be a list of tests", location=smap.at(path),
                          hint="Start each test with `- name: …`, then `inputs:` and "
                          "`expect:`.")]
    errors: list[SpecError] = []
    names: dict[str, int] = {}
    for index, item in enumerate(tests):
        try:
            _TESTS.validate_python({index: item})
        except ValidationError as exc:
            errors += located_errors(exc, model=PipelineTest, source_map=smap, base=path,
                                     data={index: item})
            continue
        name = item["name"]
        if name in names:
            errors.append(SpecError(
                f"two tests are named `{name}` (the other at "
                f"{smap.at((*path, names[name], 'name'))})",
                location=smap.at((*path, index, "name")),
                hint="Give each test its own name: the report names failures by it."))
        names.setdefault(name, index)
    return errors


def check_test_steps(tests: Sequence[PipelineTest], sources: Sequence[str],
                     loads: Sequence[str], smap: SourceMap) -> list[SpecError]:
    """Every step a test names must be an extract step (``inputs``) or a load step
    (``expect``) of the pipeline."""
    errors: list[SpecError] = []
    for index, test in enumerate(tests):
        for section, wanted, what in (("inputs", sources, "extract"),
                                      ("expect", loads, "load")):
            for name in getattr(test, section):
                if name in wanted:
                    continue
                errors.append(SpecError(
                    f"test `{test.name}`: `{section}.{name}` names no {what} step",
                    location=smap.at((TESTS_KEY, index, section, name)),
                    hint=known_names_hint(f"{what} steps", name, list(wanted))))
    return errors
