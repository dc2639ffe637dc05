"""The parameters and variables of one ARM template, and the evaluation of expressions against them.

Rules:
- Nothing here knows about application gateways; `convert` decides which fields are evaluated.
- Lazy: a variable or a parameter's `defaultValue` is evaluated the first time an expression reads
  it, so a value used only by a field probegate ignores can never fail the import.
- Values that refer to each other are reported once, with the whole chain, as a cycle.
- A value only Azure knows at deployment is deferred, never guessed: `defer` records what it is
  (and the parameter whose default holds it, for the hint) and returns a token that travels in
  strings; `deferred_in` finds it again where a converted field reads the value.
- What each function does lives in `functions`; the declarations are checked in `params`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import assert_never

from probegate.config.arm.expr import (
    Call,
    Expr,
    ExpressionError,
    Index,
    Member,
    Value,
    expression_source,
    kind_of,
    parse,
    unescape,
    unparse,
)
from probegate.config.arm.functions import (
    FUNCTIONS,
    PASSES_DEFERRED,
    NeedsDeployment,
    deferred_indexes,
    deferred_token,
    first_token,
)
from probegate.config.arm.loops import Loop, expand, loops_in


class AlreadyReported(ExpressionError):
    """A parameter whose value was refused up front: its users add no second issue."""


class MissingParameter(ExpressionError):
    """A parameter without a value or a default, read by a converted field: reported once, at
    its declaration; fields that only probegate ignores never ask for it."""

    def __init__(self, name: str, path: str) -> None:
        super().__init__(
            f"parameter '{name}' has no value and no defaultValue: give it in the parameters "
            f"file or with --param {name}=VALUE"
        )
        self.name = name
        self.path = path


class _CycleError(ExpressionError):
    """Values that refer to each other; raised once, with the whole chain, and never wrapped."""


@dataclass(frozen=True, slots=True)
class ParameterDefault:
    """A declared `defaultValue`, kept raw until an expression reads the parameter."""

    name: str
    raw: object
    settle: Callable[[object], object]  # checks the evaluated default against the declaration


@dataclass(frozen=True, slots=True)
class Deferred:
    """A value only Azure knows at deployment, as the template writes it."""

    source: str  # e.g. "uniqueString(resourceGroup().id)"
    parameter: str | None = None  # the parameter whose defaultValue uses it: --param fixes it


class TemplateScope:
    """The parameters and variables of one template; evaluates template strings against them."""

    def __init__(
        self,
        values: Mapping[str, object],
        defaults: Mapping[str, ParameterDefault],
        variables: Mapping[str, object],
        refused: frozenset[str] = frozenset(),
        missing: Mapping[str, str] | None = None,
    ) -> None:
        # name → the JSON path of its declaration, for parameters with no value and no default
        self.missing = {name.lower(): (name, path) for name, path in (missing or {}).items()}
        self.asked: set[str] = set()  # the missing parameters a converted field read
        self._values = {name.lower(): value for name, value in values.items()}
        self._refused = frozenset(name.lower() for name in refused)
        self._defaults = {name.lower(): default for name, default in defaults.items()}
        self._variables = {
            str(name).lower(): (str(name), raw)
            for name, raw in variables.items()
            if not (str(name).lower() == "copy" and loops_in(raw) is not None)
        }
        copies = next((raw for name, raw in variables.items() if str(name).lower() == "copy"), None)
        self._loops = {loop.name.lower(): loop for loop in loops_in(copies) or []}
        self._variable_values: dict[str, object] = {}
        self._active: list[str] = []  # what is being evaluated now, to name a cycle
        self._deferred: list[Deferred] = []

    def defer(self, source: str, parameter: str | None = None) -> str:
        """A token standing for a value Azure computes at deployment, described by `source`."""
        self._deferred.append(Deferred(source, parameter))
        return deferred_token(len(self._deferred) - 1)

    def deferred_in(self, value: object) -> Deferred | None:
        """The first deferred value anywhere inside `value`, if any."""
        index = next(deferred_indexes(value), None)
        return None if index is None or index >= len(self._deferred) else self._deferred[index]

    def evaluate_string(self, text: str) -> object:
        source = expression_source(text)
        return unescape(text) if source is None else self._eval(parse(source))

    def resolve(self, raw: object) -> object:
        """Evaluate every template string inside a variable or a default value."""
        if isinstance(raw, str):
            return self.evaluate_string(raw)
        if isinstance(raw, list):
            return [self.resolve(item) for item in raw]
        if isinstance(raw, Mapping):
            return {key: self.resolve(item) for key, item in raw.items()}
        return raw

    def parameter(self, name: str) -> object:
        key = name.lower()
        if key in self._values:
            return self._values[key]
        if key in self._refused:
            raise AlreadyReported(f"parameter '{name}' has no usable value")
        if key in self.missing:
            spelled, path = self.missing[key]
            if key in self.asked:
                raise AlreadyReported(f"parameter '{spelled}' has no value")
            self.asked.add(key)
            raise MissingParameter(spelled, path)
        default = self._defaults.get(key)
        if default is None:
            declared = ", ".join(sorted({*self._values, *self._defaults})) or "none"
            raise ExpressionError(f"parameter '{name}' is not declared (declared: {declared})")
        first = len(self._deferred)
        value = self._compute(
            f"parameters('{default.name}')",
            f"default value of parameter '{default.name}'",
            lambda: default.settle(self.resolve(default.raw)),
        )
        for index in range(first, len(self._deferred)):
            if self._deferred[index].parameter is None:
                self._deferred[index] = replace(self._deferred[index], parameter=default.name)
        self._values[key] = value
        return value

    def variable(self, name: str) -> object:
        key = name.lower()
        if key in self._variable_values:
            return self._variable_values[key]
        if key in self._loops:
            loop = self._loops[key]
            value = self._compute(
                f"variables('{loop.name}')", f"variable '{loop.name}'", lambda: self._expand(loop)
            )
            self._variable_values[key] = value
            return value
        if key not in self._variables:
            names = [spelled for spelled, _ in self._variables.values()]
            names += [loop.name for loop in self._loops.values()]
            declared = ", ".join(sorted(names))
            raise ExpressionError(
                f"variable '{name}' is not defined (defined: {declared or 'none'})"
            )
        spelled, raw = self._variables[key]
        value = self._compute(
            f"variables('{spelled}')", f"variable '{spelled}'", lambda: self.resolve(raw)
        )
        self._variable_values[key] = value
        return value

    def loop_count(self, loop: Loop) -> int:
        """How many items a copy loop makes: its count must be known at import."""
        count = self.resolve(loop.count)
        if first_token(count) is not None:
            raise ExpressionError(
                f"the copy loop '{loop.name}' repeats a number of times only Azure knows at "
                "deployment: give the count (or the parameter it comes from) a value"
            )
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 800:
            raise ExpressionError(
                f"the copy loop '{loop.name}' needs a count from 0 to 800, got {kind_of(count)}"
                + (f" {count}" if isinstance(count, int) else "")
            )
        return count

    def _expand(self, loop: Loop) -> object:
        return [self.resolve(item) for item in expand(loop, self.loop_count(loop))]

    def _compute(self, what: str, label: str, compute: Callable[[], object]) -> object:
        """Run `compute` under the cycle guard; its errors say which value they come from."""
        with _Guard(self._active, what):
            try:
                return compute()
            except (_CycleError, MissingParameter, AlreadyReported):
                raise
            except ExpressionError as error:
                raise ExpressionError(f"{label}: {error}") from None

    def _eval(self, expr: Expr) -> object:
        match expr:
            case Value(value):
                return value
            case Call(name, args) if name.lower() == "if" and len(args) == 3:
                return self._if(args)
            case Call(name, args):
                return self._call(expr, name, [self._eval(arg) for arg in args])
            case Member(target, name):
                owner = self._eval(target)
                return self._defer_part(owner, f".{name}") or _member(owner, name)
            case Index(target, key):
                owner, index = self._eval(target), self._eval(key)
                if (token := first_token(index)) is not None:
                    return token
                return self._defer_part(owner, f"[{unparse(key)}]") or _index(owner, index)
            case _:
                assert_never(expr)

    def _if(self, args: tuple[Expr, ...]) -> object:
        """`if(c, a, b)`: only the branch taken is evaluated, so the other may name what this
        deployment does not have (a parameter left empty, a resource not deployed)."""
        condition = self._eval(args[0])
        if (token := first_token(condition)) is not None:
            return token  # which branch is taken is known only at deployment
        if not isinstance(condition, bool):
            raise ExpressionError(f"if() takes true or false first, got {kind_of(condition)}")
        return self._eval(args[1] if condition else args[2])

    def _call(self, expr: Call, name: str, args: list[object]) -> object:
        function = FUNCTIONS.get(name.lower())
        if function is None:
            raise ExpressionError(f"unsupported template function '{name}'")
        if name.lower() not in PASSES_DEFERRED and (token := first_token(args)) is not None:
            return token
        try:
            return function(self, args)
        except NeedsDeployment as needs:
            return needs.inherited or self.defer(unparse(expr))

    def _defer_part(self, value: object, part: str) -> str | None:
        """A property or item of a deferred value (`reference(x).fqdn`) is deferred too."""
        if not isinstance(value, str) or first_token(value) != value:
            return None
        whole = self.deferred_in(value)
        assert whole is not None
        return self.defer(whole.source + part, whole.parameter)


class _Guard:
    """Pushes what is being evaluated for the duration of a `with`, refusing to re-enter it."""

    def __init__(self, active: list[str], what: str) -> None:
        self._active = active
        self._what = what

    def __enter__(self) -> None:
        if self._what in self._active:
            chain = " → ".join([*self._active[self._active.index(self._what) :], self._what])
            raise _CycleError(f"these values refer to each other in a cycle: {chain}")
        self._active.append(self._what)

    def __exit__(self, *_: object) -> None:
        self._active.pop()


def _member(value: object, name: str) -> object:
    if isinstance(value, Mapping):
        return _lookup(value, name)
    raise ExpressionError(f"cannot read property '{name}' of {kind_of(value)}")


def _index(value: object, key: object) -> object:
    if isinstance(value, list) and isinstance(key, int) and not isinstance(key, bool):
        if not -len(value) <= key < len(value):
            raise ExpressionError(f"index {key} is outside the array of {len(value)} items")
        return value[key]
    if isinstance(value, Mapping) and isinstance(key, str):
        return _lookup(value, key)
    raise ExpressionError(f"cannot index {kind_of(value)} with {kind_of(key)}")


def _lookup(mapping: Mapping[object, object], name: str) -> object:
    for key, item in mapping.items():
        if str(key).lower() == name.lower():
            return item
    keys = ", ".join(str(key) for key in mapping) or "none"
    raise ExpressionError(f"the object has no property '{name}' (it has: {keys})")
