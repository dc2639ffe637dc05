"""Request routing: (local port, local address, Host, path) → the rule and its destination.

Rules of this module (SPEC section 7):
- it is pure: no asyncio, no sockets, no pydantic; it reads only `probegate.config.plan`;
- `RouteTable.compile(plan)` does all the work once per plan; `route()` does dict look-ups and a
  short scan, and returns a `Route` built at compile time (it lowers the host and the path, and
  allocates nothing else);
- listener selection: the listeners bound to the connection's port and local address (a listener
  on `0.0.0.0` or `::` takes every address of its family); multi-site listeners (`hostNames`) are
  tried before the basic one; among matching multi-site listeners the one whose rule comes first in
  the plan's rule order (v2 priority, v1 list order) wins, an exact name before a wildcard when that
  order ties (the validator makes priorities unique and gives a listener at most one rule, so a tie
  only happens inside one listener). A listener without a rule has no place in that order and is
  never selected; no listener → None (the proxy answers 404);
- host names: the Host header loses its `:port`, one trailing dot and its case; an IPv6 literal
  (`[::1]:8080`) keeps its brackets and so only reaches a basic listener. `*.example.test` follows
  Azure's multi-site wildcard, where `*` stands for any characters: it matches `a.example.test` and
  `a.b.example.test`, never `example.test` itself;
- path maps: the path (without the query string) is compared case-insensitively — ASCII only for
  bytes, which is what arrives on the wire — with each path rule's paths, rules and paths in listed
  order, first match wins; `/api/*` is a prefix match on `/api/` (it matches `/api/` and `/api/x`,
  not `/api`, as in Azure); a path without `*` matches exactly; no match → the map's default. The
  path is matched as given: percent-decoding and dot-segment removal, if any, are the caller's;
- `redirect_location()` builds the `Location` of a redirect for one request; its status is
  `Redirect.status`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from probegate.config.plan import (
    Backend,
    GatewayPlan,
    Listener,
    PathMap,
    Protocol,
    Redirect,
    Rule,
)
from probegate.config.rewrite import RewriteSet

_ANY_ADDRESS: Final = {4: "0.0.0.0", 6: "::"}
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
# Characters a request path carries unescaped; everything else in a configured path is
# percent-encoded so that it can be compared with the raw bytes of a request target.
_PATH_SAFE: Final = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class Route:
    """Where one request goes: built at compile time, shared by every request that takes it."""

    rule: str  # the request routing rule's name
    path_rule: str | None  # the path rule that matched; None for a basic rule or the map default
    listener: Listener
    destination: Backend | Redirect
    matched: str | None = None  # the path-rule path that matched (`/api/*`), for path overrides
    rewrite: RewriteSet | None = None  # the rewrite set of its rule, path rule or map default


@dataclass(frozen=True, slots=True)
class _PathTable:
    """One rule's URL path map, lowered both as text and as the bytes a request target carries."""

    text: tuple[tuple[str, bool, Route], ...]  # (lowered path without '*', is prefix, route)
    raw: tuple[tuple[bytes, bool, Route], ...]
    default: Route

    def select(self, path: bytes | str) -> Route:
        if isinstance(path, bytes):
            return _first_bytes(path.lower(), self.raw, self.default)
        return _first_text(path.lower(), self.text, self.default)


Entry = Route | _PathTable


@dataclass(frozen=True, slots=True)
class _Site:
    """The listeners that can take a connection on one (port, local address)."""

    exact: Mapping[str, Entry]  # host name → best entry, wildcards that outrank it folded in
    wildcards: tuple[tuple[str, Entry], ...]  # ('.example.test', entry), best first
    basic: Entry | None

    def select(self, host: str | None) -> Entry | None:
        if host is None:
            return self.basic
        found = self.exact.get(host)
        if found is not None:
            return found
        for suffix, entry in self.wildcards:
            if host.endswith(suffix) and len(host) > len(suffix):
                return entry
        return self.basic


