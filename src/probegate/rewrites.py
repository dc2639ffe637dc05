"""Rewrite rule sets seen from the command line: where each set applies (`explain`) and what a given
request would become (`probegate rewrite-test`), without sending anything.

Rules: reads the compiled plan and the data path's pure pieces (route tables, `proxy/rewrite.py`),
never a socket; the evaluation is the proxy's own, so what this prints is what the gateway does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from probegate.config.plan import GatewayPlan, PathMap
from probegate.config.rewrite import RewriteSet
from probegate.errors import UsageError
from probegate.proxy import wire
from probegate.proxy.rewrite import Facts, apply_to_lines, rewrite_route, uri_of
from probegate.proxy.routing import Route, host_key
from probegate.proxy.tables import compile_tables

_PORTS = {"http": 80, "https": 443}


# ------------------------------------------------------------------------ explain


def placements(plan: GatewayPlan) -> list[dict[str, Any]]:
    """Per listener, rule and path rule: the rewrite set that applies and its rules in order."""
    rows: list[dict[str, Any]] = []
    for rule in plan.rules:
        found = rule.destination
        places: Sequence[tuple[str | None, RewriteSet | None]] = [(None, rule.rewrite)]
        if isinstance(found, PathMap):
            places = [(p.name, p.rewrite) for p in found.rules] + [
                ("(default)", found.default_rewrite)
            ]
        for path_rule, rules in places:
            if rules is not None:
                rows.append({
                    "httpListener": rule.listener.name, "rule": rule.name, "pathRule": path_rule,
                    "rewriteRuleSet": rules.name,
                    "rewriteRules": [{"name": r.name, "ruleSequence": r.sequence} for r in rules.rules],
                })  # fmt: skip
    return rows


def placements_table(plan: GatewayPlan) -> Table | None:
    rows = placements(plan)
    if not rows:
        return None
    table = Table(title="rewrite rule sets (rules in the order they run)", title_justify="left")
    for column in ("listener", "rule", "path rule", "set", "rules"):
        table.add_column(column)
    for row in rows:
        order = ", ".join(f"{r['name']} ({r['ruleSequence']})" for r in row["rewriteRules"])
        table.add_row(
            row["httpListener"], row["rule"], row["pathRule"] or "-", row["rewriteRuleSet"], order
        )
    return table


# ------------------------------------------------------------------------ rewrite-test


def rewrite_test(plan: GatewayPlan, url: str, headers: list[str]) -> dict[str, Any]:
    """What the request `GET url` with `headers` would become: route, rules, head and URL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _PORTS or not parts.hostname:
        raise UsageError(f"--url needs an http:// or https:// URL with a host, got {url!r}")
    port = parts.port or _PORTS[scheme]
    lines = _header_lines(headers)
    host = next((v for n, v in _pairs(lines) if n.lower() == "host"), parts.netloc)
    listener = next((x for x in plan.listeners if x.port == port), None)
    if listener is None:
        raise UsageError(f"no listener of the configuration is on port {port}")
    tables = compile_tables(plan)
    entry = tables.routes.entry(port, listener.bind_address, host.encode("latin-1"))
    try:
        path = wire.normalise_path((parts.path or "/").encode("latin-1"))
    except wire.Reject as problem:
        return {"answer": problem.status, "reason": problem.reason}
    route = entry if entry is None or isinstance(entry, Route) else entry.select(path)
    if route is None or entry is None:
        return {"answer": 404, "reason": "no listener or rule matches this host"}
    info = tables.by_route[id(route)]
    query = parts.query.encode("latin-1") if parts.query else None
    result: dict[str, Any] = {"route": _route_data(route), "rewriteRuleSets": [], "matched": []}
    facts = _facts(lines, host, scheme=scheme, port=port, url=url, path=path, query=query)
    xff = facts.request.get("x-forwarded-for")
    own = f"{xff}, 127.0.0.1:50000" if xff else "127.0.0.1:50000"  # as the gateway appends it
    forwarded = apply_to_lines(lines, [("X-Forwarded-For", own)])
    if info.rewrite is not None:
        routed = rewrite_route(info, entry, tables, facts, path=path, query=query)
        result["rewriteRuleSets"] = [s.name for s in routed.sets]
        result["matched"] = routed.edits.matched
        if routed.info is None:
            return {**result, "answer": 500, "reason": "rewrite loop"}
        path, query, route = routed.path, routed.query, routed.info.route
        forwarded = apply_to_lines(forwarded, routed.edits.headers)
        result["route"] = _route_data(route)
        result["responseRules"] = [
            f"{s.name}/{r.name}" for s in routed.sets for r in s.rules if r.response_headers
        ]
    result["uri"] = uri_of(path, query).decode("latin-1")
    result["headers"] = [f"{n}: {v}" for n, v in _pairs(forwarded)]
    return result


