"""The text of a configuration file: decoding, parsing, and where each JSON path sits in it.

Rules of this module:
- text is UTF-8, or UTF-16/32 with a byte-order mark (what Windows PowerShell 5.1 writes with
  `az … > gw.json`); anything else is refused with one sentence, never echoed;
- JSON when the text starts like JSON (with `//` and `/* */` comments, which ARM templates may
  hold), else YAML; duplicate keys are errors in both;
- parser errors are said in plain words with the line and column, not in the parser's jargon;
- `positions` maps JSON paths to `line:column`, so a rule broken deep in a file can be found.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Any

import yaml

from probegate.errors import ConfigError, ConfigIssue

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def read_text(path: Path, source: str | None = None) -> str:
    """The decoded text of `path`; a ConfigError (never an exception's text) when it is not text."""
    source = source or str(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise ConfigError([ConfigIssue("", "is a folder, not a file")], source) from exc
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue("", f"cannot read the file: {exc.strerror or exc}")], source
        ) from exc
    return decode(data, source)


def decode(data: bytes, source: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                problem = f"the file starts with a {encoding.upper()} byte-order mark but is not valid {encoding.upper()} text"
                raise ConfigError([ConfigIssue("", problem)], source) from exc
    if b"\x00" in data[:2048]:
        problem = (
            "the file is not text (it holds NUL bytes); if it is UTF-16 without a byte-order "
            "mark, save it as UTF-8"
        )
        raise ConfigError([ConfigIssue("", problem)], source)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = (
            f"the file is not UTF-8 text (byte {exc.start + 1} cannot be decoded); save it as "
            "UTF-8, or UTF-16 with a byte-order mark"
        )
        raise ConfigError([ConfigIssue("", problem)], source) from exc


# ------------------------------------------------------------------------ parsing


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
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


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def looks_like_json(text: str) -> bool:
    return strip_comments(text).lstrip().startswith(("{", "["))


def parse_text(text: str, source: str) -> object:
    """JSON when the text looks like JSON, else YAML (a superset); parse errors name the line."""
    if looks_like_json(text):
        return _parse_json(strip_comments(text), source)
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "an unknown place"
        problem = yaml_in_words(exc.problem or "", exc.context or "")
        raise ConfigError([ConfigIssue("", f"invalid YAML at {where}: {problem}")], source) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            [ConfigIssue("", "invalid YAML: the file cannot be parsed")], source
        ) from exc


def _parse_json(text: str, source: str) -> object:
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        problem = f"invalid JSON at {where}: {json_in_words(exc.msg)}"
        raise ConfigError([ConfigIssue("", problem)], source) from exc
    except ValueError as exc:
        raise ConfigError([ConfigIssue("", f"invalid JSON: {exc}")], source) from exc


_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.DOTALL)


def strip_comments(text: str) -> str:
    """JSON text without `//` and `/* */` comments (strings kept as they are); a block comment
    becomes as many line breaks as it held, so line numbers in errors stay right."""

    def keep(found: re.Match[str]) -> str:
        part = found.group(0)
        return part if part.startswith('"') else "\n" * part.count("\n")

    if "/" not in text:
        return text
    return _COMMENT.sub(keep, text)


# Parser messages → what they mean for someone editing a file. The first match wins.
_JSON_WORDS = (
    ("Expecting value", "a value is missing here (a comma before '}' or ']', or a word not in quotes?)"),
    ("Expecting property name enclosed in double quotes", "a key in double quotes is expected here (a comma before '}', or a key in single quotes?)"),
    ("Expecting ',' delimiter", "a ',' is missing between two items"),
    ("Expecting ':' delimiter", "a ':' is missing after the key"),
    ("Extra data", "the text goes on after the document has ended (a stray character, or two documents?)"),
    ("Unterminated string", "a string has no closing '\"'"),
    ("Invalid control character", "a string holds a raw line break or tab; write \\n or \\t"),
    ("Invalid \\escape", "a backslash starts an escape JSON does not have; write \\\\ for a backslash"),
)  # fmt: skip

_YAML_WORDS = (
    ("duplicate key", None),  # our own message, already plain
    ("found character '\\t'", "a tab character: YAML indents with spaces only"),
    ("expected <block end>", "this line is indented differently from the lines it belongs with"),
    ("mapping values are not allowed here", "a ':' where none can be (put a value holding ': ' in quotes, or check the indentation of this line)"),
    ("could not find expected ':'", "a line inside a mapping has no ':' after its key"),
    ("expected '<document start>'", "this is neither YAML nor JSON configuration"),
    ("expected ',' or ']'", "a list in [ ] lacks a ',' or its closing ']'"),
    ("expected ',' or '}'", "a mapping in { } lacks a ',' or its closing '}'"),
    ("found unexpected end of stream", "the file ends inside a quoted string or a bracket"),
    ("found undefined alias", "a '*name' alias refers to no '&name' anchor"),
    ("found unknown escape character", "a backslash in a double-quoted string starts an unknown escape; use single quotes"),
    ("did not find expected key", "a line inside a mapping is indented differently from its neighbours"),
    ("did not find expected '-' indicator", "a list item is indented differently from the items before it"),
    ("found a tab character", "a tab character: YAML indents with spaces only"),
)  # fmt: skip


def json_in_words(message: str) -> str:
    return next((words for known, words in _JSON_WORDS if message.startswith(known)), message)


def yaml_in_words(problem: str, context: str) -> str:
    for known, words in _YAML_WORDS:
        if known in problem or known in context:
            return problem if words is None else words
    return problem or "the file cannot be parsed here"


# ------------------------------------------------------------------------ positions


def positions(text: str) -> dict[str, tuple[int, int]]:
    """JSON path → (line, column), both from 1, for every key and list item of the document.
    Empty when the text does not compose (its parse error is reported elsewhere)."""
    try:
        root = yaml.compose(
            strip_comments(text) if looks_like_json(text) else text, yaml.SafeLoader
        )
    except yaml.YAMLError:
        return {}
    found: dict[str, tuple[int, int]] = {}
    stack: list[tuple[str, yaml.Node]] = [("", root)] if root is not None else []
    while stack:
        path, node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                step = f"{path}.{key.value}" if path else str(key.value)
                found[step] = (key.start_mark.line + 1, key.start_mark.column + 1)
                stack.append((step, value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                step = f"{path}[{index}]"
                found[step] = (item.start_mark.line + 1, item.start_mark.column + 1)
                stack.append((step, item))
    return found


_LAST_STEP = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")


def locate(path: str, where: dict[str, tuple[int, int]]) -> tuple[int, int] | None:
    """The place of `path`, or of its nearest ancestor the file holds (a missing key is reported
    where its parent is)."""
    while path:
        if path in where:
            return where[path]
        shorter = _LAST_STEP.sub("", path)
        if shorter == path:
            return None
        path = shorter
    return None
