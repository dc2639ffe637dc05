"""ARM `copy` loops whose count is known at import: property loops and variable loops.

A loop `{"name": "backendAddressPools", "count": 3, "input": {...}}` stands for a list of 3
items, each its `input` with `copyIndex('backendAddressPools')` replaced by 0, 1, 2 (plus an
offset when one is given). The input is copied with its expressions rewritten, not evaluated, so
the fields probegate ignores stay unevaluated, as everywhere else in the import.

Rules: pure; no scope here (the caller evaluates `count`); a string that does not parse is left
as written, to be reported where a converted field reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

from probegate.config.arm.expr import (
    Call,
    Expr,
    ExpressionError,
    Index,
    Member,
    Value,
    expression_source,
    parse,
    unparse,
)


@dataclass(frozen=True, slots=True)
class Loop:
    name: str
    count: object  # as written: a number or an expression the caller evaluates
    input: object


def loops_in(raw: object) -> list[Loop] | None:
    """The loops of a `copy` value, or None when it is not a list of loop objects."""
    if not isinstance(raw, list) or not raw:
        return None
    found: list[Loop] = []
    for item in raw:
        if not isinstance(item, Mapping):
            return None
        fields = {str(key).lower(): value for key, value in item.items()}
        name = fields.get("name")
        if not isinstance(name, str) or "count" not in fields or "input" not in fields:
            return None
        found.append(Loop(name, fields["count"], fields["input"]))
    return found


def expand(loop: Loop, count: int) -> list[object]:
    return [substitute(loop.input, loop.name, index) for index in range(count)]


def substitute(raw: object, loop: str, index: int) -> object:
    """`raw` with every `copyIndex('<loop>'[, offset])` replaced by the index (plus offset)."""
    if isinstance(raw, str):
        source = expression_source(raw)
        if source is None or "copyindex" not in source.lower():
            return raw
        try:
            expr = parse(source)
        except ExpressionError:
            return raw
        return f"[{unparse(_replace(expr, loop, index))}]"
    if isinstance(raw, list):
        return [substitute(item, loop, index) for item in raw]
    if isinstance(raw, Mapping):
        return {key: substitute(value, loop, index) for key, value in raw.items()}
    return raw


def _replace(expr: Expr, loop: str, index: int) -> Expr:
    match expr:
        case Value():
            return expr
        case Call(name, args):
            if name.lower() == "copyindex" and _names(args, loop):
                offset = args[1] if len(args) > 1 else Value(0)
                if isinstance(offset, Value) and isinstance(offset.value, int):
                    return Value(index + offset.value)
            return Call(name, tuple(_replace(arg, loop, index) for arg in args))
        case Member(target, name):
            return Member(_replace(target, loop, index), name)
        case Index(target, key):
            return Index(_replace(target, loop, index), _replace(key, loop, index))
        case _:
            assert_never(expr)


def _names(args: tuple[Expr, ...], loop: str) -> bool:
    first = args[0] if args else None
    return (
        isinstance(first, Value)
        and isinstance(first.value, str)
        and first.value.lower() == loop.lower()
    )
