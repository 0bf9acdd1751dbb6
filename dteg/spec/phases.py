"""Named, pure compile phases: file → ``PipelineSpec`` → checked ``PipelineSpec``.

Each phase does one thing and is tested on its own; ``compile_spec`` runs them in order. No
phase imports Beam, so ``dteg validate`` and ``dteg plan`` run all of them quickly.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dteg.components.capabilities import Capabilities
from dteg.components.names import DEAD_LETTER_STEP
from dteg.components.registry import ComponentInfo, Kind, Registry, default_registry
from dteg.components.settings import required_env, unkeyed_hashes
from dteg.errors import SpecError, SpecErrors
from dteg.spec.alerts import SLACK_BOT_TOKEN_ENV, SLACK_WEBHOOK_ENV, SlackAlert
from dteg.spec.interpolate import interpolate
from dteg.spec.loader import LoadedDocument, load_yaml_file, load_yaml_text
from dteg.spec.masking import MASKING_KEY_LINE
from dteg.spec.model_errors import located_errors
from dteg.spec.models import (
    CONFIG_TYPE_KINDS,
    DEFAULT_KEY_ENV,
    OWN_KINDS,
    SINK_KINDS,
    SOURCE_KINDS,
    STEP_KINDS,
    PipelineBody,
    PipelineFile,
    PipelineSpec,
    StepSpec,
)
from dteg.spec.sections import as_config, check_sections
from dteg.spec.tests_block import TESTS_KEY, check_test_steps, check_tests_shape

Phase = Callable[[PipelineSpec], PipelineSpec]
_BODY_KEYS = {"type", "name", "input", "config"}


def _raise_all(errors: list[SpecError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise SpecErrors(errors)


# --- phase 1: shape ------------------------------------------------------------------------


def check_file_shape(
    doc: LoadedDocument, *, file: str, base_dir: Path, environ: Mapping[str, str] | None = None
) -> PipelineSpec:
    """Interpolate references and check the file against ``PipelineFile``."""
    data = doc.data
    smap = doc.source_map
    if not isinstance(data, dict) or "pipeline" not in data:
        hint = "The file must start with `pipeline:` and hold `name:` and `steps:` under it."
        if isinstance(data, dict) and {"name", "steps"} & set(data):
            hint = "Put `name:`, `steps:` and the rest under a top-level `pipeline:` key."
        raise SpecError("the top-level key `pipeline:` is missing", location=smap.at(()),
                        hint=hint)
    # `tests:` is taken as written: its rows and env are test data, not references to resolve.
    tests = data.get(TESTS_KEY)
    _raise_all(check_tests_shape(tests, smap))
    resolved = interpolate({k: v for k, v in data.items() if k != TESTS_KEY}, smap,
                           base_dir=base_dir, environ=environ)
    if tests is not None:
        resolved.data[TESTS_KEY] = tests
    # Steps are checked one by one below, with step-aware messages, before the whole file.
    raw_steps = resolved.data["pipeline"].get("steps") if isinstance(
        resolved.data["pipeline"], dict) else None
    if isinstance(raw_steps, list):
        _check_step_items(raw_steps, smap)
    _raise_all(check_sections(resolved.data["pipeline"], smap, resolved.redactor))
    try:
        parsed = PipelineFile.model_validate(resolved.data)
    except ValidationError as exc:
        _raise_all(located_errors(exc, model=PipelineFile, source_map=smap,
                                  redact=resolved.redactor, data=resolved.data))
        raise  # pragma: no cover - _raise_all always raises here
    body: PipelineBody = parsed.pipeline
    return PipelineSpec(
        name=body.name, file=file, base_dir=base_dir, body=body, source_map=smap,
        redactor=resolved.redactor, references=resolved.references, yaml_text=doc.text,
        tests=tuple(parsed.tests),
    )


def _check_step_items(raw_steps: list[Any], smap: Any) -> None:
    errors: list[SpecError] = []
    for index, item in enumerate(raw_steps):
        path = ("pipeline", "steps", index)
        kinds = [k for k in item if k in STEP_KINDS] if isinstance(item, dict) else []
        if len(kinds) == 1 and len(item) > 1:
            # `config:` dedented to the level of `- extract:` is the usual cause.
            kind = kinds[0]
            stray = next(k for k in item if k != kind)
            body = item[kind]
            name = body.get("name") if isinstance(body, dict) else None
            errors.append(SpecError(
                f"`{stray}:` stands beside the step kind `{kind}:` instead of inside it",
                location=smap.at((*path, stray)), step=name if isinstance(name, str) else None,
                hint=f"Indent `{stray}:` (and the lines under it) to the level of the keys "
                f"under `{kind}:`.",
            ))
            continue
        if len(kinds) > 1:
            errors.append(SpecError(
                f"one list item holds two steps, `{kinds[0]}:` and `{kinds[1]}:`",
                location=smap.at((*path, kinds[1])),
                hint=f"Start each step with its own dash: `- {kinds[1]}:`.",
            ))
            continue
        if not isinstance(item, dict) or len(item) != 1:
            keys = ", ".join(f"`{k}`" for k in item) if isinstance(item, dict) else repr(item)
            errors.append(SpecError(
                f"step {index + 1} must be a mapping with exactly one key (the step kind), "
                f"found {keys}",
                location=smap.at(path),
                hint="Write `- extract:` with its body indented below it; if `type:`/`config:` "
                "stand beside the kind, indent them one level further.",
            ))
            continue
        kind = next(iter(item))
        if kind not in STEP_KINDS:
            close = difflib.get_close_matches(str(kind), STEP_KINDS, n=1, cutoff=0.5)
            hint = f"Did you mean `{close[0]}`? " if close else ""
            errors.append(SpecError(
                f"unknown step kind `{kind}`",
                location=smap.at((*path, kind)),
                hint=f"{hint}Step kinds: {', '.join(STEP_KINDS)}.",
            ))
        elif not isinstance(item[kind], dict):
            errors.append(SpecError(
                f"the body of `{kind}` must be a mapping with `type:` and `config:`",
                location=smap.at((*path, kind)),
                hint="Indent `type:` and `config:` under the step kind.",
            ))
    _raise_all(errors)


# --- phase 2: normalize steps --------------------------------------------------------------


def find_component(spec: PipelineSpec, kind: Kind, wanted: str,
                   registry: Registry) -> ComponentInfo | None:
    """The component a step's ``type`` names: a built-in or installed name, or a
    ``dteg://`` id (through ``components.marketplace`` when the pipeline declares it)."""
    if not wanted.startswith("dteg://"):
        return registry.find(kind, wanted)
    ref = wanted.removeprefix("dteg://")
    market = {c.name: c for c in spec.body.components.marketplace}
    target = market[ref].source if ref in market else wanted
    return _find_marketplace(registry, kind, ref, target)


