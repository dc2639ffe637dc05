"""Evaluating rewrite rule sets: conditions, captures, values, and the edits they make.

Rules of this module:
- pure: no asyncio, no sockets; it reads `Facts` (what the request and, later, the response say)
  and the route tables, and returns edits; `rewriting.py` gathers the facts from an exchange and
  applies the edits, `probegate rewrite-test` gathers them from a URL;
- conditions of one rule are ANDed; a condition on an absent header or variable is matched against
  the empty string (so only a pattern that matches "" holds, or its negation); `negate` inverts;
  the groups of a condition that held (not negated) are the rule's captures for its values;
- within one set every condition reads the request as received, not as earlier rules edited it;
  after a reroute, the next set reads the rewritten path and query string;
- a header action sets (replaces every line of that name with one) or, with an empty value,
  deletes; actions apply in rule order, so a later rule wins over an earlier one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

from probegate.config.rewrite import (
    COOKIE,
    HeaderAction,
    Kind,
    RewriteRule,
    RewriteSet,
    Template,
    Variable,
    condition_key,
)
from probegate.proxy.routing import Entry, Route
from probegate.proxy.tables import RouteInfo, Tables

MAX_REROUTES: Final = 8
Captures = dict[str, tuple[str, ...]]
HeaderEdit = tuple[str, str | None]  # (name as configured, value; None: delete)
_PATH_SAFE: Final = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE: Final = _PATH_SAFE + "?"


class Lazy(dict[str, str]):
    """Values computed the first time a rule reads them (most rules read two or three of the
    ~25 server variables, and the headers only when a condition names one): a request through a
    rewrite set pays for what its rules use, not for every variable."""

    def __init__(self, compute: Callable[[str], str | None]) -> None:
        super().__init__()
        self._compute = compute

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if name in self:
            return self[name]
        found = self._compute(name)
        if found is None:
            return default
        self[name] = found
        return found


class LazyHeaders(dict[str, str]):
    """Header facts of a head's lines, folded into a dict on the first read."""

    def __init__(
        self, lines: list[bytes], extra: Callable[[], dict[str, str]] | None = None
    ) -> None:
        super().__init__()
        self._lines: list[bytes] | None = lines
        self._extra = extra

    def _fill(self) -> None:
        if self._lines is not None:
            lines, self._lines = self._lines, None
            self.update(header_facts(lines))
            if self._extra is not None:
                self.update(self._extra())

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        self._fill()
        return super().get(name, default)

    def __getitem__(self, name: str) -> str:
        self._fill()
        return super().__getitem__(name)

    def __contains__(self, name: object) -> bool:
        self._fill()
        return super().__contains__(name)


@dataclass(slots=True)
class Facts:
    """What conditions and values read: request headers (lower-case names; repeated headers joined
    with ", "), server variables, and the response headers once the backend answered."""

    # Typed as mappings, not dicts: the values are the lazy dicts above, whose `get` must be
    # called as overridden (the compiled build calls dict's own C `get` for a value typed `dict`).
    request: Mapping[str, str]
    server: MutableMapping[str, str]
    response: Mapping[str, str] | None = None

    def value(self, variable: Variable) -> str | None:
        kind, name = variable.kind, variable.name
        if kind is Kind.REQUEST:
            return _header(self.request, name)
        if kind is Kind.RESPONSE:
            return _header(self.response, name) if self.response is not None else None
        if name.startswith(COOKIE):
            return cookie(self.request.get("cookie"), name[len(COOKIE) :])
        return self.server.get(name)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    found = headers.get(name)
    if found is None and "_" in name:  # http_req_X_Forwarded_For names X-Forwarded-For too
        found = headers.get(name.replace("_", "-"))
    return found


