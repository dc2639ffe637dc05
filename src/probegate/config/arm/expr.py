"""ARM template expressions: the syntax of one `[...]` string.

Holds the tokenizer and the recursive-descent parser for the part of the ARM template language a
gateway template needs: string literals in single quotes, integers, function calls, and `.name`,
`[0]`, `['x']` on their results. What the functions do lives in `functions`, the values they
read in `scope`.

Rules:
- Pure: no parameters, no variables, no evaluation; `parse` turns text into frozen nodes.
- A failure is an `ExpressionError` holding one sentence for the operator; the caller knows the JSON
  path and turns it into a ConfigIssue.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never


class ExpressionError(Exception):
    """An expression cannot be evaluated (internal to the ARM import: convert.py adds the path)."""


# ---------------------------------------------------------------------------------------- syntax


@dataclass(frozen=True, slots=True)
class Value:
    value: str | int


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Member:
    target: Expr
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    target: Expr
    key: Expr


Expr = Value | Call | Member | Index


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "str", "int", "name", "punct" or "end"
    text: str
    pos: int


# Names may hold dots so that user-defined `namespace.function(...)` calls parse (and are then
# reported as unsupported); after a `.` the parser splits them back into property accesses.
_TOKEN = re.compile(
    r"(?P<str>'(?:[^']|'')*')|(?P<int>-?[0-9]+)|(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[(),.\[\]])"
)


def expression_source(text: str) -> str | None:
    """The expression inside `[...]`, or None for a plain string (`[[` escapes a literal `[`)."""
    if text.startswith("[") and text.endswith("]") and not text.startswith("[["):
        return text[1:-1]
    return None


def unescape(text: str) -> str:
    """A plain template string as deployed: `[[x]` stands for the literal `[x]`."""
    return text[1:] if text.startswith("[[") and text.endswith("]") else text


def parse(source: str) -> Expr:
    """Parse the inside of one `[...]` expression."""
    return _Parser(source).parse()


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = _skip_space(source, 0)
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if match is None or match.lastgroup is None:
            if source[pos] == "'":
                raise ExpressionError("a string literal is not closed: add the closing quote (')")
            raise ExpressionError(f"unexpected character {source[pos]!r} at position {pos + 2}")
        # Positions count from the opening `[`, as the operator sees the string in the file.
        tokens.append(_Token(match.lastgroup, match.group(), pos + 1))
        pos = _skip_space(source, match.end())
    tokens.append(_Token("end", "", len(source) + 1))
    return tokens


def _skip_space(source: str, pos: int) -> int:
    while pos < len(source) and source[pos].isspace():
        pos += 1
    return pos


class _Parser:
    """Recursive descent over: expr := primary ('.' name | '[' expr ']')*."""

    def __init__(self, source: str) -> None:
        self._tokens = _tokenize(source)
        self._at = 0

    def parse(self) -> Expr:
        if self._peek().kind == "end":
            raise ExpressionError("the expression is empty")
        expr = self._expression()
        token = self._peek()
        if token.kind != "end":
            raise ExpressionError(f"unexpected {token.text!r} at position {token.pos + 1}")
        return expr

    def _expression(self) -> Expr:
        expr = self._primary()
        while True:
            if self._accept("."):
                for part in self._take_name().split("."):
                    expr = Member(expr, part)
            elif self._accept("["):
                expr = Index(expr, self._expression())
                self._require("]")
            else:
                return expr

    def _primary(self) -> Expr:
        token = self._next()
        if token.kind == "str":
            return Value(token.text[1:-1].replace("''", "'"))
        if token.kind == "int":
            return Value(int(token.text))
        if token.kind == "name" and self._accept("("):
            return Call(token.text, self._arguments())
        if token.kind == "name":
            raise ExpressionError(f"'{token.text}' is not a function call: write {token.text}(...)")
        if token.kind == "end":
            raise ExpressionError("the expression ends too early")
        raise ExpressionError(f"unexpected {token.text!r} at position {token.pos + 1}")

    def _arguments(self) -> tuple[Expr, ...]:
        if self._accept(")"):
            return ()
        args = [self._expression()]
        while self._accept(","):
            args.append(self._expression())
        self._require(")")
        return tuple(args)

    def _take_name(self) -> str:
        token = self._next()
        if token.kind != "name":
            raise ExpressionError(f"expected a property name after '.' at position {token.pos + 1}")
        return token.text

    def _require(self, punct: str) -> None:
        if not self._accept(punct):
            token = self._peek()
            found = repr(token.text) if token.text else "the end"
            raise ExpressionError(f"expected {punct!r} at position {token.pos + 1}, found {found}")

    def _accept(self, punct: str) -> bool:
        if self._peek().kind == "punct" and self._peek().text == punct:
            self._at += 1
            return True
        return False

    def _peek(self) -> _Token:
        return self._tokens[self._at]

    def _next(self) -> _Token:
        token = self._tokens[self._at]
        self._at = min(self._at + 1, len(self._tokens) - 1)
        return token


def kind_of(value: object) -> str:
    """How an operator would name the JSON kind of `value`, for messages: "an array"."""
    if isinstance(value, bool):
        return "a boolean"
    kinds = (
        (str, "a string"),
        (int, "an integer"),
        (float, "a number"),
        (list, "an array"),
        (Mapping, "an object"),
    )
    return next((text for type_, text in kinds if isinstance(value, type_)), "null")


def unparse(expr: Expr) -> str:
    """The expression written back as an operator would read it in the template."""
    match expr:
        case Value(value):
            return str(value) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"
        case Call(name, args):
            return f"{name}({', '.join(unparse(arg) for arg in args)})"
        case Member(target, name):
            return f"{unparse(target)}.{name}"
        case Index(target, key):
            return f"{unparse(target)}[{unparse(key)}]"
        case _:
            assert_never(expr)