def _find_marketplace(registry: Registry, kind: Kind, ref: str,
                      target: str) -> ComponentInfo | None:
    # A package installed from the marketplace registers under its own name
    # (`kafka-extractor`) and wins; else the declared source id's last part (`kafka`).
    return registry.find(kind, ref) or registry.find(
        kind, target.removeprefix("dteg://").rstrip("/").split("/")[-1])


def normalize_steps(spec: PipelineSpec, registry: Registry | None = None) -> PipelineSpec:
    """Name every step, merge body-level keys into ``config`` and wire default inputs.

    A step without ``input:`` reads the nearest earlier step that produces rows (not a load),
    so ``extract → load → load`` writes the same rows to two sinks. A post-load step (dbt)
    without ``input:`` follows every load before it.
    """
    registry = registry or default_registry()
    steps: list[StepSpec] = []
    counts: dict[str, int] = {}
    for item in spec.body.steps:
        kind = next(iter(item))
        counts[kind] = counts.get(kind, 0) + 1
    seen: dict[str, int] = {}
    errors: list[SpecError] = []
    last_producer: str | None = None
    for index, item in enumerate(spec.body.steps):
        kind, body = next(iter(item.items()))
        path: tuple[str | int, ...] = ("pipeline", "steps", index, kind)
        location = spec.source_map.at(path)
        seen[kind] = seen.get(kind, 0) + 1
        name = body.name or (kind if counts[kind] == 1 else f"{kind}_{seen[kind]}")
        step_type = body.type or (kind if kind in OWN_KINDS else None)
        if step_type is None:
            errors.append(SpecError(
                "`type` is required", location=location, step=name,
                hint=f"Say what to {kind} with, e.g. `type: csv`; `dteg connectors list` shows "
                "every type.",
            ))
            continue
        config = dict(body.config)
        config_paths: dict[str, tuple[str | int, ...]] = {
            k: (*path, "config", k) for k in body.config}
        info = find_component(spec, _KINDS.get(kind, "transform"), step_type, registry)
        for key, value in (body.model_extra or {}).items():
            typo = _body_key_typo(key, info)
            if typo is not None:
                errors.append(SpecError(
                    f"unknown key `{key}` in the body of `{kind}`",
                    location=spec.source_map.at((*path, key)), step=name,
                    hint=f"Did you mean `{typo}`? A step body holds "
                    f"{', '.join(f'`{k}`' for k in sorted(_BODY_KEYS))} and the config keys "
                    "of its type.",
                ))
                continue
            if key in config:
                errors.append(SpecError(
                    f"`{key}` is set both in the step body and under `config:`",
                    location=spec.source_map.at((*path, key)), step=name,
                    hint="Keep one of them.",
                ))
            config[key] = value
            config_paths[key] = (*path, key)
        if kind in CONFIG_TYPE_KINDS and body.type is not None:
            # `- window: {type: sliding}` names a kind of window, not a component.
            config.setdefault("type", body.type)
            config_paths.setdefault("type", (*path, "type"))
            step_type = kind
            info = find_component(spec, _KINDS.get(kind, "transform"), step_type, registry)
        post_load = info is not None and info.capabilities.runs_after_load
        if body.input is None and post_load:
            inputs: tuple[str, ...] = tuple(s.name for s in steps if s.is_sink)
        elif body.input is None:
            inputs = () if kind in SOURCE_KINDS or last_producer is None else (last_producer,)
        else:
            inputs = (body.input,) if isinstance(body.input, str) else tuple(body.input)
        steps.append(StepSpec(
            kind=kind, name=name, type=step_type, inputs=inputs, config=config,
            location=location, config_paths=config_paths, path=path,
            capabilities=info.capabilities if info is not None else Capabilities(),
        ))
        if kind not in SINK_KINDS and not post_load:
            last_producer = name
    _raise_all(errors)
    return spec.model_copy(update={"steps": tuple(steps)})


