"""The probe runner against real sockets: one test per way a probe can end (SPEC sections 4, 11).

Rules of this module:
- every backend is a `backends.py` server on 127.0.0.x (or ::1), port 0; the DNS server is
  `dnsserver.py` on 127.0.0.53; nothing leaves loopback;
- probes are built from plan dataclasses through `effective_probe`, exactly as the prober gets
  them; timeouts are the smallest the configuration allows (1 s);
- tests are plain functions running `asyncio.run` (or uvloop) — no async plugin; nothing sleeps
  to synchronise: waits are on events or polls with a deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
import trustme
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from typing_extensions import override

from probegate.config.effective import EffectiveProbe, effective_probe
from probegate.config.plan import (
    AddressKind,
    AddressPool,
    Member,
    ProbeSpec,
    Protocol,
    Settings,
    StatusMatch,
    Target,
    TargetKey,
    Tier,
    server_address,
)
from probegate.demo.backends import EndlessBody, HttpBackend, TlsBackend
from probegate.demo.dnsserver import DnsServer
from probegate.demo.faults import (
    GARBAGE,
    HTTP2_SETTINGS,
    PARTIAL_HEAD,
    CloseOnAccept,
    FullAcceptQueue,
    RawBytes,
    Silent,
    closed_port,
)
from probegate.health.capacity import Capacity
from probegate.health.observation import Failure, Observation, Phase
from probegate.health.runner import READ_CAP, USER_AGENT, run_probe
from probegate.resolver import Resolved, Resolver

T = TypeVar("T")
APP = "app.example.test"
LOOPS = [
    pytest.param(asyncio.new_event_loop, id="asyncio"),
    pytest.param(uvloop.new_event_loop, id="uvloop"),
]


# -------------------------------------------------------------------- building probes


def make_probe(
    address: str,
    port: int,
    *,
    protocol: Protocol = Protocol.HTTP,
    host: str = APP,
    body: str | None = None,
    timeout: int = 1,
) -> EffectiveProbe:
    """A v2 custom probe on one member: Host header and SNI are `host` (no SNI for an IP)."""
    spec = ProbeSpec(
        name="health",
        protocol=protocol,
        host=host,
        path="/health",
        port=None,
        interval=5,
        timeout=timeout,
        unhealthy_threshold=3,
        pick_host_name_from_backend_http_settings=False,
        min_servers=0,
        match=StatusMatch(ranges=((200, 399),), body=body),
    )
    settings = Settings(
        name="settings",
        port=port,
        protocol=protocol,
        request_timeout=20,
        host_name=None,
        pick_host_name_from_backend_address=False,
        path=None,
        probe=spec,
        cookie_based_affinity=False,
        affinity_cookie_name="ApplicationGatewayAffinity",
        draining=None,
        trusted_roots=(),
        authentication_certificates=(),
        insecure_skip_verify=False,
    )
    kind = AddressKind.IP if address[0].isdigit() or ":" in address else AddressKind.FQDN
    member = Member(address=address, kind=kind, port=None)
    pool = AddressPool(name="pool", members=(member,))
    key = TargetKey(pool.name, settings.name, server_address(address, port))
    return effective_probe(Target(key, pool, settings, member, port), Tier.V2)


def run(
    coro: Coroutine[Any, Any, T],
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> T:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(coro)


def probe_once(
    probe: EffectiveProbe,
    resolver: Resolver | None = None,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> Observation:
    async def once() -> Observation:
        return await run_probe(probe, resolver or Resolver())

    return run(once(), loop_factory)


def der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


# -------------------------------------------------------------------- HTTP outcomes


@pytest.mark.parametrize("loop_factory", LOOPS)
def test_200_with_facts(loop_factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    with HttpBackend(200, b"all good", headers=[("X-App", "one")], host="127.0.0.11") as backend:
        probe = make_probe(backend.host, backend.port, body="good")  # a body match reads it all
        seen = probe_once(probe, loop_factory=loop_factory)
    assert seen.failure is None
    assert seen.phase is Phase.MATCH
    assert seen.connected_to == f"127.0.0.11:{backend.port}"
    assert seen.http is not None
    assert (seen.http.status, seen.http.reason, seen.http.body) == (200, "OK", b"all good")
    assert ("X-App", "one") in seen.http.headers
    assert set(seen.timings_ms) == {Phase.CONNECT, Phase.RESPONSE}
    assert seen.duration_ms >= sum(seen.timings_ms.values())
    request = backend.requests[0]
    assert (request.method, request.path) == ("GET", "/health")
    assert request.header("Host") == APP
    assert request.header("User-Agent") == USER_AGENT
    assert request.header("Connection") == "close"


def test_redirect_is_not_followed() -> None:
    location = ("Location", "http://elsewhere.example.test/")
    with HttpBackend(302, b"", headers=[location]) as backend:
        seen = probe_once(make_probe(backend.host, backend.port))
    assert seen.failure is None
    assert seen.http is not None
    assert seen.http.status == 302
    assert location in seen.http.headers
    assert len(backend.requests) == 1


def test_ipv6_member_brackets_the_address_and_host() -> None:
    with HttpBackend(host="::1") as backend:
        seen = probe_once(make_probe("::1", backend.port, host="::1"))
    assert seen.failure is None
    assert seen.connected_to == f"[::1]:{backend.port}"
    assert backend.requests[0].header("Host") == "[::1]"


def test_slow_answer_times_out() -> None:
    with HttpBackend(200, delay=3.0) as backend:
        seen = probe_once(make_probe(backend.host, backend.port, timeout=1))
    assert seen.failure is Failure.RESPONSE_TIMEOUT
    assert seen.phase is Phase.RESPONSE
    assert seen.detail.startswith("no response head within ")
    assert 900 <= seen.duration_ms < 1500


def test_body_that_never_completes_times_out_with_the_head_kept() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"
    with RawBytes(head, hold_open=True) as backend:
        seen = probe_once(make_probe(backend.host, backend.port, body="needle"))
    assert seen.failure is Failure.RESPONSE_TIMEOUT
    assert seen.detail.startswith("body incomplete after ")
    assert seen.http is not None
    assert (seen.http.status, seen.http.body) == (200, b"only this")


def test_endless_body_is_read_up_to_the_cap() -> None:
    with EndlessBody() as backend:
        seen = probe_once(make_probe(backend.host, backend.port, body="needle"))
    assert seen.failure is None
    assert seen.http is not None
    assert len(seen.http.body) == READ_CAP
    assert seen.http.body_truncated
    assert seen.duration_ms < 900  # the cap ended the read, not the timeout


def test_without_body_match_the_read_stops_at_the_head() -> None:
    with EndlessBody() as backend:
        seen = probe_once(make_probe(backend.host, backend.port))
    assert seen.failure is None
    assert seen.http is not None
    assert len(seen.http.body) <= READ_CAP
    assert seen.duration_ms < 900


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        pytest.param(GARBAGE, "garbage", id="garbage"),
        pytest.param(HTTP2_SETTINGS, "....", id="http2-settings-frame"),
    ],
)
def test_not_http_is_malformed(data: bytes, complaint: str) -> None:
    with RawBytes(data) as backend:
        seen = probe_once(make_probe(backend.host, backend.port))
    assert seen.failure is Failure.RESPONSE_MALFORMED
    assert seen.phase is Phase.RESPONSE
    assert seen.detail.startswith("not HTTP/1.x (")
    assert complaint in seen.detail


CLOSED, RESET = "closed by the backend", "reset by the backend"


@pytest.mark.parametrize(
    ("backend_factory", "words"),
    [
        pytest.param(lambda: RawBytes(PARTIAL_HEAD), (CLOSED,), id="partial-head"),
        # the request may reach the closed socket before its FIN reaches us: then a RST answers
        pytest.param(CloseOnAccept, (CLOSED, RESET), id="close-on-accept"),
        pytest.param(lambda: RawBytes(b"", reset=True), (RESET,), id="reset-after-request"),
    ],
)
def test_closed_before_the_head(
    backend_factory: Callable[[], RawBytes | CloseOnAccept], words: tuple[str, ...]
) -> None:
    with backend_factory() as backend:
        seen = probe_once(make_probe(backend.host, backend.port))
    assert seen.failure is Failure.RESPONSE_CLOSED
    assert seen.phase is Phase.RESPONSE
    assert seen.detail.startswith(tuple(f"{w} before the response head" for w in words))


# -------------------------------------------------------------------- connect outcomes


def test_reset_right_after_accept() -> None:
    # the kernel decides whether the RST lands while the connect completes or on the first read
    with CloseOnAccept(reset=True) as backend:
        seen = probe_once(make_probe(backend.host, backend.port))
    if seen.failure is Failure.CONNECT_RESET:
        assert (seen.phase, seen.detail) == (Phase.CONNECT, "reset")
    else:
        assert seen.failure is Failure.RESPONSE_CLOSED
        assert seen.detail.startswith(f"{RESET} before the response head")


def test_nothing_listening_is_refused() -> None:
    seen = probe_once(make_probe("127.0.0.1", closed_port()))
    assert seen.failure is Failure.CONNECT_REFUSED
    assert seen.phase is Phase.CONNECT
    assert seen.detail == "refused"
    assert seen.connected_to is None


def test_full_accept_queue_times_out() -> None:
    with FullAcceptQueue() as queue:
        seen = probe_once(make_probe(queue.host, queue.port, timeout=1))
    assert seen.failure is Failure.CONNECT_TIMEOUT
    assert seen.phase is Phase.CONNECT
    assert seen.detail.startswith("timed out after ")
    assert 900 <= seen.timings_ms[Phase.CONNECT] < 1500


def test_connect_permit_is_held_only_during_the_connect() -> None:
    async def scenario(backend: HttpBackend) -> tuple[bool, Observation]:
        capacity = Capacity(1)
        task = asyncio.ensure_future(
            run_probe(make_probe(backend.host, backend.port), Resolver(), connect_capacity=capacity)
        )
        while not backend.requests:  # the probe is now waiting for its response
            await asyncio.sleep(0.005)
        free_while_waiting = capacity.try_take()
        if free_while_waiting:
            capacity.release()
        return not free_while_waiting, await task

    with HttpBackend(delay=0.3) as backend:
        locked, seen = run(scenario(backend))
    assert not locked
    assert seen.failure is None


def test_waiting_for_a_connect_permit_is_not_charged_to_the_backend() -> None:
    async def scenario(backend: HttpBackend) -> Observation:
        capacity = Capacity(1)
        await capacity.take()  # another probe holds the only permit past this probe's timeout
        asyncio.get_running_loop().call_later(1.1, capacity.release)
        return await run_probe(
            make_probe(backend.host, backend.port, timeout=1), Resolver(), connect_capacity=capacity
        )

    with HttpBackend() as backend:
        seen = run(scenario(backend))
    assert seen.failure is None
    assert seen.timings_ms[Phase.CONNECT] < 500


# -------------------------------------------------------------------- TLS outcomes


@pytest.fixture(scope="module")
def intermediate(ca: trustme.CA) -> trustme.CA:
    return ca.create_child_ca()


@pytest.fixture(scope="module")
def leaf(intermediate: trustme.CA) -> trustme.LeafCert:
    return intermediate.issue_cert(APP)


@pytest.mark.parametrize("loop_factory", LOOPS)
@pytest.mark.parametrize(
    "intermediate_first", [False, True], ids=["leaf-first", "intermediate-first"]
)
def test_tls_chain_is_captured_as_presented(
    intermediate: trustme.CA,
    leaf: trustme.LeafCert,
    intermediate_first: bool,
    loop_factory: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    leaf_pem, intermediate_pem = leaf.cert_chain_pems[0].bytes(), intermediate.cert_pem.bytes()
    if intermediate_first:  # OpenSSL sends the keyed certificate first: key it to the intermediate
        chain, key = [intermediate_pem, leaf_pem], intermediate.private_key_pem.bytes()
    else:
        chain, key = [leaf_pem, intermediate_pem], leaf.private_key_pem.bytes()
    with TlsBackend(chain, key) as backend:
        seen = probe_once(
            make_probe(backend.host, backend.port, protocol=Protocol.HTTPS),
            loop_factory=loop_factory,
        )
    assert seen.failure is None
    assert seen.tls is not None
    assert seen.tls.chain == tuple(der(pem) for pem in chain)
    assert seen.tls.version.startswith("TLS")
    assert seen.tls.cipher
    assert set(seen.timings_ms) == {Phase.CONNECT, Phase.TLS, Phase.RESPONSE}


@pytest.mark.parametrize(
    ("host", "sni"),
    [pytest.param(APP, APP, id="name"), pytest.param("127.0.0.1", None, id="ip-literal")],
)
def test_sni_is_sent_for_names_only(leaf: trustme.LeafCert, host: str, sni: str | None) -> None:
    chain = [pem.bytes() for pem in leaf.cert_chain_pems]
    with TlsBackend(chain, leaf.private_key_pem.bytes()) as backend:
        seen = probe_once(
            make_probe(backend.host, backend.port, protocol=Protocol.HTTPS, host=host)
        )
    assert seen.failure is None
    assert seen.tls is not None
    assert seen.tls.sni == sni
    assert backend.server_names == [sni]


def test_plain_http_on_a_tls_setting_fails_the_handshake() -> None:
    with HttpBackend() as backend:
        seen = probe_once(make_probe(backend.host, backend.port, protocol=Protocol.HTTPS))
    assert seen.failure is Failure.TLS_HANDSHAKE
    assert seen.phase is Phase.TLS
    assert "WRONG_VERSION_NUMBER" in seen.detail
    assert backend.not_http == 1


def test_reset_during_the_handshake_fails_it() -> None:
    with RawBytes(b"", reset=True) as backend:  # resets once the ClientHello arrived
        seen = probe_once(make_probe(backend.host, backend.port, protocol=Protocol.HTTPS))
    assert seen.failure is Failure.TLS_HANDSHAKE
    assert seen.detail == "reset by the backend during the TLS handshake"


def test_cipher_mismatch_fails_the_handshake(leaf: trustme.LeafCert) -> None:
    chain = [pem.bytes() for pem in leaf.cert_chain_pems]
    key = leaf.private_key_pem.bytes()
    # a SHA-1 suite only: Python's default client cipher list excludes every one of them
    with TlsBackend(chain, key, ciphers="ECDHE-ECDSA-AES128-SHA") as backend:
        seen = probe_once(make_probe(backend.host, backend.port, protocol=Protocol.HTTPS))
    assert seen.failure is Failure.TLS_HANDSHAKE
    # asyncio's server drops the connection without flushing its alert: the client sees a reset
    assert seen.detail.startswith(("[SSL: ", "reset by the backend", "closed by the backend"))
    assert seen.tls is None


def test_silent_tls_port_times_out_the_handshake() -> None:
    with Silent() as backend:
        seen = probe_once(make_probe(backend.host, backend.port, protocol=Protocol.HTTPS))
    assert seen.failure is Failure.TLS_TIMEOUT
    assert seen.phase is Phase.TLS
    assert seen.detail.startswith("TLS handshake not complete after ")


# -------------------------------------------------------------------- resolve outcomes


def test_fqdn_member_through_the_configured_dns_server() -> None:
    with DnsServer() as dns_server, HttpBackend(host="127.0.0.12") as backend:
        dns_server.answer(APP, "127.0.0.12", ttl=30)
        seen = probe_once(make_probe(APP, backend.port), Resolver(servers=(dns_server.address,)))
    assert seen.failure is None
    assert seen.resolution is not None
    assert seen.resolution.resolver == dns_server.label
    assert seen.resolution.addresses == ("127.0.0.12",)
    assert seen.resolution.ttl == 30
    assert seen.connected_to == f"127.0.0.12:{backend.port}"
    assert list(seen.timings_ms) == [Phase.RESOLVE, Phase.CONNECT, Phase.RESPONSE]


def test_next_address_is_tried_when_the_first_refuses() -> None:
    with DnsServer() as dns_server, HttpBackend(host="127.0.0.13") as backend:
        dns_server.answer(APP, "127.0.0.14", "127.0.0.13")  # nothing listens on .14
        seen = probe_once(make_probe(APP, backend.port), Resolver(servers=(dns_server.address,)))
    assert seen.failure is None
    assert seen.connected_to == f"127.0.0.13:{backend.port}"


def test_every_address_refusing_names_them_all() -> None:
    port = closed_port("127.0.0.15")
    with DnsServer() as dns_server:
        dns_server.answer(APP, "127.0.0.15", "127.0.0.16")
        seen = probe_once(make_probe(APP, port), Resolver(servers=(dns_server.address,)))
    assert seen.failure is Failure.CONNECT_REFUSED
    tried = {f"127.0.0.15:{port}", f"127.0.0.16:{port}"}  # in the order DNS gave (it shuffles)
    assert seen.detail.startswith("refused (tried ")
    assert set(seen.detail.removeprefix("refused (tried ").removesuffix(")").split(", ")) == tried


def test_nxdomain_names_the_resolver() -> None:
    with DnsServer() as dns_server:
        dns_server.nxdomain(APP)
        seen = probe_once(make_probe(APP, 8080), Resolver(servers=(dns_server.address,)))
    assert seen.failure is Failure.DNS_NXDOMAIN
    assert seen.phase is Phase.RESOLVE
    assert seen.resolution is not None
    assert seen.resolution.resolver == dns_server.label
    assert seen.resolution.answer == "NXDOMAIN"
    assert dns_server.label in seen.detail
    assert list(seen.timings_ms) == [Phase.RESOLVE]


def test_last_good_addresses_are_kept_when_the_name_starts_failing() -> None:
    now = [1000.0]
    with DnsServer() as dns_server, HttpBackend(host="127.0.0.17") as backend:
        dns_server.answer(APP, "127.0.0.17", ttl=30)
        resolver = Resolver(servers=(dns_server.address,), monotonic=lambda: now[0])
        probe = make_probe(APP, backend.port)
        first = probe_once(probe, resolver)
        dns_server.nxdomain(APP)
        now[0] += 31  # the answer expired: the next probe must ask again
        second = probe_once(probe, resolver)
        asked = dns_server.count(APP, "A")
    assert first.failure is None
    assert second.failure is None
    assert second.resolution is not None
    assert second.resolution.from_last_good
    assert second.resolution.answer == "NXDOMAIN"
    assert second.resolution.addresses == ("127.0.0.17",)
    assert asked == 2


# -------------------------------------------------------------------- the edge


class _Exploding(Resolver):
    @override
    async def resolve(self, name: str, timeout: float | None = None) -> Resolved:
        raise RuntimeError("boom")


def test_an_unexpected_exception_becomes_an_observation() -> None:
    seen = probe_once(make_probe(APP, 8080), _Exploding())
    assert seen.failure is Failure.DNS_ERROR
    assert seen.detail == "unexpected RuntimeError: boom"


def test_cancellation_propagates() -> None:
    async def scenario(backend: Silent) -> bool:
        task = asyncio.ensure_future(run_probe(make_probe(backend.host, backend.port), Resolver()))
        while not backend.connections:
            await asyncio.sleep(0.005)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return True
        return False

    with Silent() as backend:
        assert run(scenario(backend))
