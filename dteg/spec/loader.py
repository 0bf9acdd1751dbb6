"""Load YAML while keeping the file, line and column of every node.

The result is plain Python data plus a ``SourceMap`` from key paths to locations, so the spec
models stay ordinary and every later error can point at the line it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dteg.errors import Location, SpecError

Path_ = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Where each key path of a loaded document stands in its file."""

    file: str
    locations: dict[Path_, Location] = field(default_factory=dict)

    def at(self, path: Path_) -> Location:
        """The location of ``path``, or of its nearest ancestor that has one."""
        probe = tuple(path)
        while probe:
            if probe in self.locations:
                return self.locations[probe]
            probe = probe[:-1]
        return self.locations.get((), Location(self.file, 1, 1))


@dataclass
class LoadedDocument:
    data: Any
    source_map: SourceMap
    text: str


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a common, silent YAML mistake)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            first = seen[key].start_mark.line + 1
            raise SpecError(
                f"the key `{key}` appears twice in one mapping (first at line {first})",
                location=Location(loader.name, key_node.start_mark.line + 1,
                                  key_node.start_mark.column + 1),
                hint="Keep one of them; YAML would silently use the last.",
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def _walk(node: yaml.Node, path: Path_, smap: SourceMap) -> None:
    smap.locations[path] = Location(smap.file, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            # A key's own line is the better place to point at than its value's first line.
            _walk(value_node, (*path, key), smap)
            smap.locations[(*path, key)] = Location(
                smap.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1
            )
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), smap)


_INDENT_HINT = (
    "Check the indentation of this line and the one above it: keys of one mapping must start "
    "in the same column, nested keys further right than their parent, with spaces, not tabs."
)


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> SpecError:
    """PyYAML's parser wording (``expected <block end>``) in words a pipeline author knows."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    problem = exc.problem or "invalid YAML"
    lines = text.splitlines()
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    location = Location(file, line, column)
    if "\t" in source_line[: len(source_line) - len(source_line.lstrip())] or "'\\t'" in problem:
        return SpecError(
            "this line is indented with a tab character; YAML allows only spaces there",
            location=Location(file, line, source_line.find("\t") + 1 if "\t" in source_line
                              else column),
            hint="Replace the tab with spaces (set your editor to insert spaces for .yaml).",
        )
    parser_said = f"{exc.context} {problem}" if exc.context else problem
    context = exc.context or ""
    opened = exc.context_mark
    hint = _INDENT_HINT
    if ("quoted scalar" in context or "flow" in context) and opened is not None:
        # The parser notices at the end of the file; the mistake is where the value opened.
        what = "quoted value" if "quoted" in context else "`[…]` list or `{…}` mapping"
        location = Location(file, opened.line + 1, opened.column + 1)
        message = f"a {what} opened here is never closed"
        hint = ("Add the closing quote." if "quoted" in context
                else "Add the closing bracket, or quote the whole value.")
    elif "expected <block end>" in problem:
        started = ""
        if opened is not None and mark is not None and opened.line != mark.line:
            started = f" (the block that starts at line {opened.line + 1})"
        message = (f"this line is not indented like the keys above it{started}, so YAML cannot "
                   "tell which mapping it belongs to")
    elif "mapping values are not allowed" in problem:
        message = ("a `key: value` stands where YAML expects a plain value: this line is "
                   "indented further than its siblings, the line above is missing its `:`, or a "
                   "value holds `: ` unquoted")
        hint = f"{_INDENT_HINT} Quote values that contain `: ` or ` #`."
    elif "could not find expected ':'" in problem:
        message = "a key has no `:` after it (or a line continues an unquoted value)"
    else:
        message = "this is not valid YAML"
        hint = "Check this line and the one above it."
    return SpecError(f"{message} (YAML parser: {parser_said}, column {location.column})",
                     location=location, hint=hint)


def load_yaml_text(text: str, file: str) -> LoadedDocument:
    """Parse ``text`` (named ``file`` in messages) into data and a source map."""
    smap = SourceMap(file)
    try:
        loader = _LineLoader(text)
        loader.name = file
        try:
            node = loader.get_single_node()
            if node is None:
                raise SpecError(
                    "the file is empty",
                    location=Location(file, 1),
                    hint="A pipeline file starts with `pipeline:` holding `name:` and `steps:`; "
                    "pipelines/quickstart.yaml is a complete example.",
                )
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except yaml.YAMLError as exc:
        raise SpecError(f"this is not valid YAML: {exc}", location=Location(file, 1)) from None
    _walk(node, (), smap)
    return LoadedDocument(data=data, source_map=smap, text=text)


def load_yaml_file(path: str | Path) -> LoadedDocument:
    """Read and parse a pipeline file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            f"no pipeline file at {p}",
            hint="Check the path; relative paths are taken from the current directory.",
        ) from None
    except IsADirectoryError:
        raise SpecError(f"{p} is a folder, not a pipeline file",
                        hint="Name the .yaml file.") from None
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{p} is not UTF-8 text (byte {exc.start})",
            hint="Save the pipeline file as UTF-8.",
        ) from None
    return load_yaml_text(text, str(p))