def _body_key_typo(key: str, info: ComponentInfo | None) -> str | None:
    """The step-body key (`config`, `input`…) that ``key`` misspells, unless ``key`` is a
    config key of the step's type (those may stand in the body too)."""
    if info is not None:
        model = info.config_model()
        if key in model.model_fields or key in {f.alias for f in model.model_fields.values()}:
            return None
    close = difflib.get_close_matches(key, sorted(_BODY_KEYS), n=1, cutoff=0.75)
    if not close:
        return None
    if info is not None:
        # A closer config key wins (`typ` for a `type` config key is handled by the model).
        fields = [f.alias or n for n, f in info.config_model().model_fields.items()]
        rival = difflib.get_close_matches(key, fields, n=1, cutoff=0.75)
        if rival and difflib.SequenceMatcher(None, key, rival[0]).ratio() >= \
                difflib.SequenceMatcher(None, key, close[0]).ratio():
            return None
    return close[0]


# --- phase 3: policies become steps --------------------------------------------------------


def insert_policy_steps(spec: PipelineSpec) -> PipelineSpec:
    """``quality.validation_rules``, ``security.data_masking`` and ``security.encryption``
    become steps after each extract: validate first (rules see raw values), then mask, then
    encrypt. A column that is both masked and encrypted is encrypted from its raw value (so a
    ``decrypt`` step gives it back) and not masked."""
    body = spec.body
    security = body.security
    policy: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = []
    if body.quality.validation_rules:
        policy.append(("validate", {
            "rules": as_config(body.quality.validation_rules),
            "on_failure": body.quality.on_failure,
            "max_invalid_ratio": body.quality.max_invalid_ratio,
        }, ("pipeline", "quality")))
    encrypted = security.encrypted_columns()
    masking = security.data_masking
    if isinstance(masking, list):
        masking = [c for c in masking if c not in encrypted]
    elif isinstance(masking, dict):
        masking = {c: m for c, m in masking.items() if c not in encrypted}
    if masking:
        mask_config: dict[str, Any] = {"columns": as_config(masking)}
        if security.masking_key is not None:
            mask_config["key"] = security.masking_key.get_secret_value()
        policy.append(("mask", mask_config, ("pipeline", "security")))
    if encrypted:
        encrypt_config: dict[str, Any] = {"columns": encrypted}
        if security.keys:
            encrypt_config["keys"] = as_config(security.keys)
        else:
            if security.encryption_key is not None:
                encrypt_config["key"] = security.encryption_key.get_secret_value()
            encrypt_config["key_id"] = security.encryption_key_id
        if security.key_per is not None:
            encrypt_config["key_per"] = security.key_per
        policy.append(("encrypt", encrypt_config, ("pipeline", "security")))
    # Where each generated config key was written, for errors and for the plan.
    origin = {
        ("validate", "rules"): ("pipeline", "quality", "validation_rules"),
        ("validate", "on_failure"): ("pipeline", "quality", "on_failure"),
        ("validate", "max_invalid_ratio"): ("pipeline", "quality", "max_invalid_ratio"),
        ("mask", "columns"): ("pipeline", "security", "data_masking"),
        ("mask", "key"): ("pipeline", "security", "masking_key"),
        ("encrypt", "columns"): ("pipeline", "security", "encrypt_columns"
                                 if security.encryption is True and security.encrypt_columns
                                 else "encryption"),
        ("encrypt", "key"): ("pipeline", "security", "encryption_key"),
        ("encrypt", "key_id"): ("pipeline", "security", "encryption_key_id"),
        ("encrypt", "keys"): ("pipeline", "security", "keys"),
        ("encrypt", "key_per"): ("pipeline", "security", "key_per"),
    }
    policy_keys = {"validate": "validation_rules", "mask": "data_masking",
                   "encrypt": "encryption"}
    if not policy:
        return spec
    new_steps: list[StepSpec] = []
    renames: dict[str, str] = {}
    for step in spec.steps:
        new_steps.append(step)
        if not step.is_source:
            continue
        upstream = step.name
        for kind, config, path in policy:
            name = f"{kind}_{step.name}" if len(spec.sources()) > 1 else kind
            if any(s.name == name for s in spec.steps):
                name = f"{name}_policy"
            key = policy_keys[kind]
            new_steps.append(StepSpec(
                kind=kind, name=name, type=kind, inputs=(upstream,), config=config,
                location=spec.source_map.at((*path, key)),
                config_paths={k: origin[(kind, k)] for k in config}, path=path,
                generated_from=".".join(str(p) for p in (*path, key)),
            ))
            upstream = name
        renames[step.name] = upstream
    rewired = [
        s if s.generated_from or s.is_source else s.model_copy(
            update={"inputs": tuple(renames.get(i, i) for i in s.inputs)})
        for s in new_steps
    ]
    return spec.model_copy(update={"steps": tuple(rewired)})