def _route_data(route: Route) -> dict[str, Any]:
    destination = route.destination
    target = getattr(destination, "pool", None)
    return {
        "httpListener": route.listener.name,
        "rule": route.rule,
        "pathRule": route.path_rule,
        "backendAddressPool": target.name if target is not None else None,
        "redirect": getattr(destination, "name", None) if target is None else None,
    }


def _header_lines(headers: list[str]) -> list[bytes]:
    lines: list[bytes] = []
    for header in headers:
        name, colon, value = header.partition(":")
        if not colon or not name.strip():
            raise UsageError(f"--header takes 'Name: value', got {header!r}")
        lines += (name.strip().encode("latin-1"), b": ", value.strip().encode("latin-1"), b"\r\n")
    return lines


def _pairs(lines: list[bytes]) -> list[tuple[str, str]]:
    return [
        (lines[i].decode("latin-1"), lines[i + 2].decode("latin-1"))
        for i in range(0, len(lines), 4)
    ]


def _facts(
    lines: list[bytes],
    host: str,
    *,
    scheme: str,
    port: int,
    url: str,
    path: bytes,
    query: bytes | None,
) -> Facts:
    headers: dict[str, str] = {}
    for name, value in _pairs(lines):
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    headers.setdefault("host", host)
    target = url.split(host, 1)[-1] if host in url else "/"
    text_query = query.decode("latin-1") if query is not None else ""
    xff = headers.get("x-forwarded-for")
    server = {
        "add_x_forwarded_for_proxy": f"{xff}, 127.0.0.1" if xff else "127.0.0.1",
        "client_ip": "127.0.0.1", "client_port": "50000", "client_tcp_rtt": "", "client_user": "",
        "host": host_key(host) or "", "http_method": "GET", "http_version": "HTTP/1.1",
        "query_string": text_query, "request_query": text_query, "request_scheme": scheme,
        "request_uri": target or "/", "server_port": str(port), "uri_path": path.decode("latin-1"),
        "ssl_enabled": "On" if scheme == "https" else "", "received_bytes": "0",
    }  # fmt: skip
    return Facts(headers, server)


def render_test(console: Console, result: dict[str, Any]) -> None:
    if "answer" in result and "uri" not in result:
        console.print(f"answered by the gateway: {result['answer']} ({result['reason']})")
        if result.get("matched"):
            console.print(f"rules that applied: {', '.join(result['matched'])}")
        return
    route = result["route"]
    where = f"listener '{route['httpListener']}' · rule '{route['rule']}'"
    if route["pathRule"]:
        where += f" · path rule '{route['pathRule']}'"
    console.print(
        where + (f" → pool '{route['backendAddressPool']}'" if route["backendAddressPool"] else "")
    )
    sets = result["rewriteRuleSets"]
    console.print(f"rewrite sets: {', '.join(sets) if sets else '(none: nothing is rewritten)'}")
    console.print(f"rules that applied: {', '.join(result['matched']) or '(none)'}")
    console.print(f"forwarded as: GET {result['uri']}")
    for header in result["headers"]:
        console.print(f"  {header}")
    if result.get("responseRules"):
        console.print(f"evaluated on the backend's answer: {', '.join(result['responseRules'])}")
