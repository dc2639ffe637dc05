"""One client connection and its exchanges, driven through fake transports (no sockets).

Every exchange here is built by `PhaseLog`, which fails the test if a phase change is not in
lifecycle.py's tables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probegate.proxy.lifecycle import DONE, RECEIVED
from tests.unit.proxyrig import PhaseLog, Rig

# PhaseLog watches every field write through a subclass of Exchange, which a compiled Exchange
# refuses: these run in scripts/test's interpreted pass.
pytestmark = pytest.mark.interpreted

GET = b"GET /a?x=1 HTTP/1.1\r\nHost: app.example.test\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def phases() -> Iterator[PhaseLog]:
    with PhaseLog().watching() as log:
        yield log


def test_a_get_goes_out_on_a_pooled_connection_and_its_answer_comes_back(phases: PhaseLog) -> None:
    rig = Rig()
    client, to_client = rig.client()
    backend, to_backend = rig.backend()
    client.data_received(GET)
    head = to_backend.take()
    assert head.startswith(b"GET /a?x=1 HTTP/1.1\r\nHost: app.example.test\r\n")
    assert b"X-Forwarded-For: 127.0.0.9:50000\r\n" in head
    assert b"X-AppGW-Trace-Id: " in head
    backend.data_received(OK)
    assert to_client.take() == OK
    assert not to_client.is_closing()
    assert rig.proxy.pools[backend.pool.upstream.key].idle == [backend]  # pooled again
    assert rig.proxy.responses["front"][2] == 1
    assert [(side, to) for side, _, to in phases.changes] == [
        ("reading", "BODY"),
        ("answering", "SENT"),  # a pooled connection: no CONNECTING
        ("reading", "RECEIVED"),
        ("answering", "RELAYING"),
        ("answering", "DONE"),
    ]


def test_a_plain_get_writes_no_rarely_used_field(phases: PhaseLog) -> None:
    """Commit 3ecb9bd: a field written on every request must be a slot, or each request
    allocates a __dict__."""
    rig = Rig()
    client, _ = rig.client()
    backend, _ = rig.backend()
    client.data_received(GET)
    backend.data_received(OK)
    (exchange,) = phases.exchanges
    assert vars(exchange) == {}


def test_pipelined_requests_are_answered_in_order(phases: PhaseLog) -> None:
    rig = Rig()
    client, to_client = rig.client()
    first, to_first = rig.backend()
    second, to_second = rig.backend()
    client.data_received(GET + GET.replace(b"/a?x=1", b"/b"))
    assert to_second.take().startswith(b"GET /a?x=1 ")  # the warmest (last pooled) first
    assert to_first.take() == b""  # the second request waits for the first answer
    second.data_received(OK)
    assert to_first.take().startswith(b"GET /b ")
    first.data_received(b"HTTP/1.1 204 No Content\r\n\r\n")
    assert to_client.take() == OK + b"HTTP/1.1 204 No Content\r\n\r\n"
    assert [e.answering for e in phases.exchanges] == [DONE, DONE]


def test_interim_answers_pass_to_http11_clients_except_100(phases: PhaseLog) -> None:
    rig = Rig()
    client, to_client = rig.client()
    backend, _ = rig.backend()
    client.data_received(GET)
    backend.data_received(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
    )
    backend.data_received(OK)
    assert to_client.take() == b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n" + OK
    interim = [c for c in phases.changes if "INTERIM" in c]
    assert interim == [("answering", "SENT", "INTERIM"), ("answering", "INTERIM", "SENT")] * 2


def test_a_broken_response_before_any_byte_is_a_502(phases: PhaseLog) -> None:
    rig = Rig()
    client, to_client = rig.client()
    backend, to_backend = rig.backend()
    client.data_received(GET)
    backend.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    answer = to_client.take()
    assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert to_backend.aborted
    assert rig.proxy.failed == 1
    (exchange,) = phases.exchanges
    assert exchange.error_info.startswith("the backend sent an invalid response")


def test_a_switch_of_protocols_nobody_asked_for_is_a_502(phases: PhaseLog) -> None:
    rig = Rig()
    client, to_client = rig.client()
    backend, _ = rig.backend()
    client.data_received(GET)
    backend.data_received(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")
    assert b"switched protocols unasked" in to_client.take()


def test_a_cut_after_the_head_reached_the_client_aborts_it(phases: PhaseLog) -> None:
    rig = Rig()
    client, to_client = rig.client()
    backend, _ = rig.backend()
    client.data_received(GET)
    backend.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
    backend.connection_lost(None)
    assert to_client.take().endswith(b"half")
    assert to_client.aborted  # never a short answer that looks whole
    assert phases.changes[-1] == ("answering", "RELAYING", "DONE")


def test_a_chunked_upload_is_rechunked_and_100_continue_is_the_gateways(
    phases: PhaseLog,
) -> None:
    rig = Rig()
    client, to_client = rig.client()
    backend, to_backend = rig.backend()
    client.data_received(
        b"POST /up HTTP/1.1\r\nHost: app.example.test\r\nExpect: 100-continue\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    assert to_client.take() == b"HTTP/1.1 100 Continue\r\n\r\n"
    head = to_backend.take()
    assert b"Transfer-Encoding: chunked\r\n" in head
    assert b"Expect" not in head
    client.data_received(b"3\r\nabc\r\n0\r\n\r\n")
    assert to_backend.take() == b"3\r\nabc\r\n0\r\n\r\n"
    (exchange,) = phases.exchanges
    assert exchange.reading is RECEIVED
    backend.data_received(OK)
    assert to_client.take() == OK


def test_local_answers_need_no_backend(phases: PhaseLog) -> None:
    rig = Rig()
    client, to_client = rig.client()
    client.data_received(b"GET /old/page HTTP/1.1\r\nHost: shop.example.test\r\n\r\n")
    assert to_client.take().startswith(b"HTTP/1.1 301 Moved Permanently\r\n")
    client.data_received(b"GET / HTTP/1.1\r\nHost: bad..host\r\n\r\n")
    assert to_client.take().startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert to_client.closed
    assert [e.answering for e in phases.exchanges] == [DONE, DONE]
    assert ("answering", "WAITING", "DONE") in phases.changes


def test_a_client_gone_mid_answer_drops_the_backend(phases: PhaseLog) -> None:
    rig = Rig()
    client, _ = rig.client()
    backend, to_backend = rig.backend()
    client.data_received(GET)
    client.connection_lost(None)
    assert to_backend.aborted
    assert backend.exchange is None
    assert phases.changes[-1] == ("answering", "SENT", "DONE")
    assert rig.proxy.connections == set()


def test_a_stopping_gateway_closes_idle_connections_and_lets_busy_ones_finish() -> None:
    rig = Rig()
    idle, to_idle = rig.client()
    busy, to_busy = rig.client()
    backend, _ = rig.backend()
    busy.data_received(GET)
    idle.wind_down()
    busy.wind_down()
    assert to_idle.closed
    assert not to_busy.closed
    backend.data_received(OK)
    assert b"Connection: close\r\n" in to_busy.take()
    assert to_busy.closed