# --- phase 3b: the dead-letter sink -------------------------------------------------------


def default_dead_letter_config(pipeline: str) -> dict[str, Any]:
    """Where dead letters go unless ``dead_letter:`` says otherwise: one JSON Lines file per
    run (the file sinks put the run id in place of ``{run_id}``)."""
    return {"path": f".dteg/dead_letter/{pipeline}/{{run_id}}.jsonl"}


def insert_dead_letter_sink(spec: PipelineSpec) -> PipelineSpec:
    """Every step that can reject a record feeds one generated sink step, ``dead_letter``
    (``pipeline.dead_letter``, default JSON Lines under .dteg/dead_letter/<pipeline>/), so its
    config is checked with file:line like any sink's and counting, aborts, write modes and
    lineage treat it as one."""
    taken = next((s for s in spec.steps if s.name == DEAD_LETTER_STEP), None)
    if taken is not None:
        raise SpecError(
            f"`{DEAD_LETTER_STEP}` is the name of dteg's own dead-letter sink",
            location=spec.source_map.at((*taken.path, "name")), step=taken.name,
            hint="Give this step another `name:`; set `pipeline.dead_letter` to choose where "
            "rejected records go.")
    configured = spec.body.dead_letter
    path: tuple[str | int, ...] = ("pipeline", "dead_letter")
    if configured is None:
        where: tuple[str | int, ...] = ("pipeline",)
        step_type, config = "jsonl", default_dead_letter_config(spec.name)
    else:
        step_type, config, where = configured.type, dict(configured.config), path
    producers = tuple(s.name for s in spec.steps if not s.is_sink and not s.runs_after_load)
    sink = StepSpec(
        kind="load", name=DEAD_LETTER_STEP, type=step_type, inputs=producers, config=config,
        location=spec.source_map.at(where), path=path, reads="dead_letters",
        config_paths={k: (*path, "config", k) for k in config},
        generated_from="pipeline.dead_letter" if configured else "dteg's default dead letters")
    return spec.model_copy(update={"steps": (*spec.steps, sink)})


