"""The ARM template functions for logic, numbers, text, arrays and objects that compiled Bicep
uses for conditions, loops and defaults: `if`, `equals`, `contains`, `json`, `split`, `union`, ...

Rules: as `functions` — one plain function per template function, `(scope, args) -> value`,
an `ExpressionError` naming the function for a bad argument. None of these depends on Azure: they
compute from their arguments only. `if()` is short-circuited by the evaluator (`scope`), so
the branch not taken is never evaluated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from probegate.config.arm.expr import ExpressionError, kind_of

if TYPE_CHECKING:
    from probegate.config.arm.scope import TemplateScope

Function = Callable[["TemplateScope", list[object]], object]


def _texts(function: str, args: list[object], count: int) -> list[str]:
    _count(function, args, count, count)
    for arg in args:
        if not isinstance(arg, str):
            raise ExpressionError(f"{function}() takes strings, got {kind_of(arg)}")
    return [str(arg) for arg in args]


def _no_arguments(function: str, args: list[object]) -> None:
    if args:
        raise ExpressionError(f"{function}() takes no arguments")


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"  # as .NET, which ARM runs on, prints them
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _count(function: str, args: list[object], least: int, most: int | None = None) -> None:
    if len(args) < least or (most is not None and len(args) > most):
        wanted = (
            f"{least}" if most == least else f"{least} to {most}" if most else f"at least {least}"
        )
        raise ExpressionError(f"{function}() takes {wanted} argument(s), got {len(args)}")


def _flag(function: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"{function}() takes true or false, got {kind_of(value)}")
    return value


def _number(function: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExpressionError(f"{function}() takes whole numbers, got {kind_of(value)}")
    return value


def _if(_: TemplateScope, args: list[object]) -> object:
    # Only reached for an if() the evaluator did not short-circuit (see TemplateScope._eval).
    _count("if", args, 3, 3)
    return args[1] if _flag("if", args[0]) else args[2]


def _equals(_: TemplateScope, args: list[object]) -> object:
    _count("equals", args, 2, 2)
    left, right = args
    if isinstance(left, str) and isinstance(right, str):
        return left == right  # ARM compares strings case-sensitively in equals()
    return left == right and type(left) is type(right)


def _not(_: TemplateScope, args: list[object]) -> object:
    _count("not", args, 1, 1)
    return not _flag("not", args[0])


def _and(_: TemplateScope, args: list[object]) -> object:
    _count("and", args, 2)
    return all(_flag("and", arg) for arg in args)


def _or(_: TemplateScope, args: list[object]) -> object:
    _count("or", args, 2)
    return any(_flag("or", arg) for arg in args)


def _compare(function: str, test: Callable[[int, int], bool]) -> Function:
    def compare(_: TemplateScope, args: list[object]) -> object:
        _count(function, args, 2, 2)
        left, right = args
        if isinstance(left, str) and isinstance(right, str):
            return test((left > right) - (left < right), 0)
        return test(_number(function, left), _number(function, right))

    return compare


def _arithmetic(function: str, apply: Callable[[int, int], int]) -> Function:
    def arithmetic(_: TemplateScope, args: list[object]) -> object:
        _count(function, args, 2, 2)
        left, right = _number(function, args[0]), _number(function, args[1])
        if function in ("div", "mod") and right == 0:
            raise ExpressionError(f"{function}() by zero")
        return apply(left, right)

    return arithmetic


def _empty(_: TemplateScope, args: list[object]) -> object:
    _count("empty", args, 1, 1)
    return args[0] in (None, "", [], {})


def _contains(_: TemplateScope, args: list[object]) -> object:
    _count("contains", args, 2, 2)
    container, item = args
    if isinstance(container, str):
        return isinstance(item, str | int) and str(item) in container
    if isinstance(container, list):
        return item in container
    if isinstance(container, Mapping):
        return isinstance(item, str) and any(str(key).lower() == item.lower() for key in container)
    raise ExpressionError(
        f"contains() looks in a string, an array or an object, not {kind_of(container)}"
    )


def _length(_: TemplateScope, args: list[object]) -> object:
    _count("length", args, 1, 1)
    if isinstance(args[0], str | list | Mapping):
        return len(args[0])
    raise ExpressionError(f"length() takes a string, an array or an object, not {kind_of(args[0])}")


def _json(_: TemplateScope, args: list[object]) -> object:
    text = _texts("json", args, 1)[0]
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ExpressionError(f"json() was given text that is not JSON: {error.msg}") from None


def _string(_: TemplateScope, args: list[object]) -> object:
    _count("string", args, 1, 1)
    value = args[0]
    if isinstance(value, list | Mapping):
        return json.dumps(value, separators=(",", ":"))
    return _format_value(value)


def _int(_: TemplateScope, args: list[object]) -> object:
    _count("int", args, 1, 1)
    value = args[0]
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        return int(value)
    return _number("int", value)


def _bool(_: TemplateScope, args: list[object]) -> object:
    _count("bool", args, 1, 1)
    value = args[0]
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, int):
        return bool(value)
    raise ExpressionError(f"bool() takes 'true', 'false' or a number, not {kind_of(value)}")


def _replace(_: TemplateScope, args: list[object]) -> object:
    text, old, new = _texts("replace", args, 3)
    return text.replace(old, new)


def _split(_: TemplateScope, args: list[object]) -> object:
    _count("split", args, 2, 2)
    text, delimiters = args
    if not isinstance(text, str):
        raise ExpressionError(f"split() takes a string first, not {kind_of(text)}")
    if isinstance(delimiters, str):
        delimiters = [delimiters]
    if not isinstance(delimiters, list) or not all(isinstance(d, str) and d for d in delimiters):
        raise ExpressionError("split() takes a delimiter string or an array of them")
    pattern = "|".join(re.escape(str(d)) for d in delimiters)
    return re.split(pattern, text)


def _to_upper(_: TemplateScope, args: list[object]) -> object:
    return _texts("toUpper", args, 1)[0].upper()


def _trim(_: TemplateScope, args: list[object]) -> object:
    return _texts("trim", args, 1)[0].strip()


def _affix(function: str, test: Callable[[str, str], bool]) -> Function:
    def affix(_: TemplateScope, args: list[object]) -> object:
        text, part = _texts(function, args, 2)
        return test(text.lower(), part.lower())  # ARM compares these case-insensitively

    return affix


def _index_of(function: str, last: bool) -> Function:
    def index_of(_: TemplateScope, args: list[object]) -> object:
        text, part = _texts(function, args, 2)
        return text.lower().rfind(part.lower()) if last else text.lower().find(part.lower())

    return index_of


def _create_array(_: TemplateScope, args: list[object]) -> object:
    return list(args)


def _create_object(_: TemplateScope, args: list[object]) -> object:
    if len(args) % 2:
        raise ExpressionError("createObject() takes pairs of a key and a value")
    keys, values = args[0::2], args[1::2]
    if not all(isinstance(key, str) for key in keys):
        raise ExpressionError("createObject() keys are strings")
    return {str(key): value for key, value in zip(keys, values, strict=True)}


def _union(_: TemplateScope, args: list[object]) -> object:
    _count("union", args, 1)
    objects = [arg for arg in args if isinstance(arg, Mapping)]
    if len(objects) == len(args):
        merged: dict[object, object] = {}
        for found in objects:
            merged.update(found)
        return merged
    arrays = [arg for arg in args if isinstance(arg, list)]
    if len(arrays) == len(args):
        out: list[object] = []
        for array in arrays:
            out.extend(item for item in array if item not in out)
        return out
    raise ExpressionError("union() joins either objects or arrays, not a mix of them")


def _coalesce(_: TemplateScope, args: list[object]) -> object:
    _count("coalesce", args, 1)
    return next((arg for arg in args if arg is not None), None)


def _null(_: TemplateScope, args: list[object]) -> object:
    _no_arguments("null", args)
    return None


def _end(function: str, last: bool) -> Function:
    def end(_: TemplateScope, args: list[object]) -> object:
        _count(function, args, 1, 1)
        value = args[0]
        if not isinstance(value, str | list):
            raise ExpressionError(f"{function}() takes a string or an array, not {kind_of(value)}")
        if not value:
            return "" if isinstance(value, str) else None
        return value[-1] if last else value[0]

    return end


def _slice(function: str) -> Function:
    def cut(_: TemplateScope, args: list[object]) -> object:
        _count(function, args, 2, 2)
        value, count = args[0], max(0, _number(function, args[1]))
        if not isinstance(value, str | list):
            raise ExpressionError(f"{function}() takes a string or an array, not {kind_of(value)}")
        return value[:count] if function == "take" else value[count:]

    return cut


def _range(_: TemplateScope, args: list[object]) -> object:
    _count("range", args, 2, 2)
    start, count = _number("range", args[0]), _number("range", args[1])
    if not 0 <= count <= 10_000:
        raise ExpressionError(f"range() count must be between 0 and 10000, got {count}")
    return list(range(start, start + count))


def _copy_index(_: TemplateScope, args: list[object]) -> object:
    loop = f"'{args[0]}'" if args and isinstance(args[0], str) else "its loop"
    raise ExpressionError(
        f"copyIndex({loop}) is used outside of that copy loop (property and variable loops are "
        "expanded; a loop over whole resources is not)"
    )


LIBRARY: dict[str, Function] = {
    "if": _if,
    "equals": _equals,
    "not": _not,
    "and": _and,
    "or": _or,
    "greater": _compare("greater", lambda a, b: a > b),
    "greaterorequals": _compare("greaterOrEquals", lambda a, b: a >= b),
    "less": _compare("less", lambda a, b: a < b),
    "lessorequals": _compare("lessOrEquals", lambda a, b: a <= b),
    "add": _arithmetic("add", lambda a, b: a + b),
    "sub": _arithmetic("sub", lambda a, b: a - b),
    "mul": _arithmetic("mul", lambda a, b: a * b),
    "div": _arithmetic("div", lambda a, b: int(a / b)),
    "mod": _arithmetic("mod", lambda a, b: a - b * int(a / b)),
    "empty": _empty,
    "contains": _contains,
    "length": _length,
    "json": _json,
    "string": _string,
    "int": _int,
    "bool": _bool,
    "replace": _replace,
    "split": _split,
    "toupper": _to_upper,
    "trim": _trim,
    "startswith": _affix("startsWith", str.startswith),
    "endswith": _affix("endsWith", str.endswith),
    "indexof": _index_of("indexOf", last=False),
    "lastindexof": _index_of("lastIndexOf", last=True),
    "createarray": _create_array,
    "createobject": _create_object,
    "union": _union,
    "coalesce": _coalesce,
    "null": _null,
    "first": _end("first", last=False),
    "last": _end("last", last=True),
    "take": _slice("take"),
    "skip": _slice("skip"),
    "range": _range,
    "copyindex": _copy_index,
}
