"""Messages name only things that exist: every `` `dteg <command> …` `` in dteg's strings and in
the README is a command (and sub-command) of the typer app, and every ``dteg[<extra>]`` is an
extra of pyproject.toml. Commands that come later are written without backticks."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

import pytest
import tomllib
import typer.main
from typer.core import TyperGroup

from dteg.cli import app
from dteg.cli.root import COMMAND_MODULES, build_app, command_of
from dteg.components.registry import default_registry

from ._helpers import REPO

# `dteg runs list`, ``dteg plan``: a command and, for groups, the sub-command after it.
COMMAND = re.compile(r"`dteg ([a-z][a-z0-9_-]*)(?: ([a-z][a-z0-9_-]*))?")
# A shell line in a fenced README block: `dteg stream pipelines/x.yaml`, `$ dteg run …`.
SHELL_LINE = re.compile(r"^\s*(?:\$\s+)?dteg ([a-z][a-z0-9_-]*)(?: ([a-z][a-z0-9_-]*))?")
EXTRA = re.compile(r"dteg\[([^\]\s'\"]*)\]")


def _commands() -> dict[str, set[str] | None]:
    """Command → its sub-commands (None for a plain command)."""
    root = typer.main.get_command(app)  # typer's own copy of click: TyperGroup, TyperCommand
    assert isinstance(root, TyperGroup)
    return {name: set(cmd.commands) if isinstance(cmd, TyperGroup) else None
            for name, cmd in root.commands.items()}


def _extras() -> set[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return set(pyproject["project"]["optional-dependencies"])


def _python_strings() -> Iterator[tuple[str, int, str]]:
    """(file, line, text) of every string constant in dteg/, f-string parts included."""
    for path in sorted((REPO / "dteg").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield str(path.relative_to(REPO)), node.lineno, node.value


def _readme() -> Iterator[tuple[str, int, str]]:
    """Prose one paragraph at a time (a `` `dteg …` `` may wrap onto the next line), and the
    shell lines of fenced blocks."""
    fenced, paragraph, first = False, [], 0
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate([*lines, ""], start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            if shell := SHELL_LINE.match(line):
                yield ("README.md", number,
                       f"`dteg {shell[1]}" + (f" {shell[2]}" if shell[2] else ""))
            continue
        if line.strip():
            first = first or number
            paragraph.append(line.strip())
        elif paragraph:
            yield "README.md", first, " ".join(paragraph)
            paragraph, first = [], 0


def _unknown(texts: Iterator[tuple[str, int, str]]) -> list[str]:
    commands, extras = _commands(), _extras()
    found = []
    for where, line, text in texts:
        for match in COMMAND.finditer(text):
            name, sub = match[1], match[2]
            if name not in commands:
                found.append(f"{where}:{line}: `dteg {name}` is not a command")
            elif sub is not None and commands[name] is not None and sub not in commands[name]:
                found.append(f"{where}:{line}: `dteg {name} {sub}` is not a sub-command")
        for match in EXTRA.finditer(text):
            for extra in match[1].split(","):
                if extra.strip() not in extras:
                    found.append(f"{where}:{line}: `dteg[{match[1]}]` names no extra")
    return found


def test_the_scanner_sees_what_it_checks() -> None:
    commands = _commands()
    assert {"run", "stream", "backfill", "validate", "plan", "schema"} <= set(commands)
    assert commands["runs"] == {"list", "show"}
    assert _unknown(iter([("x", 1, "Run `dteg run p.yaml`, then `dteg runs show ID`.")])) == []
    assert _unknown(iter([("x", 1, "`dteg deploy marketplace://a`, `dteg runs lst`, "
                                   "pip install 'dteg[dbt]'")])) == [
        "x:1: `dteg deploy` is not a command",
        "x:1: `dteg runs lst` is not a sub-command",
        "x:1: `dteg[dbt]` names no extra",
    ]
    # Commands that come later are named without backticks.
    assert _unknown(iter([("x", 1, "takes effect only under dteg server")])) == []


@pytest.mark.parametrize("source", ["dteg", "README.md"])
def test_messages_and_readme_name_existing_commands_and_extras(source: str) -> None:
    texts = _python_strings() if source == "dteg" else _readme()
    assert _unknown(texts) == []


def test_components_name_existing_extras() -> None:
    extras = _extras()
    missing = [f"{info.kind} `{info.name}`: extra `{info.capabilities.extra}`"
               for info in default_registry().components
               if info.capabilities.extra and info.capabilities.extra not in extras]
    assert missing == []


def test_the_command_table_names_what_each_module_registers() -> None:
    """``main()`` builds the app with the one module ``COMMAND_MODULES`` says registers the
    command a command line names, so the table must say exactly what each module adds."""
    whole = set(_commands())
    listed = [name for names in COMMAND_MODULES.values() for name in names]
    assert sorted(listed) == sorted(whole)  # every command once, none that does not exist
    for names in COMMAND_MODULES.values():
        for name in names:
            root = typer.main.get_command(build_app(name))
            assert isinstance(root, TyperGroup)
            assert set(root.commands) == set(names), name


@pytest.mark.parametrize(("args", "command"), [
    (["validate", "p.yaml"], "validate"),
    (["--debug", "runs", "list"], "runs"),
    (["--help"], None),
    (["--version"], None),
    (["--debug"], None),
    ([], None),
    (["valdate", "p.yaml"], "valdate"),  # no module registers it: the whole app says so
])
def test_command_of_a_command_line(args: list[str], command: str | None) -> None:
    assert command_of(args) == command


def test_a_failed_dbt_step_suggests_a_dbt_command_that_finds_its_project_and_profile() -> None:
    # A bare `dbt run` finds neither the project nor the profile dteg wrote for it.
    from dteg.transforms.dbt import rerun_command

    args = ["build", "--select", "customers", "--project-dir", "/p/dbt", "--profiles-dir",
            "/p/.dteg/dbt/step/profiles", "--target-path", "/p/.dteg/dbt/step/target",
            "--log-path", "/p/.dteg/dbt/step/logs", "--quiet", "--vars", "{day: '2024-01-01'}"]
    assert rerun_command(args) == (
        "dbt build --select customers --project-dir /p/dbt --profiles-dir "
        "/p/.dteg/dbt/step/profiles --vars '{day: '\"'\"'2024-01-01'\"'\"'}'")