def retarget_dead_letters(spec: PipelineSpec, step_type: str, config: dict[str, Any],
                          registry: Registry | None = None) -> PipelineSpec:
    """The spec with its dead-letter sink writing to ``step_type``/``config`` instead, checked
    like the phases check it (a stream appends dead letters to a folder by default)."""
    registry = registry or default_registry()
    current = spec.dead_letter_sink()
    assert current is not None, "insert_dead_letter_sink ran"
    info = find_component(spec, "sink", step_type, registry)
    if info is None:
        raise SpecError(f"unknown sink type `{step_type}` for dead letters",
                        hint=f"Known sink types: {', '.join(registry.names('sink'))}.")
    settings = info.config_model().model_validate(config)
    replaced = current.model_copy(update={
        "type": step_type, "component": info.name, "capabilities": info.capabilities,
        "config": config, "settings": settings})
    return spec.model_copy(update={"steps": tuple(
        replaced if s.is_dead_letter_sink else s for s in spec.steps)})


# --- phase 4: resolve types ----------------------------------------------------------------


_KINDS: dict[str, Kind] = {**{k: "source" for k in SOURCE_KINDS},
                           **{k: "sink" for k in SINK_KINDS}}


def _kind_of(step: StepSpec) -> Kind:
    if step.is_source:
        return "source"
    if step.is_sink:
        return "sink"
    return "transform"


def resolve_types(spec: PipelineSpec, registry: Registry | None = None) -> PipelineSpec:
    """Find the component behind every ``type``. Unknown built-in names are errors with the
    closest match; ``dteg://`` components that are not installed are warnings here and errors
    when the pipeline runs."""
    registry = registry or default_registry()
    market = {c.name: c for c in spec.body.components.marketplace}
    warnings = list(spec.warnings)
    errors: list[SpecError] = []
    steps: list[StepSpec] = []
    for step in spec.steps:
        kind = _kind_of(step)
        wanted = step.type
        if wanted.startswith("dteg://"):
            ref = wanted.removeprefix("dteg://")
            target = market[ref].source if ref in market else wanted
            info = _find_marketplace(registry, kind, ref, target)
            if info is None:
                origin = f" (declared in components as {target})" if ref in market else ""
                pinned = market[ref].version if ref in market else None
                line = f"dteg install marketplace://{ref}" + (f"@{pinned}" if pinned else "")
                warnings.append(
                    f"{step.where()}: component `{wanted}`{origin} is not installed; "
                    f"`dteg run` will refuse this pipeline until it is. Install it with "
                    f"`{line}` (or every component the pipeline declares with `dteg install "
                    f"-f {spec.source_map.file}`), or use a built-in {kind} type: "
                    f"{', '.join(registry.names(kind))}."
                )
                steps.append(step)
                continue
        else:
            info = registry.find(kind, wanted)
            if info is None:
                close = registry.closest(kind, wanted)
                other = next((k for k in ("source", "sink", "transform")
                              if k != kind and registry.find(k, wanted)), None)  # type: ignore[arg-type]
                hint = f"Did you mean `{close}`? " if close else ""
                if other:
                    hint += f"`{wanted}` is a {other}, not a {kind}. "
                errors.append(SpecError(
                    f"unknown {kind} type `{wanted}`",
                    location=spec.source_map.at((*step.path, "type")), step=step.name,
                    hint=f"{hint}Known {kind} types: {', '.join(registry.names(kind))}.",
                ))
                steps.append(step)
                continue
        steps.append(step.model_copy(update={"component": info.name,
                                              "capabilities": info.capabilities}))
    _raise_all(errors)
    return spec.model_copy(update={"steps": tuple(steps), "warnings": tuple(warnings)})


