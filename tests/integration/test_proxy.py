"""The data path over real sockets: forwarding, balancing, failures, pipelining, limits."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from probegate.demo.backends import wait_until
from probegate.demo.faults import CloseOnAccept, Silent, closed_port
from tests.integration.proxykit import (
    RecordingBackend,
    RunningGateway,
    config,
    free_port,
    get,
    send_raw,
)

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath


def test_forwards_to_a_healthy_backend_with_the_gateway_headers(tmp_path: Path) -> None:
    with RecordingBackend("one") as backend:
        port = free_port()
        with RunningGateway(tmp_path, config(port, {"web": [backend]})) as gw:
            gw.wait_routable("web", 1)
            request = (
                b"GET /a/b?x=1 HTTP/1.1\r\nHost: App.Test:8080\r\nX-Forwarded-For: 10.0.0.9\r\n"
                b"X-AppGW-Trace-Id: spoofed\r\nConnection: keep-alive, X-Secret\r\n"
                b"X-Secret: s\r\nKeep-Alive: 5\r\nProxy-Connection: x\r\nTE: trailers, gzip\r\n"
                b"Accept: */*\r\n\r\n"
            )
            reply = send_raw(port, request).replies[0]
    assert reply.status == 200
    assert reply.body == b"one"
    seen = backend.requests[0]
    assert seen.raw.startswith(b"GET /a/b?x=1 HTTP/1.1\r\nHost: App.Test:8080\r\n")
    assert seen.header("x-secret") is None
    assert seen.header("keep-alive") is None
    assert seen.header("proxy-connection") is None
    assert seen.header("connection") is None
    assert seen.header("te") == "trailers"
    assert seen.header("accept") == "*/*"
    xff = seen.header("x-forwarded-for")
    assert xff is not None
    assert re.fullmatch(r"10\.0\.0\.9, 127\.0\.0\.1:\d+", xff)
    assert seen.header("x-forwarded-proto") == "http"
    assert seen.header("x-forwarded-port") == str(port)
    assert seen.header("x-original-host") == "App.Test:8080"
    trace = seen.all("x-appgw-trace-id")
    assert len(trace) == 1
    assert re.fullmatch(r"[0-9a-f]{32}", trace[0])


def test_round_robin_over_routable_servers_only(tmp_path: Path) -> None:
    dead = closed_port()
    with RecordingBackend("a") as a, RecordingBackend("b") as b:
        port = free_port()
        document = config(port, {"web": [a, b]})
        document["backendAddressPools"][0]["backendAddresses"].append(
            {"ipAddress": "127.0.0.1", "port": dead}
        )
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 2)
            seen = Counter(get(port).body for _ in range(20))
    assert seen == {b"a": 10, b"b": 10}


def test_no_routable_server_is_a_502_naming_pool_and_reason(tmp_path: Path) -> None:
    dead = closed_port()
    port = free_port()
    document = config(port, {"app": []})
    document["backendAddressPools"][0]["backendAddresses"] = [
        {"ipAddress": "127.0.0.1", "port": dead},
        {"ipAddress": "127.0.0.2", "port": dead},
    ]
    with RunningGateway(tmp_path, document) as gw:
        assert gw.gateway is not None
        wait_until(lambda: _failing(gw, "app"), 10, "probes to fail")
        reply = get(port)
    assert reply.status == 502
    assert reply.body == b"all 2 servers of pool 'app' are unhealthy: tcp-connect-error\n"


def _failing(gw: RunningGateway, pool: str) -> bool:
    assert gw.gateway is not None
    group = gw.gateway.store.routes.get(next(k for k in gw.gateway.store.routes if k.pool == pool))
    return (
        group is not None
        and bool(group.failing_reasons)
        and "not-yet-probed" not in [r.value for r in group.failing_reasons]
    )


def test_an_empty_pool_is_a_502_naming_it(tmp_path: Path) -> None:
    port = free_port()
    with RunningGateway(tmp_path, config(port, {"empty": []})):
        reply = get(port)
    assert reply.status == 502
    assert reply.body == b"pool 'empty' has no servers\n"


def test_unknown_host_on_a_multi_site_only_port_is_404(tmp_path: Path) -> None:
    port = free_port()
    with RecordingBackend() as backend:
        document = config(
            port,
            {"web": [backend]},
            listeners=[
                {"name": "front", "port": port, "protocol": "Http", "hostNames": ["app.test"]}
            ],
        )
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            assert get(port, host="app.test").status == 200
            assert get(port, host="other.test").status == 404
    assert len(backend.requests) == 1


def test_refused_connection_is_retried_on_another_server(tmp_path: Path) -> None:
    """A server that dies between probes: the request goes to the other (SPEC 11 row 19)."""
    with RecordingBackend("a") as a, RecordingBackend("b") as b:
        port = free_port()
        document = config(port, {"web": [a, b]})
        document["probes"][0]["interval"] = 30  # the probes will not notice in time
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 2)
            b.stop()
            bodies = [
                send_raw(port, b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
                .replies[0]
                .body
                for _ in range(6)
            ]
    assert bodies == [b"a"] * 6
    assert all(seen.body == b"hi" for seen in a.requests)


def test_backend_timeout_is_504_after_one_retry_elsewhere(tmp_path: Path) -> None:
    with Silent() as silent_a, Silent() as silent_b, RecordingBackend("health") as health:
        port = free_port()
        document = config(port, {"web": [silent_a, silent_b]}, settings={"requestTimeout": 1})
        document["probes"][0]["port"] = health.port  # probes pass elsewhere; traffic hangs
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 2)
            started = time.monotonic()
            reply = get(port)
            took = time.monotonic() - started
    assert reply.status == 504
    assert b"requestTimeout" in reply.body
    assert took >= 1.5  # the first server, then the second, each for requestTimeout
    assert silent_a.connections + silent_b.connections == 2


def test_pipelined_requests_are_answered_in_order(tmp_path: Path) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        with RunningGateway(tmp_path, config(port, {"web": [a]})) as gw:
            gw.wait_routable("web", 1)
            pipeline = b"".join(
                f"GET /slow/{delay} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                for delay in ("0.3", "0", "0.1")
            )
            found = send_raw(port, pipeline, replies=3)
    assert [r.body for r in found.replies] == [b"slow a", b"slow a", b"slow a"]
    assert [s.target for s in a.requests] == ["/slow/0.3", "/slow/0", "/slow/0.1"]


def test_garbage_after_a_valid_request_gets_the_answer_then_400(tmp_path: Path) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        with RunningGateway(tmp_path, config(port, {"web": [a]})) as gw:
            gw.wait_routable("web", 1)
            found = send_raw(
                port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00garbage\r\n\r\n", replies=2
            )
    assert [r.status for r in found.replies] == [200, 400]
    assert found.closed
    assert len(a.requests) == 1


def test_backend_closing_without_answer_is_502(tmp_path: Path) -> None:
    with CloseOnAccept() as closer, RecordingBackend("health") as health:
        port = free_port()
        document = config(port, {"web": [closer]})
        document["probes"][0]["port"] = health.port
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            reply = get(port)
    assert reply.status == 502


def test_a_fresh_connection_closed_unanswered_retries_a_get_elsewhere_but_not_a_post(
    tmp_path: Path,
) -> None:
    """A server that takes the request and dies (a crash, a kill under load): an idempotent
    request without a body goes once to another server; a POST may have been acted on: 502."""
    with (
        CloseOnAccept() as closer,
        RecordingBackend("a") as a,
        RecordingBackend("health") as health,
    ):
        port = free_port()
        document = config(port, {"web": [closer, a]})
        document["probes"][0]["port"] = health.port  # both pass their probes; one drops requests
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 2)
            gets = [get(port, f"/g{i}") for i in range(6)]
            posts = [
                send_raw(
                    port, b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
                ).replies[0]
                for _ in range(4)
            ]
    assert [(r.status, r.body) for r in gets] == [(200, b"a")] * 6
    assert {r.status for r in posts} == {200, 502}  # round robin: some went to the closer first
    assert all(
        b"closed the connection before answering" in r.body for r in posts if r.status == 502
    )
    assert sorted(s.target for s in a.requests if s.method == "GET") == [f"/g{i}" for i in range(6)]


def test_many_clients_at_once(tmp_path: Path) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        with RunningGateway(tmp_path, config(port, {"web": [a]})) as gw:
            gw.wait_routable("web", 1)
            results: list[int] = []

            def client() -> None:
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                    for _ in range(20):
                        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                        data = b""
                        while not data.endswith(b"a"):
                            data += sock.recv(4096)
                        results.append(int(data[9:12]))

            threads = [threading.Thread(target=client) for _ in range(20)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
    assert results == [200] * 400


def test_http10_without_host_is_forwarded_with_the_servers_address(tmp_path: Path) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        with RunningGateway(tmp_path, config(port, {"web": [a]})) as gw:
            gw.wait_routable("web", 1)
            found = send_raw(port, b"GET /old HTTP/1.0\r\n\r\n")
    assert found.replies[0].status == 200
    assert found.closed  # HTTP/1.0 without keep-alive
    seen = a.requests[0]
    assert seen.raw.startswith(f"GET /old HTTP/1.1\r\nHost: 127.0.0.1:{a.port}\r\n".encode())
    assert seen.header("x-original-host") is None


def test_http10_kept_alive_by_proxy_connection_is_answered_as_http10(tmp_path: Path) -> None:
    """llhttp keeps an HTTP/1.0 request alive on `Proxy-Connection: keep-alive` alone: the
    answer must say keep-alive (1.0 has no persistence by default) and the connection carry on.
    The version is inferred without asking the parser only when no such header was sent."""
    with RecordingBackend("a") as a:
        port = free_port()
        with RunningGateway(tmp_path, config(port, {"web": [a]})) as gw:
            gw.wait_routable("web", 1)
            request = b"GET /old HTTP/1.0\r\nHost: x\r\nProxy-Connection: keep-alive\r\n\r\n"
            found = send_raw(port, [request, request], replies=2, wait_close=False)
            plain = send_raw(port, b"GET /new HTTP/1.1\r\nHost: x\r\n\r\n", wait_close=False)
    assert [r.status for r in found.replies] == [200, 200]
    assert [r.header("connection") for r in found.replies] == ["keep-alive", "keep-alive"]
    assert not found.closed
    assert plain.replies[0].header("connection") is None  # HTTP/1.1: persistent by default
    assert a.requests[0].header("proxy-connection") is None


def test_head_to_an_empty_pool_gets_a_502_without_body(tmp_path: Path) -> None:
    port = free_port()
    with RunningGateway(tmp_path, config(port, {"empty": []})):
        raw = b""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            while not raw.endswith(b"has no servers\n"):
                chunk = sock.recv(65536)
                assert chunk, raw
                raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 502 ")
    assert b"Content-Length: 28" in head  # the length a GET's body has, as HEAD promises
    assert rest.startswith(b"HTTP/1.1 502 ")  # and no body before the next answer
