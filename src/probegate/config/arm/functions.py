"""What each ARM template function does, given its evaluated arguments.

Rules:
- One plain function per template function, `(scope, args) -> value`, listed in `FUNCTIONS` by
  lower-case name; the scope is there for `parameters()`, `variables()` and deferred values.
- Only what real gateway templates need: a function that is not listed is reported where it is used.
- A bad argument is an `ExpressionError` whose sentence names the function.
- Values only Azure knows at deployment (`uniqueString()`, `resourceGroup().name`, `reference()`,
  ...) are never guessed: they become deferred tokens inside strings (see `TemplateScope.defer`).
  Joining text (`concat`, `format`, `resourceId`, `toLower`, a `substring` of the known prefix)
  carries them along; any other function given one returns it unchanged; `read` reports a
  converted field that ends up holding one, and a reference only needs the name at its end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from probegate.config.arm.expr import ExpressionError, kind_of
from probegate.config.arm.library import LIBRARY

if TYPE_CHECKING:
    from probegate.config.arm.scope import TemplateScope

# resourceId() runs without a deployment, so ids are built under a fixed, obviously fake scope.
SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "resource-group"

Function = Callable[["TemplateScope", list[object]], object]


# ---------------------------------------------------------------------------------------- deferred

# A deferred value is a token inside a string: private-use characters around the index of its
# description in the scope. A token holds no '/', so resource ids built around it keep their shape.
_TOKEN = re.compile("\ue000([0-9]+)\ue001")


def deferred_token(index: int) -> str:
    return f"\ue000{index}\ue001"


def deferred_indexes(value: object) -> Iterator[int]:
    """The indexes of the deferred tokens anywhere in `value`, in order."""
    if isinstance(value, str):
        yield from (int(match.group(1)) for match in _TOKEN.finditer(value))
    elif isinstance(value, list):
        for item in value:
            yield from deferred_indexes(item)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from deferred_indexes(item)


def first_token(value: object) -> str | None:
    index = next(deferred_indexes(value), None)
    return None if index is None else deferred_token(index)


class NeedsDeployment(Exception):
    """The function's value is only known once Azure deploys the template.

    `inherited` is the token of an argument the value depends on; without one, the call itself
    is what Azure computes, and the evaluator makes a new token describing it."""

    def __init__(self, inherited: str | None = None) -> None:
        super().__init__(inherited)
        self.inherited = inherited


def _texts(function: str, args: list[object], count: int | None = None) -> list[str]:
    if count is not None and len(args) != count:
        raise ExpressionError(f"{function}() takes {count} argument(s), got {len(args)}")
    for arg in args:
        if not isinstance(arg, str):
            raise ExpressionError(f"{function}() takes strings, got {kind_of(arg)}")
    return [str(arg) for arg in args]


def _parameters(scope: TemplateScope, args: list[object]) -> object:
    return scope.parameter(_texts("parameters", args, 1)[0])


def _variables(scope: TemplateScope, args: list[object]) -> object:
    return scope.variable(_texts("variables", args, 1)[0])


def _resource_id(_: TemplateScope, args: list[object]) -> object:
    # The type is the first argument holding a '/'; up to two before it name the subscription and
    # resource group (resource group alone when there is one). A trailing '/' on the type, common
    # in real templates, is ignored as Azure does.
    texts = _texts("resourceId", args)
    if texts and texts[0].startswith("/"):
        # resourceId(gatewayId, '/sslCertificates/cert'): an id, then the path of a child under it.
        children = [part for text in texts[1:] for part in text.split("/") if part]
        return "/".join([texts[0].rstrip("/"), *children])
    at = next((i for i, text in enumerate(texts) if "/" in text), None)
    if at is None or at > 2:
        raise ExpressionError(
            "resourceId() needs a resource type such as 'Microsoft.Network/applicationGateways'"
        )
    scope = [SUBSCRIPTION_ID, RESOURCE_GROUP]
    scope[2 - at :] = texts[:at]
    namespace, *types = [part for part in texts[at].split("/") if part]  # 'a/b/' is 'a/b'
    names = [part for name in texts[at + 1 :] for part in name.split("/")]
    if len(names) != len(types):
        raise ExpressionError(
            f"resourceId() for type '{texts[at]}' needs {len(types)} name(s), got {len(names)}"
        )
    path = "".join(f"/{type_}/{name}" for type_, name in zip(types, names, strict=True))
    return f"/subscriptions/{scope[0]}/resourceGroups/{scope[1]}/providers/{namespace}{path}"


def _concat(_: TemplateScope, args: list[object]) -> object:
    if args and all(isinstance(arg, list) for arg in args):
        return [item for arg in args if isinstance(arg, list) for item in arg]
    if all(isinstance(arg, str | int) and not isinstance(arg, bool) for arg in args):
        return "".join(str(arg) for arg in args)
    raise ExpressionError("concat() joins either strings or arrays, not a mix of them")


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([0-9]+)\}|\{[^{}]*\}?|\}")


def _format(_: TemplateScope, args: list[object]) -> object:
    if not args or not isinstance(args[0], str):
        raise ExpressionError("format() takes a format string first, such as '{0}-{1}'")
    values = args[1:]

    def fill(match: re.Match[str]) -> str:
        token = match.group()
        if token in ("{{", "}}"):
            return token[0]
        if match.group(1) is None:
            raise ExpressionError(f"format() placeholder {token!r} is not supported: use {{0}}")
        index = int(match.group(1))
        if index >= len(values):
            raise ExpressionError(f"format() has no argument for {token} ({len(values)} given)")
        return _format_value(values[index])

    return _PLACEHOLDER.sub(fill, args[0])


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"  # as .NET, which ARM runs on, prints them
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _constant(value: bool) -> Function:
    def function(_: TemplateScope, args: list[object]) -> object:
        if args:
            raise ExpressionError(f"{str(value).lower()}() takes no arguments")
        return value

    return function


def _to_lower(_: TemplateScope, args: list[object]) -> object:
    return _texts("toLower", args, 1)[0].lower()  # a deferred token has no letters to change


def _substring(_: TemplateScope, args: list[object]) -> object:
    numbers = [arg for arg in args[1:] if isinstance(arg, int) and not isinstance(arg, bool)]
    if not 2 <= len(args) <= 3 or not isinstance(args[0], str) or len(numbers) != len(args) - 1:
        raise ExpressionError("substring() takes a string, a start index and an optional length")
    text, start = args[0], numbers[0]
    end = len(text) if len(numbers) == 1 else start + numbers[1]
    token = _TOKEN.search(text)
    if token is not None and (len(numbers) == 1 or end > token.start()):
        raise NeedsDeployment(token.group())  # the cut reaches what Azure fills in
    if not 0 <= start <= end <= len(text):
        raise ExpressionError(
            f"substring() from {start} to {end} is outside the string of {len(text)} characters"
        )
    return text[start:end]


def _resource_group(scope: TemplateScope, args: list[object]) -> object:
    _no_arguments("resourceGroup", args)
    fields = ("id", "name", "location")
    deferred = {key: scope.defer(f"resourceGroup().{key}") for key in fields}
    return {**deferred, "type": "Microsoft.Resources/resourceGroups"}


def _subscription(scope: TemplateScope, args: list[object]) -> object:
    _no_arguments("subscription", args)
    fields = ("id", "subscriptionId", "tenantId", "displayName")
    return {key: scope.defer(f"subscription().{key}") for key in fields}


def _no_arguments(function: str, args: list[object]) -> None:
    if args:
        raise ExpressionError(f"{function}() takes no arguments here")


def _at_deployment(function: str, least: int, most: int | None) -> Function:
    """A function whose value only Azure computes: a hash, the clock, a deployed resource."""

    def deferred(_: TemplateScope, args: list[object]) -> object:
        if len(args) < least or (most is not None and len(args) > most):
            count = f"at least {least}" if most is None else f"{least} to {most}"
            raise ExpressionError(f"{function}() takes {count} argument(s)")
        raise NeedsDeployment

    return deferred


FUNCTIONS: dict[str, Function] = {
    "parameters": _parameters,
    "variables": _variables,
    "resourceid": _resource_id,
    "concat": _concat,
    "format": _format,
    "true": _constant(True),
    "false": _constant(False),
    "tolower": _to_lower,
    "substring": _substring,
    "resourcegroup": _resource_group,
    "subscription": _subscription,
    "uniquestring": _at_deployment("uniqueString", 1, None),
    "utcnow": _at_deployment("utcNow", 0, 1),
    "reference": _at_deployment("reference", 1, 3),
    "list": _at_deployment("list", 2, 3),
    "listkeys": _at_deployment("listKeys", 2, 2),
    "guid": _at_deployment("guid", 1, None),
    "newguid": _at_deployment("newGuid", 0, 0),
    "deployment": _at_deployment("deployment", 0, 0),
    "environment": _at_deployment("environment", 0, 0),
    "tenant": _at_deployment("tenant", 0, 0),
    **LIBRARY,
}
# The functions given deferred tokens in their arguments; any other returns the first token it
# is given, since its result depends on it.
PASSES_DEFERRED = frozenset(
    (
        "concat",
        "format",
        "resourceid",
        "tolower",
        "substring",
        "uniquestring",
        "utcnow",
        "reference",
        "list",
        "listkeys",
        "guid",
        "newguid",
        "deployment",
        "environment",
        "tenant",
        "coalesce",  # a deferred value in a later argument does not matter when an earlier is set
        "createarray",
        "createobject",  # collections carry tokens; the field that reads one reports it
    )
)