# --- phase 5: check each step's config -----------------------------------------------------


def check_configs(spec: PipelineSpec, registry: Registry | None = None) -> PipelineSpec:
    registry = registry or default_registry()
    errors: list[SpecError] = []
    checked: list[StepSpec] = []
    for step in spec.steps:
        if step.component is None:
            checked.append(step)  # a dteg:// component that is not installed (a warning)
            continue
        info = registry.find(_kind_of(step), step.component)
        assert info is not None
        model = info.config_model()
        try:
            settings = model.model_validate(step.config)
        except ValidationError as exc:
            errors.extend(located_errors(
                exc, model=model, source_map=spec.source_map, base=(*step.path, "config"),
                step=step.name, key_paths=step.config_paths, redact=spec.redactor,
                data=step.config,
            ))
            continue
        checked.append(step.model_copy(update={"settings": settings}))
    _raise_all(errors)
    return spec.model_copy(update={"steps": tuple(checked)})


# --- phase 5b: hashes without a key ------------------------------------------------------


def check_masking_keys(spec: PipelineSpec) -> PipelineSpec:
    """``hash`` without a masking key is plain SHA-256: an email or a phone number is found
    again by hashing guesses. Refused under ``access_level: restricted``, a warning otherwise."""
    restricted = spec.body.security.access_level == "restricted"
    errors: list[SpecError] = []
    warnings = list(spec.warnings)
    for step in spec.steps:
        columns = unkeyed_hashes(step.settings)
        if not columns:
            continue
        listed = ", ".join(f"`{c}`" for c in columns)
        where_key = ("`security.masking_key`" if step.generated_from
                     else "the step's `key:` (or `security.masking_key`)")
        fix = (f"Set {where_key}, e.g. `{MASKING_KEY_LINE}` (a long random secret), so hash "
               "is HMAC-SHA256; or use `tokenize`/`redact` for these columns.")
        path = step.config_paths.get("columns", step.path)
        what = (f"{listed} {'is' if len(columns) == 1 else 'are'} masked with `hash` but no "
                "masking key is set, so the hash is plain SHA-256 and guessable values "
                "(emails, phone numbers) can be recovered by hashing candidates")
        if restricted:
            errors.append(SpecError(f"{what}; `access_level: restricted` does not allow that",
                                    location=spec.source_map.at(path), step=step.name,
                                    hint=fix))
        else:
            warnings.append(f"{step.where()}: {what}. {fix}")
    _raise_all(errors)
    return spec.model_copy(update={"warnings": tuple(warnings)})


# --- phase 6: the graph --------------------------------------------------------------------


