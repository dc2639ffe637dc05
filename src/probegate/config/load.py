"""Reading a configuration: file → document → validated model, with every problem at once.

Rules of this module:
- a file is YAML or JSON; an ARM template or Azure CLI document is recognised and converted first;
- duplicate keys are errors (a silent last-one-wins is how a wrong port reaches production);
- schema errors (pydantic) and cross-item rules (`rules.py`) are both collected, so one run of
  `probegate validate` lists every problem, each as `json.path: what is wrong`;
- nothing is started and nothing is written here: the result is a value or a ConfigError.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from probegate.config import arm, rules
from probegate.config.model import GatewayConfig, aliases_of, model_at
from probegate.errors import ConfigError, ConfigIssue


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    model: GatewayConfig
    source: str
    base_dir: Path
    warnings: tuple[str, ...]  # ignored ARM fields and advice; never a reason to refuse the file


def load_file(
    path: Path, parameters: Mapping[str, object] | None = None, *, arm_only: bool = False
) -> LoadedConfig:
    """Read, convert (ARM) and validate the file at `path`; raise ConfigError listing every issue."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue("", f"cannot read the file: {exc.strerror}")], source
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue("", "the file is not UTF-8 text")], source) from exc
    document = parse_text(text, source)
    return load_document(document, source, path.resolve().parent, parameters, arm_only=arm_only)


def load_document(
    document: object,
    source: str,
    base_dir: Path,
    parameters: Mapping[str, object] | None = None,
    *,
    arm_only: bool = False,
) -> LoadedConfig:
    warnings: list[str] = []
    if arm.is_arm_document(document):
        try:
            converted = arm.convert_arm(document, parameters)
        except ConfigError as exc:
            raise ConfigError(exc.issues, source) from exc
        warnings.extend(f"ignored: {line}" for line in converted.ignored)
        document = converted.config
    elif arm_only:
        issue = ConfigIssue("", "not an ARM template nor an Azure CLI application gateway document")
        raise ConfigError([issue], source)
    model, issues = validate_document(document, base_dir)
    if issues or model is None:
        raise ConfigError(issues, source)
    warnings.extend(rules.advice(model))
    return LoadedConfig(model=model, source=source, base_dir=base_dir, warnings=tuple(warnings))


def validate_document(
    document: object, base_dir: Path
) -> tuple[GatewayConfig | None, list[ConfigIssue]]:
    """Schema and cross-item rules over one document; every issue, in document order."""
    if not isinstance(document, dict):
        got = type(document).__name__ if document is not None else "an empty file"
        return None, [ConfigIssue("", f"the top level must be a mapping of collections, got {got}")]
    model: GatewayConfig | None = None
    issues: list[ConfigIssue] = []
    try:
        model = GatewayConfig.model_validate(document)
    except ValidationError as exc:
        issues.extend(translate(error) for error in exc.errors(include_url=False))
    issues.extend(rules.check(document, base_dir))
    return model, _in_document_order(issues, document)


# ------------------------------------------------------------------------ parsing


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.MarkedYAMLError(
                problem=f"duplicate key {key!r} (first given on line {seen[key]})",
                problem_mark=key_node.start_mark,
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=True)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_text(text: str, source: str) -> object:
    """JSON when the text looks like JSON, else YAML (a superset); parse errors name the line."""
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text, object_pairs_hook=_refuse_duplicates)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise ConfigError(
                [ConfigIssue("", f"invalid JSON at {where}: {exc.msg}")], source
            ) from exc
        except ValueError as exc:
            raise ConfigError([ConfigIssue("", f"invalid JSON: {exc}")], source) from exc
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = exc.problem or "syntax error"
        raise ConfigError([ConfigIssue("", f"invalid YAML at {where}: {problem}")], source) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue("", f"invalid YAML: {exc}")], source) from exc


# ------------------------------------------------------------------------ error messages


def json_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for step in loc:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


def _describe(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


_TYPE_MESSAGES = {
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
}


def translate(error: ErrorDetails) -> ConfigIssue:
    """One pydantic error → one issue in the project's words, with the camelCase JSON path."""
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "missing":
        return ConfigIssue(json_path(loc), "is required")
    if kind == "extra_forbidden":
        return ConfigIssue(json_path(loc), _unknown_key(loc))
    if kind in _TYPE_MESSAGES:
        return ConfigIssue(
            json_path(loc), f"{_TYPE_MESSAGES[kind]}, got {_describe(error['input'])}"
        )
    if kind == "too_short":
        return ConfigIssue(json_path(loc), "must not be empty")
    # Our own PydanticCustomError messages are written for operators already.
    return ConfigIssue(json_path(loc), error["msg"])


def _unknown_key(loc: tuple[int | str, ...]) -> str:
    key = str(loc[-1])
    model = model_at(loc[:-1])
    if model is None:
        return "unknown key"
    known = aliases_of(model)
    folded = {k.casefold(): k for k in known}
    close = [folded[key.casefold()]] if key.casefold() in folded else []
    close = close or difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"unknown key; did you mean '{close[0]}'?" if close else "unknown key"


def _in_document_order(issues: list[ConfigIssue], document: dict[str, Any]) -> list[ConfigIssue]:
    """Sort by where each path points in the file, then drop repeats, so output reads top-down."""
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda issue: _position(document, issue.path))


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _position(document: object, path: str) -> tuple[int, ...]:
    """Path → the positions of its steps in the document (keys in file order, list indexes)."""
    ranks: list[int] = []
    node = document
    for key, index in _STEP.findall(path):
        if index:
            ranks.append(int(index))
            node = node[int(index)] if isinstance(node, list) and int(index) < len(node) else None
        elif isinstance(node, dict):
            keys = list(node)
            ranks.append(keys.index(key) if key in keys else len(keys))
            node = node.get(key)
        else:
            ranks.append(0)
    return tuple(ranks)
