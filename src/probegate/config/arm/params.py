"""ARM template parameters: the declarations, the values given for them, and parameters files.

Rules:
- Declarations are checked up front, because Azure rejects a deployment with a missing or mistyped
  parameter whether or not it is used; a `defaultValue` is only evaluated when something reads it.
- Values given as text (`--param NAME=VALUE`) are converted to the declared type; values from a
  parameters file keep their JSON type and are checked against it.
- Every problem is one ConfigIssue at the parameter's JSON path; a secure value is never printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

from probegate.config.arm.expr import ExpressionError, kind_of
from probegate.config.arm.functions import first_token
from probegate.config.arm.scope import ParameterDefault, TemplateScope
from probegate.errors import ConfigError, ConfigIssue


def build_scope(
    declared: Mapping[str, object],
    variables: Mapping[str, object],
    supplied: Mapping[str, object],
    path: str,
) -> tuple[TemplateScope, list[ConfigIssue]]:
    """Check the template's parameter declarations (at `path`) against the supplied values."""
    issues: list[ConfigIssue] = []
    given = {name.lower(): (name, value) for name, value in supplied.items()}
    values: dict[str, object] = {}
    defaults: dict[str, ParameterDefault] = {}
    refused: set[str] = set()
    missing: dict[str, str] = {}
    for name, declaration in declared.items():
        supplied_value = given.pop(name.lower(), None)
        problem = _declare(name, declaration, supplied_value, values, defaults)
        if problem is _MISSING:
            missing[name] = f"{path}.{name}"  # asked for only if a converted field reads it
        elif problem is not None:
            issues.append(ConfigIssue(f"{path}.{name}", problem))
            refused.add(name)
    if given:
        names = ", ".join(sorted(spelled for spelled, _ in given.values()))
        known = ", ".join(declared) or "none"
        message = f"values were given for {names}, which the template does not declare"
        issues.append(ConfigIssue(path, f"{message} (declared: {known})"))
    return TemplateScope(values, defaults, variables, frozenset(refused), missing), issues


def _declare(
    name: str,
    declaration: object,
    given: tuple[str, object] | None,
    values: dict[str, object],
    defaults: dict[str, ParameterDefault],
) -> str | None:
    """Record one parameter's value (or its default, for later); what is wrong with it, if any."""
    if not isinstance(declaration, Mapping):
        return "a parameter declaration is an object with a type"
    fields = {str(key).lower(): item for key, item in declaration.items()}
    declared_type = str(fields.get("type", "")).lower()
    allowed = fields.get("allowedvalues")
    allowed_values = tuple(allowed) if isinstance(allowed, list) else None
    if given is not None:
        try:
            value = coerce(given[1], declared_type)
            values[name] = check_allowed(value, allowed_values, declared_type)
        except ExpressionError as error:
            return f"parameter '{name}': {error}"
    elif "defaultvalue" in fields:
        defaults[name] = ParameterDefault(
            name, fields["defaultvalue"], _settler(declared_type, allowed_values)
        )
    else:
        return _MISSING
    return None


_MISSING = "no value and no default"


def _settler(declared_type: str, allowed: tuple[object, ...] | None) -> Callable[[object], object]:
    """Checks an evaluated default value as Azure would: type first, then allowedValues.

    A default that Azure only knows at deployment (`[resourceGroup().location]`) cannot be
    checked here; it is reported where a converted field uses it."""

    def settle(value: object) -> object:
        if first_token(value) is not None:
            return value
        return check_allowed(coerce(value, declared_type), allowed, declared_type)

    return settle


def coerce(value: object, declared_type: str) -> object:
    """Check `value` against the declared type; text (as `--param` gives it) is converted."""
    coercer = _COERCERS.get(declared_type)
    if coercer is None:
        if declared_type:
            raise ExpressionError(f"unknown parameter type '{declared_type}'")
        return value
    return coercer(value)


def _to_int(value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ExpressionError(f"expects a whole number (type int), got {_show(value)}")


def _to_bool(value: object) -> object:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, bool):
        return value
    raise ExpressionError(f"expects true or false (type bool), got {_show(value)}")


def _to_string(value: object) -> object:
    if isinstance(value, str):
        return value
    raise ExpressionError(f"expects text (type string), got {kind_of(value)}")


def _json_of(type_: type[object], name: str) -> Callable[[object], object]:
    def convert(value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise ExpressionError(
                    f"expects JSON ({name}), which {_show(value)} is not: {error.msg}"
                ) from None
        if isinstance(value, type_):
            return value
        raise ExpressionError(f"expects {kind_of(type_())} (type {name}), got {kind_of(value)}")

    return convert


_COERCERS: dict[str, Callable[[object], object]] = {
    "int": _to_int,
    "bool": _to_bool,
    "string": _to_string,
    "securestring": _to_string,
    "array": _json_of(list, "array"),
    "object": _json_of(dict, "object"),
    "secureobject": _json_of(dict, "secureObject"),
}


def check_allowed(value: object, allowed: tuple[object, ...] | None, declared_type: str) -> object:
    if allowed is None or value in allowed:
        return value
    shown = "the value given" if declared_type.startswith("secure") else _show(value)
    choices = ", ".join(_show(choice) for choice in allowed)
    raise ExpressionError(f"{shown} is not one of the allowedValues: {choices}")


def _show(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def load_parameters_file(data: object) -> dict[str, object]:
    """An ARM parameters file (or a bare `{"name": {"value": …}}` mapping) → name → value."""
    if not isinstance(data, Mapping):
        raise ConfigError(
            [
                ConfigIssue(
                    "",
                    "a parameters file is a JSON object such as "
                    '{"parameters": {"name": {"value": ...}}}',
                )
            ]
        )
    entries, path = _parameter_entries(data)
    values: dict[str, object] = {}
    issues: list[ConfigIssue] = []
    for name, entry in entries.items():
        fields = (
            {str(key).lower(): item for key, item in entry.items()}
            if isinstance(entry, Mapping)
            else {}
        )
        if "value" in fields:
            values[str(name)] = fields["value"]
        elif "reference" in fields:
            issues.append(
                ConfigIssue(
                    f"{path}{name}.reference",
                    (
                        f"parameter '{name}' is a Key Vault reference, which probegate cannot read: "
                        f"put the value in the file or pass --param {name}=VALUE"
                    ),
                )
            )
        else:
            issues.append(
                ConfigIssue(
                    f"{path}{name}",
                    (f"parameter '{name}' needs a value, written as {{\"value\": ...}}"),
                )
            )
    if issues:
        raise ConfigError(issues)
    return values


def _parameter_entries(data: Mapping[object, object]) -> tuple[Mapping[object, object], str]:
    """The name → entry mapping, and the path prefix of its entries."""
    keys = {str(key).lower(): key for key in data}
    wrapper = data.get(keys.get("parameters", ""))
    envelope = "$schema" in keys or "contentversion" in keys
    # A bare mapping may declare a parameter called "parameters"; that one has a value of its own.
    if isinstance(wrapper, Mapping) and (envelope or not _is_entry(wrapper)):
        return wrapper, f"{keys['parameters']}."
    return data, ""


def _is_entry(entry: Mapping[object, object]) -> bool:
    return any(str(key).lower() in ("value", "reference") for key in entry)
