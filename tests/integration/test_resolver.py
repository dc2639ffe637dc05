"""The resolver against the loopback DNS server (and /etc/hosts for the system resolver).

Rules of this module:
- the DNS server is `dnsserver.DnsServer` on 127.0.0.53 (port 0); the system resolver is only
  asked for `localhost`, which /etc/hosts answers without a packet leaving the host;
- the resolver's clock is a fake the test advances: TTL expiry never waits;
- plain functions running `asyncio.run`; no async plugin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import dns.message
import dns.query
import dns.rcode
import pytest

from probegate.demo.backends import shown
from probegate.demo.dnsserver import DnsServer
from probegate.demo.faults import closed_port
from probegate.health.observation import Failure
from probegate.resolver import SYSTEM_RESOLVER, SYSTEM_TTL, Resolved, Resolver

APP = "app.example.test"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    with DnsServer() as server:
        yield server


def resolve(resolver: Resolver, name: str = APP, timeout: float | None = None) -> Resolved:
    return asyncio.run(resolver.resolve(name, timeout))


def test_answer_is_cached_for_its_ttl_then_asked_again(dns_server: DnsServer) -> None:
    clock = FakeClock()
    dns_server.answer(APP, "127.0.0.21", ttl=30)
    resolver = Resolver(servers=(dns_server.address,), monotonic=clock)

    first = resolve(resolver)
    clock.now += 29
    cached = resolve(resolver)
    asked_within_ttl = dns_server.count(APP, "A")
    clock.now += 2
    dns_server.answer(APP, "127.0.0.22", ttl=30)
    renewed = resolve(resolver)

    assert first == Resolved(first.resolution)
    assert first.resolution.addresses == ("127.0.0.21",)
    assert first.resolution.ttl == 30
    assert first.resolution.resolver == dns_server.label
    assert cached.resolution == first.resolution
    assert asked_within_ttl == 1
    assert renewed.resolution.addresses == ("127.0.0.22",)
    assert dns_server.count(APP, "A") == 2
    assert dns_server.count(APP, "AAAA") == 2


def test_concurrent_resolutions_share_one_query(dns_server: DnsServer) -> None:
    dns_server.answer(APP, "127.0.0.23", delay=0.1)
    resolver = Resolver(servers=(dns_server.address,))

    async def many() -> list[Resolved]:
        return await asyncio.gather(*(resolver.resolve(APP, 2.0) for _ in range(20)))

    results = asyncio.run(many())
    assert {r.resolution.addresses for r in results} == {("127.0.0.23",)}
    assert dns_server.count(APP, "A") == 1


def test_a_waiter_giving_up_does_not_cancel_the_shared_query(dns_server: DnsServer) -> None:
    clock = FakeClock()
    dns_server.answer(APP, "127.0.0.24", delay=0.3)
    resolver = Resolver(servers=(dns_server.address,), monotonic=clock)

    async def impatient_and_patient() -> tuple[Resolved, Resolved]:
        quick = asyncio.ensure_future(resolver.resolve(APP, 0.05))
        slow = asyncio.ensure_future(resolver.resolve(APP, 2.0))
        return await quick, await slow

    quick, slow = asyncio.run(impatient_and_patient())
    assert quick.failure is Failure.DNS_TIMEOUT
    assert quick.resolution.answer == "no answer within 50 ms"
    assert slow.failure is None
    assert slow.resolution.addresses == ("127.0.0.24",)
    assert resolve(resolver).resolution.addresses == ("127.0.0.24",)  # from the cache
    assert dns_server.count(APP, "A") == 1


def test_both_families_ipv4_first(dns_server: DnsServer) -> None:
    dns_server.answer(APP, "::1", "127.0.0.25", ttl=60)
    resolved = resolve(Resolver(servers=(dns_server.address,)))
    assert resolved.resolution.addresses == ("127.0.0.25", "::1")


@pytest.mark.parametrize(
    ("setup", "failure", "answer"),
    [
        pytest.param(lambda s: s.nxdomain(APP), Failure.DNS_NXDOMAIN, "NXDOMAIN", id="nxdomain"),
        pytest.param(
            lambda s: s.answer(APP), Failure.DNS_NO_RECORDS, "no A/AAAA records", id="no-records"
        ),
        pytest.param(
            lambda s: s.fail(APP, dns.rcode.SERVFAIL), Failure.DNS_ERROR, "SERVFAIL", id="servfail"
        ),
        pytest.param(
            lambda s: s.fail(APP, dns.rcode.REFUSED), Failure.DNS_ERROR, "REFUSED", id="refused"
        ),
        pytest.param(
            lambda s: s.silence(APP), Failure.DNS_TIMEOUT, "no answer within 300 ms", id="timeout"
        ),
    ],
)
def test_failures_are_classified(
    dns_server: DnsServer, setup: object, failure: Failure, answer: str
) -> None:
    assert callable(setup)
    setup(dns_server)
    resolved = resolve(Resolver(servers=(dns_server.address,), lifetime=0.3))
    assert resolved.failure is failure
    assert resolved.resolution.answer == answer
    assert resolved.resolution.resolver == dns_server.label
    assert resolved.resolution.addresses == ()


def test_server_that_is_not_there_times_out() -> None:
    # dnspython's UDP socket is not connected, so the ICMP port-unreachable is not reported:
    # a missing server looks like a silent one
    port = closed_port("127.0.0.54")
    resolved = resolve(Resolver(servers=(("127.0.0.54", port),), lifetime=0.3))
    assert resolved.failure is Failure.DNS_TIMEOUT
    assert resolved.resolution.answer == "no answer within 300 ms"
    assert resolved.resolution.resolver == shown("127.0.0.54", port)


def test_next_server_is_asked_when_the_first_fails(dns_server: DnsServer) -> None:
    dns_server.answer(APP, "127.0.0.26")
    dead = ("127.0.0.54", closed_port("127.0.0.54"))
    resolved = resolve(Resolver(servers=(dead, dns_server.address), lifetime=0.6))
    assert resolved.failure is None
    assert resolved.resolution.resolver == dns_server.label


def test_last_good_is_kept_with_the_failure_in_words(dns_server: DnsServer) -> None:
    clock = FakeClock()
    dns_server.answer(APP, "127.0.0.27", ttl=10)
    resolver = Resolver(servers=(dns_server.address,), monotonic=clock)
    resolve(resolver)
    dns_server.fail(APP, dns.rcode.SERVFAIL)
    clock.now += 11
    kept = resolve(resolver)
    assert kept.failure is None
    assert kept.resolution.from_last_good
    assert kept.resolution.addresses == ("127.0.0.27",)
    assert kept.resolution.answer == "SERVFAIL"


def test_system_resolver_for_localhost() -> None:
    clock = FakeClock()
    resolver = Resolver(monotonic=clock)
    resolved = resolve(resolver, "localhost")
    assert resolved.failure is None
    assert resolved.resolution.resolver == SYSTEM_RESOLVER
    assert "127.0.0.1" in resolved.resolution.addresses
    assert resolved.resolution.ttl is None
    clock.now += SYSTEM_TTL - 1
    assert resolve(resolver, "localhost").resolution is resolved.resolution  # still cached
    clock.now += 2
    assert resolve(resolver, "localhost").resolution is not resolved.resolution


def test_dns_server_answers_over_tcp_too(dns_server: DnsServer) -> None:
    dns_server.answer(APP, "127.0.0.28")
    query = dns.message.make_query(APP, "A")
    response = dns.query.tcp(query, dns_server.host, port=dns_server.port, timeout=2.0)
    assert [r.to_text() for r in response.answer[0]] == ["127.0.0.28"]