def check_graph(spec: PipelineSpec) -> PipelineSpec:
    """Unique names, existing inputs, sources first, no cycles, every source reaches a sink."""
    errors: list[SpecError] = []
    names: dict[str, StepSpec] = {}
    for step in spec.steps:
        if step.name in names:
            errors.append(SpecError(
                f"two steps are named `{step.name}` (the other at "
                f"{spec.source_map.at((*names[step.name].path, 'name'))})",
                location=spec.source_map.at((*step.path, "name")), step=step.name,
                hint="Give each step a unique `name:`.",
            ))
            continue  # `input:` checks below read the first step of that name
        names[step.name] = step
    for step in spec.steps:
        if step.is_source and step.inputs:
            errors.append(SpecError(
                "an extract step cannot have `input:`", location=step.location, step=step.name,
                hint="Remove `input:`; extract steps start the pipeline.",
            ))
        if step.runs_after_load:
            if not step.inputs:
                errors.append(SpecError(
                    "a dbt step runs after the loads, but no load comes before it",
                    location=step.location, step=step.name,
                    hint="Put the dbt step after the load step(s) whose tables it reads.",
                ))
            for wanted in step.inputs:
                if wanted in names and not names[wanted].is_sink:
                    errors.append(SpecError(
                        f"`input: {wanted}` is not a load step; dbt runs after loads commit",
                        location=spec.source_map.at((*step.path, "input")), step=step.name,
                        hint="Name the load step(s) whose tables the dbt models read.",
                    ))
                elif wanted not in names:
                    errors.append(SpecError(
                        f"`input: {wanted}` names no step",
                        location=spec.source_map.at((*step.path, "input")), step=step.name,
                        hint=f"Load steps: {', '.join(n for n, s in names.items() if s.is_sink)}.",
                    ))
            continue
        if not step.is_source and not step.inputs:
            errors.append(SpecError(
                f"nothing feeds this {step.kind} step", location=step.location, step=step.name,
                hint="Put an `extract` step before it or name one with `input:`.",
            ))
        for wanted in step.inputs:
            if wanted not in names:
                close = difflib.get_close_matches(wanted, list(names), n=1)
                hint = f"Did you mean `{close[0]}`? " if close else ""
                errors.append(SpecError(
                    f"`input: {wanted}` names no step",
                    location=spec.source_map.at((*step.path, "input")), step=step.name,
                    hint=f"{hint}Steps: {', '.join(names)}.",
                ))
            elif names[wanted].is_sink:
                errors.append(SpecError(
                    f"`input: {wanted}` is a load step, which produces no rows",
                    location=spec.source_map.at((*step.path, "input")), step=step.name,
                    hint="Read from the step that feeds that load instead.",
                ))
    _raise_all(errors)
    cycle = _find_cycle(spec)
    if cycle:
        first = names[cycle[0]]
        # _find_cycle follows `input:` (reader → what it reads); show the data's direction.
        raise SpecError(
            f"the steps form a cycle through `input:`: {' → '.join(reversed(cycle))}",
            location=spec.source_map.at((*first.path, "input")), step=first.name,
            hint="A step cannot (indirectly) read its own output; fix one of these `input:`s.",
        )
    if not spec.sources():
        raise SpecError("the pipeline has no `extract` step", location=spec.source_map.at(
            ("pipeline", "steps")), hint="Add an `- extract:` step with a source type.")
    warnings = list(spec.warnings)
    for step in spec.steps:
        if step.is_sink or step.runs_after_load:
            continue
        if not spec.consumers(step.name):
            warnings.append(f"{step.where()}: its output goes nowhere (no load reads it)")
    return spec.model_copy(update={"warnings": tuple(warnings)})


def _find_cycle(spec: PipelineSpec) -> list[str] | None:
    graph = {s.name: list(s.inputs) for s in spec.steps}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if state.get(nxt) is None and nxt in graph:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for name in graph:
        if state.get(name) is None:
            found = visit(name)
            if found:
                return found
    return None


# --- phase 7: things that only block a run -------------------------------------------------


def run_blockers(spec: PipelineSpec, environ: Mapping[str, str] | None = None) -> list[str]:
    """Problems that are warnings for ``validate``/``plan`` but stop ``run``."""
    env = os.environ if environ is None else environ
    blockers = [w for w in spec.warnings if "is not installed" in w]
    security = spec.body.security
    if security.encryption and not security.encrypted_columns():
        blockers.append(
            f"{spec.source_map.at(('pipeline', 'security', 'encryption'))}: "
            "`security.encryption: true` names no columns to encrypt; list them "
            "(`encryption: [ssn, card]`) or set `security.encrypt_columns`.")
    for step in spec.steps:
        missing = [v for v in required_env(step.settings) if not env.get(v)]
        if missing and missing != [DEFAULT_KEY_ENV]:
            blockers.append(f"{step.where()} needs the environment variable(s) "
                            f"{', '.join(missing)}; export them before the run.")
        elif missing:
            where = (f"{spec.source_map.at(('pipeline', 'security', 'encryption'))}: "
                     "`security.encryption`" if step.generated_from else step.where())
            blockers.append(
                f"{where} needs a key, but none is set: export {DEFAULT_KEY_ENV} (e.g. "
                "`base64:` followed by the output of `openssl rand -base64 32`) or name one "
                "with `security.encryption_key: ${env:…}` (or the step's `key:`/`keys:`).")
    return blockers


# --- phase 8: what the orchestrator will do -----------------------------------------------


