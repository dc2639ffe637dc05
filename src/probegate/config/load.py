"""Reading a configuration: file → document → validated model, with every problem at once.

Rules of this module:
- a file is YAML or JSON; an ARM template or Azure CLI document is recognised and converted first;
- duplicate keys are errors (a silent last-one-wins is how a wrong port reaches production);
  decoding and parsing live in `source.py`, which also places each issue at `file:line:column`;
- schema errors (pydantic) and cross-item rules (`rules.py`) are both collected, so one run of
  `probegate validate` lists every problem, each as `json.path: what is wrong`;
- nothing is started and nothing is written here: the result is a value or a ConfigError.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from probegate.config import arm, rules
from probegate.config.arm import in_template, present
from probegate.config.model import Admin, GatewayConfig
from probegate.config.schemapaths import aliases_of, model_at
from probegate.config.secrets import expand_secrets
from probegate.config.source import locate, parse_text, positions, read_text
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
    text = read_config_text(path)
    document = parse_text(text, source)
    try:
        return load_document(document, source, path.resolve().parent, parameters, arm_only=arm_only)
    except ConfigError as exc:
        raise ConfigError(placed(exc.issues, text, source), source) from exc


def admin_section(path: Path) -> Admin:
    """Only the `admin` section of a file (defaults when it has none, or for an ARM document),
    checked on its own: a command that talks to the gateway running this file must find it even
    while the rest of the file is being edited and does not validate."""
    document = parse_text(read_config_text(path), str(path))
    raw = document.get("admin", {}) if isinstance(document, dict) else {}
    if arm.is_arm_document(document) or raw is None:
        raw = {}
    try:
        return Admin.model_validate(raw)
    except ValidationError as exc:
        issues = [translate(e) for e in exc.errors(include_url=False)]
        raise ConfigError([replace(i, path=f"admin.{i.path}") for i in issues], str(path)) from exc


def read_config_text(path: Path) -> str:
    """The text of a configuration, template or parameters file (UTF-8, or with a BOM)."""
    return read_text(path)


def placed(
    issues: tuple[ConfigIssue, ...] | list[ConfigIssue], text: str, source: str
) -> list[ConfigIssue]:
    """Each issue with `file:line:column` where the file holds its JSON path (or its parent)."""
    where = positions(text)
    placed = []
    for issue in issues:
        found = locate(issue.path, where) if issue.path and not issue.where else None
        placed.append(replace(issue, where=f"{source}:{found[0]}:{found[1]}") if found else issue)
    return placed


def load_document(
    document: object,
    source: str,
    base_dir: Path,
    parameters: Mapping[str, object] | None = None,
    *,
    arm_only: bool = False,
) -> LoadedConfig:
    warnings: list[str] = []
    origins: Mapping[str, tuple[str, object]] = {}
    if arm.is_arm_document(document):
        try:
            converted = arm.convert_arm(document, parameters)
        except ConfigError as exc:
            raise ConfigError(exc.issues, source) from exc
        warnings.extend(present(converted.ignored, converted.notes))
        document, origins = converted.config, converted.origins
    elif arm_only:
        issue = ConfigIssue("", "not an ARM template nor an Azure CLI application gateway document")
        raise ConfigError([issue], source)
    document, secret_issues = expand_secrets(document)
    model, issues = validate_document(document, base_dir)
    issues = secret_issues + issues
    if issues or model is None:
        raise ConfigError(in_template(issues, origins) if origins else issues, source)
    warnings.extend(rules.advice(model))
    return LoadedConfig(model=model, source=source, base_dir=base_dir, warnings=tuple(warnings))


def validate_document(
    document: object, base_dir: Path
) -> tuple[GatewayConfig | None, list[ConfigIssue]]:
    """Schema and cross-item rules over one document; every issue, in document order."""
    if not isinstance(document, dict):
        got = _kind(document)
        return None, [ConfigIssue("", f"the top level must be a mapping of collections, got {got}")]
    stranger = _not_a_configuration(document)
    if stranger is not None:
        return None, [stranger]
    model: GatewayConfig | None = None
    issues: list[ConfigIssue] = []
    try:
        model = GatewayConfig.model_validate(document)
    except ValidationError as exc:
        issues.extend(translate(error) for error in exc.errors(include_url=False))
    issues.extend(rules.check(document, base_dir))
    return model, _in_document_order(issues, document)


def _kind(document: object) -> str:
    if document is None:
        return "an empty file"
    if isinstance(document, str):
        return "plain text (is this the configuration file?)"
    return "a list" if isinstance(document, list) else f"a single value ({_describe(document)})"


def _not_a_configuration(document: dict[str, Any]) -> ConfigIssue | None:
    """One sentence for a mapping that shares no key with a configuration (a compose file, an
    OpenAPI document...), instead of an 'unknown key' line for each of its keys."""
    known = set(aliases_of(GatewayConfig))
    keys = [str(k) for k in document]
    if len(keys) < 2 or any(k in known for k in keys):
        return None
    shown = ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")
    return ConfigIssue(
        "",
        f"this is not a probegate configuration: none of its top-level keys ({shown}) is one "
        "it has; expected httpListeners, backendAddressPools, backendHttpSettingsCollection, "
        "requestRoutingRules, ... (see examples/gateway.yaml)",
    )


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
