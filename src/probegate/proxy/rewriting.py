"""Rewrite rule sets applied to one exchange: the facts gathered, the request and response edited.

Rules of this module:
- it runs only for a request whose route has a rewrite set (`info.rewrite is not None`, the one
  test `request.py` makes): a request without one never reaches this module and allocates
  nothing for it; the state it keeps is `exchange.rewritten` (`rewrite.Rewritten`);
- the request half runs once the request is routed and before any byte goes to a backend: header
  edits are applied to the head as forwarded (`forwarded_head`), so an edit of
  `X-Forwarded-For` or `Host` replaces the gateway's own line; the URL edit changes `path` and
  `query`, and `reroute` selects from the rule's path map again with the new path;
- a reroute that comes back more than `MAX_REROUTES` times is a loop (`rewrite.rewrite_route`):
  the gateway answers 500 for that request, as the model does, and keeps serving;
- the response half runs when the backend's final head arrives, before the client's head is
  built: response conditions see the backend's status and headers.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

from probegate.proxy.lifecycle import ExchangeBase
from probegate.proxy.rewrite import (
    MAX_REROUTES,
    Facts,
    Rewritten,
    apply_to_head,
    apply_to_lines,
    header_facts,
    on_response,
    rewrite_route,
    uri_of,
)
from probegate.proxy.routing import Entry, host_key
from probegate.proxy.tables import RouteInfo, Tables

_TCP_INFO_RTT = struct.Struct("=I")  # tcpi_rtt (microseconds), at offset 68 of Linux's tcp_info


def rewrite_request(
    exchange: ExchangeBase, info: RouteInfo, entry: Entry, tables: Tables
) -> RouteInfo | None:
    """Run the route's rewrite set (and those a reroute reaches); None: a loop, answered 500."""
    facts = request_facts(exchange)
    routed = rewrite_route(info, entry, tables, facts, path=exchange.path, query=exchange.query)
    edits = routed.edits
    state = exchange.rewritten = Rewritten(facts, routed.sets, edits, exchange.url)
    if routed.url_changed:
        exchange.path, exchange.query = routed.path, routed.query
        state.uri = uri_of(routed.path, routed.query)
    if routed.info is None:
        why = f"rewrite loop: rerouted more than {MAX_REROUTES} times ({', '.join(edits.matched)})"
        exchange.error_info = why
        exchange.local = (500, why + "\n", ())
    return routed.info


def forwarded_head(exchange: ExchangeBase, head: bytes) -> bytes:
    state = exchange.rewritten
    assert state is not None
    return apply_to_head(head, state.edits.headers) if state.edits.headers else head


def rewrite_response(exchange: ExchangeBase, status: int) -> None:
    state = exchange.rewritten
    assert state is not None
    if not any(s.has_response for s in state.sets):
        return
    facts = state.facts
    response = header_facts(exchange.resp_lines)
    if exchange.resp_length is not None:
        response["content-length"] = exchange.resp_length.decode("latin-1")
    facts.response = response
    facts.server["http_status"] = str(status)
    facts.server["sent_bytes"] = str(exchange.sent_bytes)
    edits = [e for s in state.sets for e in on_response(s, facts, state.edits.matched)]
    if edits:
        exchange.resp_lines = apply_to_lines(exchange.resp_lines, edits)


# ------------------------------------------------------------------------ the facts


def request_facts(exchange: ExchangeBase) -> Facts:
    headers = header_facts(exchange.lines)
    host = exchange.authority if exchange.authority is not None else exchange.host
    if exchange.host is not None:
        headers["host"] = exchange.host.decode("latin-1")
    if exchange.xff is not None:
        headers["x-forwarded-for"] = exchange.xff.decode("latin-1")
    if exchange.length is not None:
        headers["content-length"] = str(exchange.length)
    return Facts(headers, server_variables(exchange, host))


def server_variables(exchange: ExchangeBase, host: bytes | None) -> dict[str, str]:
    client = exchange.client
    xff = exchange.xff.decode("latin-1") if exchange.xff is not None else ""
    query = exchange.query.decode("latin-1") if exchange.query is not None else ""
    tls = client.scheme == b"https"
    return {
        "add_x_forwarded_for_proxy": f"{xff}, {client.peer_ip}" if xff else client.peer_ip,
        "client_ip": client.peer_ip,
        "client_port": str(client.peer_port),
        "client_tcp_rtt": _rtt(client.transport),
        "client_user": "",
        "host": host_key(host) or "",
        "http_method": exchange.method.decode("latin-1"),
        "http_version": f"HTTP/{exchange.version}",
        "query_string": query,
        "received_bytes": str(len(exchange.url) + exchange.head_size + exchange.body_size),
        "request_query": query,
        "request_scheme": client.scheme.decode("ascii"),
        "request_uri": exchange.url.decode("latin-1"),
        "server_port": str(client.local_port),
        "ssl_enabled": "On" if tls else "",
        "uri_path": exchange.path.decode("latin-1"),
        **_tls_variables(client.transport if tls else None),
        **client.client_certificate.variables(),
    }


def _tls_variables(transport: object) -> dict[str, str]:
    ssl_object: Any = _extra(transport, "ssl_object")
    if ssl_object is None:
        return {"ciphers_supported": "", "ciphers_used": "", "ssl_connection_protocol": ""}
    used = ssl_object.cipher()
    shared = ssl_object.shared_ciphers() or []
    return {
        "ciphers_supported": ":".join(c[0] for c in shared),
        "ciphers_used": used[0] if used else "",
        "ssl_connection_protocol": ssl_object.version() or "",
    }


def _extra(transport: object, name: str) -> Any:
    get = getattr(transport, "get_extra_info", None)
    return get(name) if get is not None else None


def _rtt(transport: object) -> str:
    sock = _extra(transport, "socket")
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        return str(_TCP_INFO_RTT.unpack_from(raw, 68)[0])
    except (AttributeError, OSError, struct.error):
        return ""