@dataclass(frozen=True, slots=True)
class RouteTable:
    """The routing decision of one plan; build with `RouteTable.compile(plan)`."""

    sites: Mapping[int, Mapping[str, _Site]]  # port → local address → site

    @classmethod
    def compile(cls, plan: GatewayPlan) -> RouteTable:
        ranked = [_Ranked(rule, index, _entry(rule)) for index, rule in enumerate(plan.rules)]
        sites: dict[int, dict[str, _Site]] = {}
        for port, address in _endpoints(item.rule.listener for item in ranked):
            on_site = [r for r in ranked if r.port == port and _serves(r.address, address)]
            sites.setdefault(port, {})[address] = _site(on_site)
        return cls(sites)

    def route(
        self, port: int, bind_address: str, host: str | bytes | None, path: bytes | str
    ) -> Route | None:
        """Route one request. `bind_address` is the local address the connection arrived on, as
        `socket.getsockname()` reports it; `host` the Host header value; `path` the request
        target's path without the query string."""
        entry = self.entry(port, bind_address, host)
        if entry is None or isinstance(entry, Route):
            return entry
        return entry.select(path)

    def entry(self, port: int, bind_address: str, host: str | bytes | None) -> Entry | None:
        """The listener's rule for a host: a `Route`, or a path table to `select(path)` from.
        The proxy keeps it per connection, as a keep-alive client repeats its Host."""
        by_address = self.sites.get(port)
        if by_address is None:
            return None
        site = by_address.get(bind_address) or by_address.get(_any_address(bind_address))
        if site is None:
            return None
        return site.select(host_key(host))


# ------------------------------------------------------------------------ per request


def host_key(host: str | bytes | None) -> str | None:
    """The Host header as listener names are stored: no `:port`, no trailing dot, lower case."""
    if not host:
        return None
    text = host.decode("latin-1") if isinstance(host, bytes) else host
    name, colon, port = text.rpartition(":")
    if colon and (not port or (port.isascii() and port.isdigit())):
        text = name  # `[::1]` keeps its brackets: its last colon is inside them
    text = text.removesuffix(".")
    return text if text.islower() else text.lower()


def _any_address(address: str) -> str:
    return _ANY_ADDRESS[6] if ":" in address else _ANY_ADDRESS[4]


# Two copies of one loop, as the two types it runs on: the compiled build specialises each (an
# `AnyStr` version would be generic, and mypyc's checker refuses `AnyStr.startswith`).
def _first_bytes(
    key: bytes, patterns: tuple[tuple[bytes, bool, Route], ...], default: Route
) -> Route:
    for pattern, prefix, route in patterns:
        if key.startswith(pattern) if prefix else key == pattern:
            return route
    return default


def _first_text(key: str, patterns: tuple[tuple[str, bool, Route], ...], default: Route) -> Route:
    for pattern, prefix, route in patterns:
        if key.startswith(pattern) if prefix else key == pattern:
            return route
    return default


# ------------------------------------------------------------------------ compiling


@dataclass(frozen=True, slots=True)
class _Ranked:
    """A rule with its place in matching order and its compiled destination."""

    rule: Rule
    index: int
    entry: Entry

    @property
    def port(self) -> int:
        return self.rule.listener.port

    @property
    def address(self) -> str:
        return _normal_address(self.rule.listener.bind_address)


def _normal_address(address: str) -> str:
    return ipaddress.ip_address(address).compressed


def _endpoints(listeners: Iterable[Listener]) -> set[tuple[int, str]]:
    """Every (port, address) a listener binds, plus the any-address of each family in use."""
    found: set[tuple[int, str]] = set()
    for listener in listeners:
        address = _normal_address(listener.bind_address)
        found.update({(listener.port, address), (listener.port, _any_address(address))})
    return found


def _serves(bound: str, local: str) -> bool:
    return bound in (local, _any_address(local))


