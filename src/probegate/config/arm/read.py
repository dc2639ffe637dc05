"""Reading an ARM document: JSON objects matched in any key case, values evaluated on demand.

`Obj` is one JSON object read case-insensitively that remembers which keys were read; `Reader`
turns nodes into probegate values (text, whole numbers, booleans, enums, references, collections
driven by the tables of `tables`) and collects the problems and the ignored lines.

Rules:
- Keys match in any case; enum values come back in their canonical case; a reference
  (`{"id": "<resource id>"}`) becomes the name at the end of the id.
- Only what a reader is asked for is evaluated, so an expression in a field probegate ignores never
  fails the import; values from CLI output or from an evaluated expression are never evaluated again.
- A converted value that only Azure knows at deployment (it holds a deferred token) is a problem
  naming what Azure computes; a reference only needs the name at its end to be known.
- Nothing is dropped silently: what nobody read is one ignored line with its reason, or counted
  among the read-only status fields. A problem never raises: it is collected with its JSON path.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from probegate.config.arm.expr import ExpressionError, kind_of
from probegate.config.arm.functions import first_token
from probegate.config.arm.loops import expand, loops_in
from probegate.config.arm.scope import AlreadyReported, Deferred, MissingParameter, TemplateScope
from probegate.config.arm.tables import NO_SPEC, REASONS, STATUS, Spec
from probegate.errors import ConfigIssue


@dataclass(frozen=True, slots=True)
class Node:
    raw: object
    path: str
    literal: bool  # from CLI output or an evaluated expression: never evaluated again


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Obj:
    """One JSON object, read case-insensitively; remembers which keys were read."""

    __slots__ = ("_entries", "_read", "clashes", "literal", "path", "raw")

    def __init__(self, raw: Mapping[Any, Any], path: str, literal: bool) -> None:
        self.raw = raw
        self.path = path
        self.literal = literal
        self._entries: dict[str, tuple[str, object]] = {}
        self.clashes: list[tuple[str, str]] = []  # one key spelled twice, with different values
        for key, value in raw.items():
            earlier = self._entries.get(str(key).lower())
            if earlier is not None and earlier[1] != value:
                self.clashes.append((earlier[0], str(key)))
            self._entries[str(key).lower()] = (str(key), value)
        self._read: set[str] = set()

    def has(self, key: str) -> bool:
        return key.lower() in self._entries

    def spelling(self, key: str) -> str:
        return join(self.path, self._entries.get(key.lower(), (key, None))[0])

    def peek(self, key: str) -> object:
        return self._entries.get(key.lower(), (key, None))[1]

    def peek_mapping(self, key: str) -> Mapping[str, object]:
        value = self.peek(key)
        return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}

    def take(self, key: str) -> Node | None:
        """The value under `key` in any case; None when absent or null (CLI output prints nulls)."""
        self._read.add(key.lower())
        spelled, value = self._entries.get(key.lower(), (key, None))
        return None if value is None else Node(value, join(self.path, spelled), self.literal)

    def unread(self) -> list[Node]:
        """What nobody took and holds something (null and empty values carry nothing to lose)."""
        return [
            Node(value, join(self.path, spelled), self.literal)
            for lower, (spelled, value) in self._entries.items()
            if lower not in self._read and value not in (None, "", [], {})
        ]


def key_of(node: Node) -> str:
    return node.path.rsplit(".", 1)[-1]


class Reader:
    """Holds the issues, ignored lines and status counts of one conversion."""

    def __init__(self, scope: TemplateScope | None) -> None:
        self.scope = scope
        self.issues: list[ConfigIssue] = []
        self.ignored: list[str] = []
        self.status: Counter[str] = Counter()
        self.frontend_ports: dict[str, object] = {}
        self.deployed: list[str] = []  # converted fields that read a deployed resource
        self.notes: list[str] = []  # conversions that change something an operator should know
        # listener's template path (up to the item) → its frontend IP configuration's name
        self.listener_frontends: dict[str, str] = {}
        self.ipv6_addresses: set[str] = set()  # names of IPv6 public IP resources in the template
        self.ipv6_frontends: set[str] = set()  # frontend IP configurations on IPv6 (lower case)
        self.joined_from: list[tuple[str, str]] = []  # (pool, the resource adding members to it)
        # Where each converted object and field came from: id(dict) → (template path of the
        # object, {key: (template path of the field, the raw value)}); see `origins_of`.
        self.origins: dict[int, tuple[str, dict[str, tuple[str, object]]]] = {}

    def issue(self, path: str, message: str) -> None:
        self.issues.append(ConfigIssue(path, message))

    # ------------------------------------------------------------------ values

    def value(self, node: Node) -> object:
        """The node's value, evaluated when it is a template expression; None after an issue."""
        if node.literal or self.scope is None or not isinstance(node.raw, str):
            return node.raw
        try:
            return self.scope.evaluate_string(node.raw)
        except AlreadyReported:
            return None
        except MissingParameter as missing:
            self.issue(missing.path, f"{missing}; {node.path} uses it")
            return None
        except ExpressionError as error:
            self.issue(node.path, f'{error} in "{node.raw}"')
            return None

    def _wrong(self, node: Node, value: object, expected: str) -> None:
        if value is not None and not self._deferred(node, value):
            self.issue(node.path, f"expected {expected}, got {clip(show_json(value))}")

    def _deferred(self, node: Node, value: object) -> bool:
        """Report `value` if it holds something only Azure knows at deployment."""
        found = None if self.scope is None else self.scope.deferred_in(value)
        if found is None:
            return False
        written = None if node.literal or not isinstance(node.raw, str) else node.raw
        if found.source.lower().startswith(_DEPLOYED):
            self.deployed.append(node.path)
            subject = "the value" if written is None else f'"{written}"'
            self.issue(node.path, f"{subject} reads {found.source} (see the first problem)")
        else:
            self.issue(node.path, deferred_message(found, written))
        return True

    def obj(self, node: Node) -> Obj | None:
        value = self.value(node)
        if isinstance(value, Mapping):
            literal = node.literal or isinstance(node.raw, str)
            if not literal and self.scope is not None:
                value = self._expand_copies(value, node.path)
            return Obj(value, node.path, literal)
        self._wrong(node, value, "an object")
        return None

    def _expand_copies(self, raw: Mapping[Any, Any], path: str) -> Mapping[Any, Any]:
        """An object with its property `copy` loops written out: each loop's name becomes a
        list of `count` items (see loops.py). A loop that cannot be expanded is an issue."""
        key = next((k for k in raw if str(k).lower() == "copy"), None)
        loops = None if key is None else loops_in(raw[key])
        if key is None or loops is None:
            return raw
        assert self.scope is not None
        out = {k: v for k, v in raw.items() if k != key}
        for i, loop in enumerate(loops):
            where = f"{join(path, str(key))}[{i}]"
            if any(str(k).lower() == loop.name.lower() for k in out):
                self.issue(
                    where, f"the copy loop makes '{loop.name}', which is also written out: keep one"
                )
                continue
            try:
                count = self.scope.loop_count(loop)
            except AlreadyReported:
                continue
            except MissingParameter as missing:
                self.issue(missing.path, f"{missing}; {where}.count uses it")
                continue
            except ExpressionError as error:
                self.issue(f"{where}.count", str(error))
                continue
            out[loop.name] = expand(loop, count)
        return out

    def nodes(self, node: Node) -> list[Node]:
        value = self.value(node)
        if not isinstance(value, list):
            self._wrong(node, value, "a list")
            return []
        literal = node.literal or isinstance(node.raw, str)
        return [Node(item, f"{node.path}[{i}]", literal) for i, item in enumerate(value)]

    def text(self, node: Node) -> str | None:
        value = self.value(node)
        if isinstance(value, str) and not self._deferred(node, value):
            return value or None  # an empty string means "not set" in templates and CLI output
        if not isinstance(value, str):
            self._wrong(node, value, "text")
        return None

    def secret(self, node: Node) -> str | None:
        """Text that is never shown in a message (a PFX or its password)."""
        value = self.value(node)
        if isinstance(value, str) and not self._deferred(node, value):
            return value or None
        if value is not None and not isinstance(value, str):
            self.issue(node.path, f"expected text, got {kind_of(value)} (not shown)")
        return None

    def integer(self, node: Node) -> int | None:
        value = self.value(node)
        if isinstance(value, str) and value.strip().removeprefix("-").isdecimal():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self._wrong(node, value, "a whole number")
        return None

    def boolean(self, node: Node) -> bool | None:
        value = self.value(node)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if isinstance(value, bool):
            return value
        self._wrong(node, value, "true or false")
        return None

    def texts(self, node: Node) -> list[str]:
        return [text for item in self.nodes(node) if (text := self.text(item)) is not None]

    def enum(self, node: Node, choices: tuple[str, ...]) -> str | None:
        value = self.text(node)
        if value is None:
            return None
        found = next((choice for choice in choices if choice.lower() == value.lower()), None)
        if found is None:
            self.issue(node.path, f"must be one of {', '.join(choices)}; got '{value}'")
        return found

    def ref(self, node: Node, collection: str) -> str | None:
        """The name a reference points at: the last segment of its resource id."""
        value = self.value(node)
        if isinstance(value, Mapping):
            ref = Obj(value, node.path, node.literal or isinstance(node.raw, str))
            id_node = ref.take("id")
            self.leftovers(ref, NO_SPEC)
            if id_node is None:
                self.issue(node.path, f'a reference needs an id: {{"id": ".../{collection}/NAME"}}')
                return None
            return self.ref(id_node, collection)
        if not isinstance(value, str) or not value.strip("/"):
            self._wrong(node, value, 'a reference such as {"id": "..."}')
            return None
        segments = value.strip("/").split("/")
        if first_token(segments[-2:]) is not None and self._deferred(node, segments[-2:]):
            return None
        if len(segments) > 1 and segments[-2].lower() != collection.lower():
            self.issue(
                node.path,
                f"points at {segments[-2]}/{segments[-1]}, but this field "
                f"refers to one of the gateway's {collection}",
            )
            return None
        return segments[-1]

    def refs(self, node: Node, collection: str) -> list[str]:
        return [name for item in self.nodes(node) if (name := self.ref(item, collection))]

    # ------------------------------------------------------------------ objects

    def collection(self, node: Node, spec: Spec) -> list[dict[str, Any]]:
        objects = (self.obj(item) for item in self.nodes(node))
        return [self.item(obj, spec) for obj in objects if obj is not None]

    def item(self, item: Obj, spec: Spec) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.origins[id(out)] = (item.path, {})
        name_node = item.take("name")
        name = None if name_node is None else self.text(name_node)
        if name_node is None or name_node.raw == "":
            self.issue(item.path, f"every item of {spec.key} needs a name: rules refer to it")
        if name is not None:
            out["name"] = name
            assert name_node is not None
            self.origins[id(out)][1]["name"] = (name_node.path, name_node.raw)
        props_node = item.take("properties")
        # Flattened CLI items hold their properties beside the name.
        props = item if props_node is None else self.obj(props_node)
        if props is not None:
            self.fill(props, spec, out)
            if props is not item:
                self.leftovers(props, spec)
        self.leftovers(item, spec)
        return out

    def fill(self, obj: Obj, spec: Spec, out: dict[str, Any]) -> None:
        fields = self.origins.setdefault(id(out), (obj.path, {}))[1]
        for field_ in spec.fields:
            node = obj.take(field_.key)
            value = None if node is None else field_.read(self, node)
            if value not in (None, [], {}) and (field_.out or field_.key) not in out:
                assert node is not None
                out[field_.out or field_.key] = value
                fields[field_.out or field_.key] = (node.path, node.raw)
        for key in spec.empty_lists:
            out.setdefault(key, [])

    def list_of(self, node: Node, spec: Spec) -> list[dict[str, Any]]:
        """A list of unnamed objects (conditions, header configurations, error pages)."""
        found = (self.sub_object(item, spec) for item in self.nodes(node))
        return [item for item in found if item]

    def sub_object(self, node: Node, spec: Spec) -> dict[str, Any] | None:
        obj = self.obj(node)
        if obj is None:
            return None
        out: dict[str, Any] = {}
        self.origins[id(out)] = (obj.path, {})
        self.fill(obj, spec, out)
        self.leftovers(obj, spec)
        return out

    def leftovers(self, obj: Obj, spec: Spec) -> None:
        for first, second in obj.clashes:
            self.issue(
                join(obj.path, second),
                f"{first} and {second} are one property given twice with different values: "
                "keep one",
            )
        for node in obj.unread():
            key = key_of(node)
            lower = key.lower()
            if lower == "copy":
                self.issue(node.path, _COPY_PROBLEM)
            elif lower in STATUS or lower in spec.backrefs:
                self.status[key] += 1
            else:
                why = spec.reasons.get(lower) or REASONS.get(lower, "not supported by probegate")
                self.ignored.append(f"{node.path}: {describe(key, node.raw)} ({why})")

    def summarise(self, path: str) -> None:
        if self.status:
            names = ", ".join(sorted(self.status, key=str.lower))
            total = sum(self.status.values())
            self.ignored.append(
                f"{path or '$'}: {total} read-only fields: {names} "
                "(Azure status and back-references; probegate keeps its own)"
            )