def check_monitoring(spec: PipelineSpec) -> PipelineSpec:
    """Warn about alerts that cannot work as written: sent ``on: quality`` in a pipeline
    that validates nothing, or a Slack alert that names neither ``webhook_url`` nor
    ``bot_token``."""
    warnings = list(spec.warnings)
    validates = any(s.kind == "validate" for s in spec.steps)
    for index, alert in enumerate(spec.body.monitoring.alerts):
        where = (f"{spec.source_map.at(('pipeline', 'monitoring', 'alerts', index))}: "
                 f"alert {index + 1} ({alert.type})")
        if "quality" in alert.on and not validates:
            warnings.append(f"{where} is sent on `quality`, but no step validates rows "
                            "(add `quality.validation_rules`), so it never is")
        if (isinstance(alert, SlackAlert) and alert.webhook_url is None
                and alert.bot_token is None):
            warnings.append(f"{where} names no `webhook_url` or `bot_token`: the "
                            "orchestrator will take them from its settings or the "
                            f"{SLACK_WEBHOOK_ENV} / {SLACK_BOT_TOKEN_ENV} environment "
                            "variables")
    return spec.model_copy(update={"warnings": tuple(warnings)})


def run_notices(spec: PipelineSpec) -> list[str]:
    """What ``dteg run``/``stream``/``backfill`` leave out of this pipeline, as one warning
    (empty when nothing is left out): ``schedule``, ``retries``, ``trigger`` and the alerts,
    SLA and freshness of ``monitoring`` act only when the orchestrator serves the pipeline."""
    body, monitoring = spec.body, spec.body.monitoring
    ignored = [
        f"`{label}` (line {spec.source_map.at(path).line})"
        for label, path, present in (
            ("schedule", ("pipeline", "schedule"), body.schedule is not None),
            ("retries", ("pipeline", "retries"), "retries" in body.model_fields_set),
            ("trigger", ("pipeline", "trigger"), body.trigger is not None),
            ("monitoring.alerts", ("pipeline", "monitoring", "alerts"),
             bool(monitoring.alerts)),
            ("monitoring.sla", ("pipeline", "monitoring", "sla"), monitoring.sla is not None),
            ("monitoring.freshness", ("pipeline", "monitoring", "freshness"),
             monitoring.freshness is not None))
        if present]
    if not ignored:
        return []
    one = len(ignored) == 1
    listed = ", ".join(ignored[:-1]) + " and " + ignored[-1] if not one else ignored[0]
    return [f"{spec.file}: {listed} {'takes' if one else 'take'} effect only when `dteg "
            "server --pipelines <folder>` serves this file; this run ignores "
            f"{'it' if one else 'them'}."]


# --- phase 9: the tests block -------------------------------------------------------------


def check_tests(spec: PipelineSpec) -> PipelineSpec:
    """The steps each test of ``tests:`` names are extract steps (``inputs``) and load steps
    (``expect``) of this pipeline."""
    _raise_all(check_test_steps(spec.tests, [s.name for s in spec.sources()],
                                [s.name for s in spec.sinks()], spec.source_map))
    return spec


PHASES: tuple[tuple[str, Phase], ...] = (
    ("normalize_steps", normalize_steps),
    ("insert_policy_steps", insert_policy_steps),
    ("insert_dead_letter_sink", insert_dead_letter_sink),
    ("resolve_types", resolve_types),
    ("check_configs", check_configs),
    ("check_masking_keys", check_masking_keys),
    ("check_graph", check_graph),
    ("check_monitoring", check_monitoring),
    ("check_tests", check_tests),
)


def compile_spec(
    path: str | Path | None = None,
    *,
    text: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> PipelineSpec:
    """Load a pipeline file (or ``text``) and run every phase."""
    if text is not None:
        file = str(path or "<string>")
        doc = load_yaml_text(text, file)
        base_dir = Path(path).resolve().parent if path else Path.cwd()
    else:
        assert path is not None
        doc = load_yaml_file(path)
        file = str(path)
        base_dir = Path(path).resolve().parent
    spec = check_file_shape(doc, file=file, base_dir=base_dir,
                            environ=os.environ if environ is None else environ)
    for _name, phase in PHASES:
        spec = phase(spec)
    return spec
