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
                    hint="Start from `dteg init` output or pipelines/quickstart.yaml.",
                )
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        column = mark.column + 1 if mark else 1
        problem = exc.problem or "invalid YAML"
        context = f" {exc.context}" if exc.context else ""
        raise SpecError(
            f"this is not valid YAML: {problem}{context} (column {column})",
            location=Location(file, line, column),
            hint="Check the indentation of this line and the one above it: nested keys must "
            "be indented further than their parent, with spaces, not tabs.",
        ) from None
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