# Functions that read resources Azure has deployed: no import can know what they return.
_DEPLOYED = ("reference(", "list(", "listkeys(")

_COPY_PROBLEM = (
    "a copy loop over whole resources makes several of them, and probegate converts one "
    "gateway: write it out once (loops inside properties and variables are expanded)"
)


# ---------------------------------------------------------------------------------------- origins


def origins_of(
    config: Mapping[str, Any], origins: Mapping[int, tuple[str, dict[str, tuple[str, object]]]]
) -> dict[str, tuple[str, object]]:
    """Each path of the converted config → (the template path it came from, its raw value)."""
    found: dict[str, tuple[str, object]] = {}

    def walk(value: object, path: str) -> None:
        if isinstance(value, dict):
            origin = origins.get(id(value))
            if origin is not None:
                found[path] = (origin[0], None)
                for key, field_origin in origin[1].items():
                    found[join(path, key)] = field_origin
            for key, item in value.items():
                walk(item, join(path, str(key)))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(config, "")
    return found


# ---------------------------------------------------------------------------------------- pictures


def deferred_message(found: Deferred, written: str | None) -> str:
    """Why a converted value cannot be known before Azure deploys the template, and the fix."""
    subject = "the value" if written is None else f'"{written}"'
    if found.parameter is not None:
        return (
            f"{subject} uses {found.source} through the default value of parameter "
            f"'{found.parameter}', and only Azure knows it at deployment: give the parameter a "
            f"value (--param {found.parameter}=VALUE)"
        )
    return (
        f"{subject} uses {found.source}, which only Azure knows at deployment: write the value "
        "itself in the template"
    )


def describe(key: str, raw: object) -> str:
    """A short picture of an ignored value; secrets are never printed."""
    if key.lower() in ("password", "data"):
        return "a value (not shown)"
    names = [str(peek(item, "name")) for item in raw] if isinstance(raw, list) else []
    if names and "None" not in names:
        return f"{len(names)} {'item' if len(names) == 1 else 'items'}: {', '.join(names)}"
    if isinstance(raw, Mapping):
        if len(raw) == 1 and isinstance(ref := peek(raw, "id"), str):
            literal = not (ref.startswith("[") and ref.endswith("]"))
            return (
                f"reference to {'/'.join(ref.split('/')[-2:])}" if literal else f"reference {ref}"
            )
        return "object with " + ", ".join(str(key) for key in raw)
    return clip(show_json(raw))


def peek(raw: object, key: str) -> object:
    if isinstance(raw, Mapping):
        return next((value for k, value in raw.items() if str(k).lower() == key), None)
    return None


def show_json(value: object) -> str:
    # YAML documents can hold dates and other non-JSON scalars; show those as text.
    return json.dumps(value, default=str)


def clip(text: str) -> str:
    return text if len(text) <= 100 else text[:97] + '..."'