def _site(ranked: list[_Ranked]) -> _Site:
    named = [(name, r) for r in ranked for name in r.rule.listener.host_names]
    wildcards = sorted(
        ((name[1:], r) for name, r in named if name.startswith("*.")), key=lambda c: c[1].index
    )
    exact: dict[str, Entry] = {}
    for name, r in sorted(named, key=lambda c: c[1].index):
        if not name.startswith("*."):
            best = next((w for w in wildcards if _wild_match(name, w[0], w[1], r)), None)
            exact.setdefault(name, best[1].entry if best else r.entry)
    basic = next((r.entry for r in ranked if not r.rule.listener.host_names), None)
    return _Site(exact, tuple((s, r.entry) for s, r in wildcards), basic)


def _wild_match(name: str, suffix: str, wild: _Ranked, exact: _Ranked) -> bool:
    """A wildcard takes an exact name only when its rule comes strictly earlier."""
    return wild.index < exact.index and name.endswith(suffix) and len(name) > len(suffix)


def _entry(rule: Rule) -> Entry:
    found = rule.destination
    if not isinstance(found, PathMap):
        return Route(rule.name, None, rule.listener, found, rewrite=rule.rewrite)
    return _path_table(rule, found)


def _path_table(rule: Rule, path_map: PathMap) -> _PathTable:
    text: list[tuple[str, bool, Route]] = []
    raw: list[tuple[bytes, bool, Route]] = []
    for path_rule in path_map.rules:
        for path in path_rule.paths:
            route = Route(
                rule.name, path_rule.name, rule.listener, path_rule.destination, path,
                path_rule.rewrite,
            )  # fmt: skip
            lowered, prefix = path.lower().removesuffix("*"), path.endswith("*")
            text.append((lowered, prefix, route))
            raw.append((quote(lowered, safe=_PATH_SAFE).lower().encode("ascii"), prefix, route))
    default = Route(
        rule.name, None, rule.listener, path_map.default, None, path_map.default_rewrite
    )
    return _PathTable(tuple(text), tuple(raw), default)


# ------------------------------------------------------------------------ redirects


def redirect_location(
    redirect: Redirect,
    scheme: str,
    host: str | bytes | None,
    path: str | bytes,
    query: str | bytes | None,
) -> str:
    """The `Location` for one request: `targetUrl` or the target listener, plus the request's path
    and query string as the redirect's flags say. `scheme` is the request's, used only to complete
    a protocol-relative target URL (`//host/...`). Bytes are read as Latin-1 (one char per byte)."""
    own_path = _text(path) if redirect.include_path else ""
    own_query = _text(query) if redirect.include_query_string and query else ""
    if redirect.target_url is not None:
        return _to_url(redirect.target_url, scheme, own_path, own_query)
    assert redirect.target_listener is not None  # the model requires exactly one target
    return _to_listener(redirect.target_listener, host_key(host), own_path, own_query)


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _to_url(target: str, scheme: str, path: str, query: str) -> str:
    rest, hash_mark, fragment = target.partition("#")
    base, _, target_query = rest.partition("?")
    if base.startswith("//"):
        base = f"{scheme}:{base}"
    if path:
        base = base.removesuffix("/") + path if path.startswith("/") else base + path
    return base + _query(target_query, query) + hash_mark + fragment


def _to_listener(listener: Listener, host: str | None, path: str, query: str) -> str:
    scheme = "https" if listener.protocol is Protocol.HTTPS else "http"
    port = "" if _DEFAULT_PORTS[scheme] == listener.port else f":{listener.port}"
    name = host or _listener_host(listener)
    return f"{scheme}://{name}{port}{path or '/'}{_query('', query)}"


def _listener_host(listener: Listener) -> str:
    """For a request without Host: the listener's first exact name, else its own address."""
    exact = next((h for h in listener.host_names if not h.startswith("*.")), None)
    if exact is not None:
        return exact
    address = ipaddress.ip_address(listener.bind_address)
    if address.is_unspecified:
        return "localhost"
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def _query(*parts: str) -> str:
    joined = "&".join(p for p in parts if p)
    return f"?{joined}" if joined else ""
