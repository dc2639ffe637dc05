"""The fast path of `head_complete` cannot drift from the full checks (`_check_and_route`).

For any request head llhttp lets through: when the fast path accepts it, the full path accepts
it too, with the same method, path, query, host, route and local answer."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probegate.proxy.exchange import Exchange
from probegate.proxy.request import RequestSide
from tests.unit.proxyrig import Rig

# The spies patch methods of Exchange, which a compiled Exchange would not call: this runs in
# scripts/test's interpreted pass.
pytestmark = pytest.mark.interpreted

SEGMENTS = [b"a", b"api", b"old", b"page", b".", b"..", b"%2e", b"%41", b"%zz", b"", b"x.y", b"A"]
PATHS = st.lists(st.sampled_from(SEGMENTS), max_size=4).map(lambda s: b"/" + b"/".join(s))
QUERIES = st.one_of(st.none(), st.sampled_from([b"", b"q=1", b"a=/../b", b"x=%41"]))
TARGETS = st.one_of(
    st.builds(lambda p, q: p if q is None else p + b"?" + q, PATHS, QUERIES),
    st.sampled_from([b"*", b"http://shop.example.test/api/x", b"shop.example.test:80", b"//x"]),
)
HOSTS = [
    b"app.example.test",
    b"shop.example.test",
    b"SHOP.Example.test:8080",
    b"shop.example.test.",
    b"[::1]",
    b"a..b",
    b"h:99999",
    b"under_score",
]
EXTRA = [
    b"Content-Length: 0",
    b"Content-Length: 3",
    b"Content-Length: 010",
    b"Content-Length: 999999999999",
    b"Transfer-Encoding: chunked",
    b"Connection: close",
    b"Connection: keep-alive",
    b"Connection: Keep-Alive",
    b"Connection: close, x-a",
    b"Connection: upgrade",
    b"Upgrade: websocket",
    b"Expect: 100-continue",
    b"Expect: other",
    b"X-A: 1",
]
METHODS = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT"]


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    method = draw(st.sampled_from(METHODS))
    target = draw(TARGETS)
    version = draw(st.sampled_from([b"1.1", b"1.0"]))
    hosts = draw(st.lists(st.sampled_from(HOSTS), max_size=2))
    extra = draw(st.lists(st.sampled_from(EXTRA), max_size=3, unique=True))
    lines = [method + b" " + target + b" HTTP/" + version]
    lines += [b"Host: " + host for host in hosts] + extra
    return b"\r\n".join(lines) + b"\r\n\r\n"


RIG = Rig()
ROUTED_OUTPUTS = ("local", "authority", "chunked", "wants_tunnel")  # what routing writes


def _outcome(exchange: Exchange) -> tuple[Any, ...]:
    return (
        exchange.method,
        exchange.path,
        exchange.query,
        exchange.host,
        exchange.authority,
        exchange.info,
        exchange.local,
        exchange.rejected,
    )


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(heads())
def test_what_the_fast_path_accepts_the_full_checks_accept_alike(head: bytes) -> None:
    started: list[Exchange] = []
    full_checks: list[Exchange] = []
    original = RequestSide._check_and_route

    def spy(self: Exchange) -> None:
        full_checks.append(self)
        original(self)

    def start(self: Exchange) -> None:  # the head only: no target is picked
        started.append(self)

    with (
        mock.patch.object(Exchange, "start", start),
        mock.patch.object(RequestSide, "_check_and_route", spy),
    ):
        client, _ = RIG.client()
        client.data_received(head)
    if not started or full_checks or started[0].rejected is not None:
        return  # not the fast path's to decide
    (exchange,) = started
    fast = _outcome(exchange)
    for name in ROUTED_OUTPUTS:
        vars(exchange).pop(name, None)
    exchange.path, exchange.query, exchange.info = b"/", None, None
    client.checked_host = client.route_host = None
    client.route_tables = client.route_entry = None
    original(exchange)  # raises wire.Reject if the full checks refuse what the fast path took
    assert _outcome(exchange) == fast
