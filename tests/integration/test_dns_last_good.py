"""Last good addresses across reloads, over real sockets: a gateway whose DNS server stops
answering keeps probing (and routing to) the addresses it had, through any reload that keeps
`dnsServers` — the model clears them on every configuration update, probegate deliberately does
not. A reload that replaces the resolver drops them; a name the new one cannot answer is then
Unknown / dns-last-good-addresses-lost (the model's "updates to the DNS entries" case), not a
verdict on the backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from probegate.demo.backends import HttpBackend, wait_until
from probegate.demo.dnsserver import DnsServer
from probegate.health import messages
from probegate.health.codes import Reason, State
from probegate.health.result import WarningCode
from probegate.health.transitions import Record
from probegate.i18n import Lang
from tests.integration.proxykit import RunningGateway, config, free_port, get

NAME = "app.lastgood.test"


def _document(port: int, backend: HttpBackend, dns: DnsServer) -> dict[str, Any]:
    document = config(port, {"web": []}, extra={"dnsServers": [dns.label]})
    document["backendAddressPools"][0]["backendAddresses"] = [{"fqdn": NAME, "port": backend.port}]
    return document


def _record(gw: RunningGateway) -> Record:
    assert gw.gateway is not None
    (probe,) = gw.gateway.store.probes
    record = gw.gateway.store.record_of(probe.target.key)
    assert record is not None
    return record


def test_last_good_addresses_survive_a_reload_and_are_lost_with_the_resolver(
    tmp_path: Path,
) -> None:
    with (
        HttpBackend(200, b"up") as backend,
        DnsServer("127.0.0.53") as first,
        DnsServer("127.0.0.54") as second,
    ):
        first.answer(NAME, backend.host, ttl=1)
        second.nxdomain(NAME)
        port = free_port()
        document = _document(port, backend, first)
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            first.nxdomain(NAME)
            document["probes"][0]["path"] = "/health?again"  # a real change, same dnsServers
            assert gw.reload(document) == []

            def kept() -> bool:
                last = _record(gw).last_result
                return last is not None and any(
                    w.code is WarningCode.DNS_LAST_GOOD for w in last.warnings
                )

            wait_until(kept, 10, "a probe on the last good address after the reload")
            assert _record(gw).state is State.HEALTHY
            assert get(port).body == b"up"

            document["dnsServers"] = [second.label]
            assert gw.reload(document) == []
            wait_until(lambda: _record(gw).state is State.UNKNOWN, 10, "the addresses to be lost")
            record = _record(gw)
            # routes are published once per loop turn after a change: wait for that turn
            wait_until(lambda: gw.routable("web") == 0, 5, "the change to be published")
            assert get(port).status == 502
    assert record.reason is Reason.DNS_LAST_GOOD_LOST
    assert record.last_result is not None
    facts = record.last_result.facts
    message = messages.message(record.reason, facts)
    assert first.label in message  # the resolver that had answered
    assert second.label in message  # the one asked now, and its answer
    assert "NXDOMAIN" in message
    assert NAME in messages.remedy(record.reason, facts)
    assert first.label in messages.message(record.reason, facts, Lang.KO)