def cookie(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, equals, value = part.strip().partition("=")
        if equals and key == name:
            return value
    return None


# ------------------------------------------------------------------------ one rule


def matches(rule: RewriteRule, facts: Facts) -> Captures | None:
    """The rule's captures if every condition holds, else None."""
    captures: Captures = {}
    for condition in rule.conditions:
        found = condition.regex.search(facts.value(condition.variable) or "")
        if (found is not None) == condition.negate:
            return None
        if found is not None:
            groups = tuple(g or "" for g in found.groups())
            captures[condition_key(condition.variable)] = (found.group(0) or "", *groups)
    return captures


def render(template: Template, facts: Facts, captures: Captures) -> str:
    if len(template) == 1 and type(template[0]) is str:  # a fixed value: nothing to fill in
        fixed = template[0]
        return fixed if fixed.isprintable() else "".join(c for c in fixed if c.isprintable())
    out: list[str] = []
    for part in template:
        if isinstance(part, str):
            out.append(part)
        elif part.group is None:
            out.append(facts.value(part.variable) or "")
        else:
            groups = captures.get(condition_key(part.variable), ())
            out.append(groups[part.group] if part.group < len(groups) else "")
    text = "".join(out)
    return text if text.isprintable() else "".join(c for c in text if c.isprintable())


def _edits(actions: tuple[HeaderAction, ...], facts: Facts, captures: Captures) -> list[HeaderEdit]:
    return [
        (a.name, render(a.value, facts, captures) if a.value is not None else None) for a in actions
    ]


# ------------------------------------------------------------------------ a set, per phase


@dataclass(slots=True)
class RequestEdits:
    headers: list[HeaderEdit] = field(default_factory=list)
    path: str | None = None  # the rewritten path; None: kept
    query: str | None = None  # the rewritten query string; None: kept
    reroute: bool = False
    matched: list[str] = field(default_factory=list)  # "set/rule" of the rules that applied


def on_request(rules: RewriteSet, facts: Facts, edits: RequestEdits) -> None:
    """The request half of a set: header edits and the URL (rules that read the response wait)."""
    for rule in rules.rules:
        if rule.on_response or not (rule.request_headers or rule.url is not None):
            continue
        captures = matches(rule, facts)
        if captures is None:
            continue
        edits.matched.append(f"{rules.name}/{rule.name}")
        edits.headers += _edits(rule.request_headers, facts, captures)
        url = rule.url
        if url is not None:
            if url.path is not None and (path := render(url.path, facts, captures)):
                edits.path = quote(path if path.startswith("/") else "/" + path, safe=_PATH_SAFE)
            if url.query is not None and (query := render(url.query, facts, captures)):
                edits.query = quote(query.removeprefix("?"), safe=_QUERY_SAFE)
            edits.reroute = edits.reroute or url.reroute


def on_response(rules: RewriteSet, facts: Facts, matched: list[str]) -> list[HeaderEdit]:
    """The response half of a set: its response header edits, conditions seeing the response."""
    edits: list[HeaderEdit] = []
    for rule in rules.rules:
        if not rule.response_headers:
            continue
        captures = matches(rule, facts)
        if captures is not None:
            matched.append(f"{rules.name}/{rule.name}")
            edits += _edits(rule.response_headers, facts, captures)
    return edits


@dataclass(slots=True)
class Routed:
    """The request half of rewriting one request: where it goes, and what it becomes."""

    info: RouteInfo | None  # None: a rewrite loop (answered 500)
    path: bytes
    query: bytes | None
    sets: list[RewriteSet]
    edits: RequestEdits
    url_changed: bool = False


def rewrite_route(
    info: RouteInfo, entry: Entry, tables: Tables, facts: Facts, *, path: bytes, query: bytes | None
) -> Routed:
    """Run the route's set, and the sets of the routes a reroute selects from the path map with
    the rewritten path; more than `MAX_REROUTES` reroutes is a loop."""
    routed = Routed(info, path, query, [], RequestEdits())
    edits = routed.edits
    for _ in range(MAX_REROUTES + 1):
        rules = info.rewrite
        assert rules is not None
        routed.sets.append(rules)
        edits.reroute = False
        on_request(rules, facts, edits)
        _take_url(routed, facts)
        if not edits.reroute or isinstance(entry, Route):
            return routed
        info = routed.info = tables.by_route[id(entry.select(routed.path))]
        if info.rewrite is None:
            return routed
    routed.info = None
    return routed


def _take_url(routed: Routed, facts: Facts) -> None:
    edits, server = routed.edits, facts.server
    if edits.path is None and edits.query is None:
        return
    if edits.path is not None:
        routed.path = encode(edits.path)
        server["uri_path"] = edits.path
    if edits.query is not None:
        routed.query = encode(edits.query)
        server["query_string"] = server["request_query"] = edits.query
    routed.url_changed = True
    server["request_uri"] = uri_of(routed.path, routed.query).decode("latin-1")


def uri_of(path: bytes, query: bytes | None) -> bytes:
    return path + (b"?" + query if query is not None else b"")


# ------------------------------------------------------------------------ applying edits


def encode(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def apply_to_lines(lines: list[bytes], edits: list[HeaderEdit]) -> list[bytes]:
    """Header lines kept as (name, ": ", value, CRLF) quadruples, with the edits made: one pass
    over the lines whatever the number of edits; for a name edited twice the last edit wins, and
    set headers come last, in the order of their last edit (as edits applied one by one)."""
    if not edits:
        return lines
    final: dict[bytes, HeaderEdit] = {}
    for name, value in edits:
        key = name.lower().encode("ascii")
        final.pop(key, None)
        final[key] = (name, value)
    kept: list[bytes] = []
    for i in range(0, len(lines), 4):
        if lines[i].lower() not in final:
            kept += lines[i : i + 4]
    for name, value in final.values():
        if value is not None:
            kept += (name.encode("ascii"), b": ", encode(value), b"\r\n")
    return kept


def apply_to_head(head: bytes, edits: list[HeaderEdit]) -> bytes:
    """A complete request head (request line, header lines, blank line) with the edits made."""
    start, _, rest = head.partition(b"\r\n")
    lines: list[bytes] = []
    for line in rest.removesuffix(b"\r\n\r\n").split(b"\r\n"):
        if line:
            name, _, value = line.partition(b": ")
            lines += (name, b": ", value, b"\r\n")
    return b"".join([start, b"\r\n", *apply_to_lines(lines, edits), b"\r\n"])


def header_facts(lines: list[bytes]) -> dict[str, str]:
    found: dict[str, str] = {}
    for i in range(0, len(lines), 4):
        name, value = lines[i].decode("latin-1").lower(), lines[i + 2].decode("latin-1")
        found[name] = f"{found[name]}, {value}" if name in found else value
    return found


@dataclass(slots=True)
class Rewritten:
    """What a rewrite did to one exchange: kept on it for the forwarded head, the response phase,
    the access log and `rewrite-test`."""

    facts: Facts
    sets: list[RewriteSet]  # the sets the request went through (a reroute adds one)
    edits: RequestEdits
    original: bytes  # the request target as received
    uri: bytes | None = None  # path?query as forwarded, when the URL was rewritten
