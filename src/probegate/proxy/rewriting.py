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
from collections.abc import Callable
from typing import Any, Final

from probegate.proxy.lifecycle import ExchangeBase
from probegate.proxy.rewrite import (
    MAX_REROUTES,
    Facts,
    Lazy,
    LazyHeaders,
    Rewritten,
    apply_to_head,
    apply_to_lines,
    on_response,
    rewrite_route,
    uri_of,
)
from probegate.proxy.routing import Entry, host_key
from probegate.proxy.tables import RouteInfo, Tables

_TCP_INFO_RTT: Final = struct.Struct(
    "=I"
)  # tcpi_rtt (microseconds), at offset 68 of Linux's tcp_info


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
    length = exchange.resp_length
    facts.response = LazyHeaders(
        exchange.resp_lines,
        (lambda: {"content-length": length.decode("latin-1")}) if length is not None else None,
    )
    facts.server["http_status"] = str(status)
    facts.server["sent_bytes"] = str(exchange.sent_bytes)
    edits = [e for s in state.sets for e in on_response(s, facts, state.edits.matched)]
    if edits:
        exchange.resp_lines = apply_to_lines(exchange.resp_lines, edits)


# ------------------------------------------------------------------------ the facts


def request_facts(exchange: ExchangeBase) -> Facts:
    """The request's headers and server variables, each computed when a rule first reads it."""

    def framing() -> dict[str, str]:
        found = {}
        if exchange.host is not None:
            found["host"] = exchange.host.decode("latin-1")
        if exchange.xff is not None:
            found["x-forwarded-for"] = exchange.xff.decode("latin-1")
        if exchange.length is not None:
            found["content-length"] = str(exchange.length)
        return found

    return Facts(
        LazyHeaders(exchange.lines, framing), Lazy(lambda name: server_variable(exchange, name))
    )


def server_variable(exchange: ExchangeBase, name: str) -> str | None:
    """One server variable of the request (None: no such variable)."""
    read = _VARIABLES.get(name)
    if read is not None:
        return read(exchange)
    client = exchange.client
    if name in _TLS_VARIABLES:
        return _tls_variables(client.transport if client.scheme == b"https" else None)[name]
    return client.client_certificate.variables().get(name)


def _latin(value: bytes | None) -> str:
    return value.decode("latin-1") if value is not None else ""


def _host(exchange: ExchangeBase) -> str:
    host = exchange.authority if exchange.authority is not None else exchange.host
    return host_key(host) or ""


def _forwarded(exchange: ExchangeBase) -> str:
    xff, ip = _latin(exchange.xff), exchange.client.peer_ip
    return f"{xff}, {ip}" if xff else ip


_VARIABLES: Final[dict[str, Callable[[ExchangeBase], str]]] = {
    "add_x_forwarded_for_proxy": _forwarded,
    "client_ip": lambda e: e.client.peer_ip,
    "client_port": lambda e: str(e.client.peer_port),
    "client_tcp_rtt": lambda e: _rtt(e.client.transport),
    "client_user": lambda _: "",  # no authentication at the gateway
    "host": _host,
    "http_method": lambda e: e.method.decode("latin-1"),
    "http_version": lambda e: f"HTTP/{e.version}",
    "query_string": lambda e: _latin(e.query),
    "received_bytes": lambda e: str(len(e.url) + e.head_size + e.body_size),
    "request_query": lambda e: _latin(e.query),
    "request_scheme": lambda e: e.client.scheme.decode("ascii"),
    "request_uri": lambda e: e.url.decode("latin-1"),
    "server_port": lambda e: str(e.client.local_port),
    "ssl_enabled": lambda e: "On" if e.client.scheme == b"https" else "",
    "uri_path": lambda e: e.path.decode("latin-1"),
}
_TLS_VARIABLES: Final = ("ciphers_supported", "ciphers_used", "ssl_connection_protocol")


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
