"""SPEC section 11, rows 1–18, 21 and 22: one real-socket test per scenario.

Each test starts a backend on 127.0.0.x built to misbehave one way, compiles a one-pool
configuration through the real loader, probes it with the real prober (runner, certificate check,
evaluation) until the threshold decides, and asserts the state, the reason code and that the
message names the facts an operator needs.

Certificates come from `tests/certs.py`, dated around its fixed `NOW`; the prober's wall clock is
set to that instant, so no test depends on today's date.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from probegate.config.compile import compile_plan
from probegate.config.effective import effective_probes
from probegate.config.load import load_document
from probegate.demo.backends import HttpBackend, TlsBackend
from probegate.demo.dnsserver import DnsServer
from probegate.demo.faults import GARBAGE, PARTIAL_HEAD, FullAcceptQueue, RawBytes, closed_port
from probegate.health import messages
from probegate.health.codes import Reason, State
from probegate.health.prober import Prober
from probegate.health.result import ProbeResult, WarningCode
from probegate.health.tlscheck import SystemStore
from probegate.i18n import Lang
from probegate.resolver import Resolver
from probegate.state.store import HealthStore
from tests.certs import DAY, NOW, YEAR, Issued, make, pki

THRESHOLD = 2


@dataclass
class Verdict:
    state: State
    reason: Reason
    message: str
    remedy: str
    result: ProbeResult


def pem(issued: Issued) -> bytes:
    return issued.cert.public_bytes(Encoding.PEM)


def key_pem(issued: Issued) -> bytes:
    return issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def b64(issued: Issued) -> str:
    return base64.b64encode(issued.der).decode()


def document(
    member: dict[str, Any],
    *,
    protocol: str = "Http",
    probe: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    sku: str = "Standard_v2",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    probe_item = {"name": "health", "protocol": protocol, "host": "app.example.test", "path": "/health",
                  "timeout": 2, "interval": 5, "unhealthyThreshold": THRESHOLD, **(probe or {})}  # fmt: skip
    return {
        "sku": sku,
        "httpListeners": [{"name": "front", "port": 8080, "protocol": "Http"}],
        "backendAddressPools": [{"name": "app", "backendAddresses": [member]}],
        "backendHttpSettingsCollection": [
            {
                "name": "app-settings",
                "port": 80,
                "protocol": protocol,
                "probe": "health",
                **(settings or {}),
            }
        ],
        "probes": [probe_item],
        "requestRoutingRules": [
            {
                "name": "all",
                "ruleType": "Basic",
                "httpListener": "front",
                "backendAddressPool": "app",
                "backendHttpSettings": "app-settings",
            }
        ],
        **(extra or {}),
    }


def at(address: str, port: int) -> dict[str, Any]:
    return {"ipAddress": address, "port": port}


def decide(
    doc: dict[str, Any], *, system_store: SystemStore | None = None, probes: int = THRESHOLD
) -> Verdict:
    """Probe the single target `probes` times through the store, as the scheduler would."""
    plan = compile_plan(load_document(doc, "scenario", Path.cwd()))
    (probe,) = effective_probes(plan)
    store = HealthStore(plan.tier, (probe,), monotonic=lambda: 0.0)
    prober = Prober(
        Resolver(plan.dns_servers),
        system_store=system_store or SystemStore(roots=[]),
        wall_clock=NOW.timestamp,
    )

    async def probe_n() -> ProbeResult:
        result = None
        for _ in range(probes):
            result = (await prober.probe(probe)).result
            store.record(probe.target.key, result)
        assert result is not None
        return result

    result = asyncio.run(probe_n())
    record = store.record_of(probe.target.key)
    assert record is not None
    facts = record.last_result.facts if record.last_result else {}
    return Verdict(
        record.state,
        record.reason,
        messages.message(record.reason, facts),
        messages.remedy(record.reason, facts),
        result,
    )


# ------------------------------------------------------------------------ plain HTTP rows


def test_row01_answers_200_is_healthy() -> None:
    with HttpBackend(200, b'{"status":"ok"}') as backend:
        verdict = decide(document(at(backend.host, backend.port)), probes=1)
    assert (verdict.state, verdict.reason) == (State.HEALTHY, Reason.SUCCESS)
    assert f"http://{backend.address}/health answered 200" in verdict.message
    assert backend.requests[0].header("host") == "app.example.test"
    assert (backend.requests[0].header("user-agent") or "").startswith("probegate-probe/")


def test_row02_redirect_is_a_healthy_status_not_followed() -> None:
    with HttpBackend(302, b"", headers=[("Location", "http://elsewhere.example.test/")]) as backend:
        verdict = decide(document(at(backend.host, backend.port)), probes=1)
    assert (verdict.state, verdict.reason) == (State.HEALTHY, Reason.SUCCESS)
    assert verdict.result.status == 302
    assert len(backend.requests) == 1  # the redirect was not followed


def test_row03_slow_answer_times_out_after_the_threshold() -> None:
    with HttpBackend(200, delay=3.0) as backend:
        doc = document(at(backend.host, backend.port), probe={"timeout": 1})
        first = decide(doc, probes=1)
        verdict = decide(doc, probes=THRESHOLD)
    assert first.state is State.UNKNOWN  # one failure of two: not decided yet
    assert first.reason is Reason.BACKEND_SERVER_TIMEOUT
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.BACKEND_SERVER_TIMEOUT)
    assert "probe timeout 1000 ms" in verdict.message
    assert backend.address in verdict.message


def test_row04_nxdomain_names_the_resolver() -> None:
    with DnsServer() as dns:
        dns.nxdomain("missing.example.test")
        doc = document({"fqdn": "missing.example.test"}, extra={"dnsServers": [dns.label]})
        verdict = decide(doc)
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.DNS_RESOLUTION_ERROR)
    assert dns.label in verdict.message
    assert "NXDOMAIN" in verdict.message
    assert "missing.example.test" in verdict.message


def test_row04_last_good_addresses_keep_a_member_healthy_with_a_warning() -> None:
    clock = [0.0]
    with DnsServer() as dns, HttpBackend(200) as backend:
        dns.answer("app-1.example.test", backend.host, ttl=30)
        doc = document(
            {"fqdn": "app-1.example.test", "port": backend.port}, extra={"dnsServers": [dns.label]}
        )
        plan = compile_plan(load_document(doc, "scenario", Path.cwd()))
        (probe,) = effective_probes(plan)
        prober = Prober(
            Resolver(plan.dns_servers, monotonic=lambda: clock[0]), wall_clock=NOW.timestamp
        )
        store = HealthStore(plan.tier, (probe,), monotonic=lambda: clock[0])

        async def twice() -> tuple[ProbeResult, ProbeResult]:
            before = (await prober.probe(probe)).result
            store.record(probe.target.key, before)
            dns.nxdomain("app-1.example.test")
            clock[0] = 31.0  # the TTL has run out: the resolver must ask again
            after = (await prober.probe(probe)).result
            store.record(probe.target.key, after)
            return before, after

        before, after = asyncio.run(twice())
    assert before.passed
    assert after.passed
    record = store.record_of(probe.target.key)
    assert record is not None
    assert record.state is State.HEALTHY
    (warning,) = after.warnings
    assert warning.code is WarningCode.DNS_LAST_GOOD
    text = messages.warning_text(warning.code, warning.facts)
    assert dns.label in text
    assert "NXDOMAIN" in text
    assert backend.host in text


def test_row05_nothing_listening_is_refused() -> None:
    port = closed_port()
    verdict = decide(document(at("127.0.0.1", port)))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.TCP_CONNECT_ERROR)
    assert f"127.0.0.1:{port}" in verdict.message
    assert "refused" in verdict.message


def test_row06_full_accept_queue_times_out() -> None:
    with FullAcceptQueue() as queue:
        verdict = decide(document(at(queue.host, queue.port), probe={"timeout": 1}))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.TCP_CONNECT_ERROR)
    assert "timed out" in verdict.message
    assert queue.address in verdict.message


@pytest.mark.parametrize(
    ("status", "remedy_words"),
    [
        pytest.param(401, "sends no credentials", id="401"),
        pytest.param(403, "forbids the probe", id="403"),
        pytest.param(404, "does not exist", id="404"),
        pytest.param(405, "always use GET", id="405"),
        pytest.param(500, "error log", id="500"),
        pytest.param(503, "unavailable", id="503"),
    ],
)
def test_row07_status_mismatch_names_expected_and_received(status: int, remedy_words: str) -> None:
    with HttpBackend(status, b"nope") as backend:
        verdict = decide(document(at(backend.host, backend.port)))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.HTTP_STATUS_CODE_MISMATCH)
    assert f"returned {status}; the probe expects 200-399" in verdict.message
    assert remedy_words in verdict.remedy


def test_row08_body_without_the_match_string() -> None:
    with HttpBackend(200, b'{"status":"degraded"}') as backend:
        doc = document(at(backend.host, backend.port), probe={"match": {"body": '"status":"ok"'}})
        verdict = decide(doc)
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.HTTP_RESPONSE_BODY_MISMATCH)
    assert '"status":"ok"' in verdict.message
    assert "degraded" in verdict.message


def test_row09_custom_match_accepts_401() -> None:
    with HttpBackend(401, b"login first") as backend:
        doc = document(at(backend.host, backend.port), probe={"match": {"statusCodes": ["401"]}})
        verdict = decide(doc, probes=1)
    assert (verdict.state, verdict.reason) == (State.HEALTHY, Reason.SUCCESS)


# ------------------------------------------------------------------------ TLS rows


@pytest.fixture
def private_ca() -> Any:
    return pki("Scenario")


def tls_doc(backend: TlsBackend, *, roots: list[Issued] | None = None, host: str = "app.example.test",
            sku: str = "Standard_v2", settings: dict[str, Any] | None = None,
            extra: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    extra = dict(extra or {})
    settings = dict(settings or {})
    if roots:
        extra["trustedRootCertificates"] = [
            {"name": f"root{i}", "data": b64(r)} for i, r in enumerate(roots)
        ]
        settings["trustedRootCertificates"] = [f"root{i}" for i in range(len(roots))]
    return document(at(backend.host, backend.port), protocol="Https", probe={"host": host},
                    settings=settings, sku=sku, extra=extra)  # fmt: skip


@pytest.fixture
def tls() -> Iterator[Any]:
    with ExitStack() as stack:

        def start(chain: list[Issued], key_of: Issued) -> TlsBackend:
            return stack.enter_context(TlsBackend([pem(c) for c in chain], key_pem(key_of)))

        yield start


def test_row10_self_signed_leaf_without_trusted_root(tls: Any) -> None:
    """The model's current guide: a self-signed certificate without CA:TRUE is taken for a leaf
    whose issuer is missing; the message says what it is, the remedy how to make a chain."""
    leaf = make("app.example.test", sans=("app.example.test",))
    backend = tls([leaf], leaf)
    verdict = decide(tls_doc(backend))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.INTERMEDIATE_MISSING)
    assert "CN=app.example.test" in verdict.message
    assert "self-signed but not a CA" in verdict.message
    assert "CA:TRUE" in verdict.remedy
    assert backend.server_names[0] == "app.example.test"


def test_private_root_presented_without_trusted_roots(tls: Any, private_ca: Any) -> None:
    """No trusted roots: the backend sends its own root, which the system store does not hold."""
    chain = [private_ca.leaf, private_ca.intermediate, private_ca.root]
    verdict = decide(tls_doc(tls(chain, private_ca.leaf)))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.CERTIFICATE_INVALID_CA)
    assert "CN=Scenario Root CA" in verdict.message
    assert "CN=app.example.test" in verdict.message


def test_intermediates_without_root_not_known_to_the_store(tls: Any, private_ca: Any) -> None:
    """No trusted roots: leaf and intermediate sent, the intermediate's issuer is not well known."""
    backend = tls([private_ca.leaf, private_ca.intermediate], private_ca.leaf)
    verdict = decide(tls_doc(backend))
    assert (verdict.state, verdict.reason) == (
        State.UNHEALTHY,
        Reason.INTERMEDIATE_NOT_WELL_KNOWN,
    )
    assert "CN=Scenario Issuing CA 1" in verdict.message  # the top intermediate
    assert "CN=Scenario Root CA" in verdict.message  # its issuer, the root to upload


def test_root_presented_is_none_of_the_uploaded(tls: Any, private_ca: Any) -> None:
    other = pki("Other")
    chain = [private_ca.leaf, private_ca.intermediate, private_ca.root]
    verdict = decide(tls_doc(tls(chain, private_ca.leaf), roots=[other.root]))
    assert (verdict.state, verdict.reason) == (
        State.UNHEALTHY,
        Reason.TRUSTED_ROOT_MISMATCH_ROOT_PRESENTED,
    )
    assert "CN=Scenario Root CA" in verdict.message
    assert "root0" in verdict.message


def test_no_leaf_in_the_presented_chain(tls: Any, private_ca: Any) -> None:
    """The server sends its intermediate and root but no certificate of its own."""
    backend = tls([private_ca.intermediate, private_ca.root], private_ca.intermediate)
    verdict = decide(tls_doc(backend, roots=[private_ca.root]))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.LEAF_MISSING)
    assert "CN=Scenario Issuing CA 1" in verdict.message
    assert "CN=Scenario Root CA" in verdict.message


def test_row11_private_ca_with_another_root_uploaded(tls: Any, private_ca: Any) -> None:
    other = pki("Other")
    backend = tls([private_ca.leaf, private_ca.intermediate], private_ca.leaf)
    verdict = decide(tls_doc(backend, roots=[other.root]))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.TRUSTED_ROOT_MISMATCH)
    assert "Scenario" in verdict.message
    assert "root0" in verdict.message


def test_row12_leaf_without_its_intermediate(tls: Any, private_ca: Any) -> None:
    backend = tls([private_ca.leaf], private_ca.leaf)
    verdict = decide(tls_doc(backend, roots=[private_ca.root]))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.INTERMEDIATE_MISSING)
    assert "CN=Scenario Issuing CA 1" in verdict.message  # the missing issuer, by name


def test_row13_intermediate_sent_first(tls: Any, private_ca: Any) -> None:
    backend = tls([private_ca.intermediate, private_ca.leaf], private_ca.intermediate)
    verdict = decide(tls_doc(backend, roots=[private_ca.root]))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.LEAF_NOT_TOPMOST)
    assert "Scenario Issuing CA 1" in verdict.message
    assert "app.example.test" in verdict.message


def test_row14_certificate_for_another_name(tls: Any, private_ca: Any) -> None:
    backend = tls([private_ca.leaf, private_ca.intermediate], private_ca.leaf)
    verdict = decide(tls_doc(backend, roots=[private_ca.root], host="shop.example.test"))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.NAME_MISMATCH)
    assert "shop.example.test" in verdict.message
    assert "app.example.test" in verdict.message


@pytest.mark.parametrize(
    ("not_before", "not_after", "words"),
    [
        pytest.param(NOW - YEAR, NOW - DAY, "expired", id="expired"),
        pytest.param(NOW + DAY, NOW + YEAR, "not yet valid", id="not-yet-valid"),
    ],
)
def test_row15_leaf_outside_its_dates(
    tls: Any, private_ca: Any, not_before: Any, not_after: Any, words: str
) -> None:
    leaf = make("app.example.test", issuer=private_ca.intermediate, sans=("app.example.test",),
                not_before=not_before, not_after=not_after, key_name="dated leaf")  # fmt: skip
    backend = tls([leaf, private_ca.intermediate], leaf)
    verdict = decide(tls_doc(backend, roots=[private_ca.root]))
    assert (verdict.state, verdict.reason) == (
        State.UNHEALTHY,
        Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID,
    )
    assert words in verdict.message
    assert not_after.date().isoformat() in verdict.message
    assert not_before.date().isoformat() in verdict.message


def test_row16_valid_chain_to_the_uploaded_root(tls: Any, private_ca: Any) -> None:
    backend = tls([private_ca.leaf, private_ca.intermediate], private_ca.leaf)
    verdict = decide(tls_doc(backend, roots=[private_ca.root]), probes=1)
    assert (verdict.state, verdict.reason) == (State.HEALTHY, Reason.SUCCESS)
    assert verdict.result.warnings == ()


def test_row16_well_known_ca_through_the_system_store(tls: Any, private_ca: Any) -> None:
    backend = tls([private_ca.leaf, private_ca.intermediate], private_ca.leaf)
    store = SystemStore(roots=[private_ca.root.der])  # stands in for the platform's CA bundle
    verdict = decide(tls_doc(backend), system_store=store, probes=1)
    assert (verdict.state, verdict.reason) == (State.HEALTHY, Reason.SUCCESS)


def test_row17_plain_http_on_an_https_setting() -> None:
    with HttpBackend(200) as backend:
        doc = document(at(backend.host, backend.port), protocol="Https")
        verdict = decide(doc)
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.TLS_HANDSHAKE_ERROR)
    assert backend.address in verdict.message


@pytest.mark.parametrize(
    "data",
    [pytest.param(GARBAGE, id="garbage"), pytest.param(PARTIAL_HEAD, id="closes-before-headers")],
)
def test_row18_garbage_or_early_close(data: bytes) -> None:
    with RawBytes(data) as backend:
        verdict = decide(document(at(backend.host, backend.port)))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.INVALID_HTTP_RESPONSE)
    assert backend.address in verdict.message


def test_row21_v1_authentication_certificate_differs(tls: Any, private_ca: Any) -> None:
    backend = tls([private_ca.leaf, private_ca.intermediate], private_ca.leaf)
    expected = make("app.example.test", sans=("app.example.test",), key_name="another leaf")
    doc = tls_doc(
        backend,
        sku="Standard",
        settings={"authenticationCertificates": ["expected"]},
        extra={"authenticationCertificates": [{"name": "expected", "data": b64(expected)}]},
    )
    verdict = decide(doc)
    assert (verdict.state, verdict.reason) == (
        State.UNHEALTHY,
        Reason.AUTHENTICATION_CERTIFICATE_MISMATCH,
    )
    assert "CN=app.example.test" in verdict.message
    assert "expected" in verdict.message


def test_row22_leaf_expiring_in_five_days(tls: Any, private_ca: Any) -> None:
    leaf = make("app.example.test", issuer=private_ca.intermediate, sans=("app.example.test",),
                not_after=NOW + 5 * DAY, key_name="short leaf")  # fmt: skip
    backend = tls([leaf, private_ca.intermediate], leaf)
    verdict = decide(tls_doc(backend, roots=[private_ca.root]), probes=1)
    assert (verdict.state, verdict.reason) == (State.HEALTHY, Reason.SUCCESS)
    (warning,) = verdict.result.warnings
    assert warning.code is WarningCode.CERTIFICATE_EXPIRING
    text = messages.warning_text(warning.code, warning.facts)
    assert "5 days left" in text
    assert "app.example.test" in text
    korean = messages.warning_text(warning.code, warning.facts, Lang.KO)
    assert "5일 남음" in korean


# ------------------------------------------------ the model's backend TLS switches (v2)


def test_validate_chain_false_accepts_any_chain_with_the_right_name(tls: Any) -> None:
    """validateCertChainAndExpiry false: a self-signed, expired certificate passes on its name,
    and the target says the check is off."""
    leaf = make("app.example.test", sans=("app.example.test",), not_after=NOW - DAY,
                key_name="old self-signed")  # fmt: skip
    backend = tls([leaf], leaf)
    doc = tls_doc(backend, settings={"validateCertChainAndExpiry": False})
    verdict = decide(doc, probes=1)
    assert (verdict.state, verdict.reason) == (State.HEALTHY, Reason.SUCCESS)
    codes = [w.code for w in verdict.result.warnings]  # the expired leaf is still said
    assert codes == [WarningCode.CHAIN_NOT_VALIDATED, WarningCode.CERTIFICATE_EXPIRING]
    assert backend.server_names[0] == "app.example.test"


def test_validate_chain_false_still_checks_the_name(tls: Any) -> None:
    leaf = make("shop.example.test", sans=("shop.example.test",))
    backend = tls([leaf], leaf)
    verdict = decide(tls_doc(backend, settings={"validateCertChainAndExpiry": False}))
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.NAME_MISMATCH)
    assert [w.code for w in verdict.result.warnings] == [WarningCode.CHAIN_NOT_VALIDATED]


def test_validate_sni_false_accepts_another_name_on_a_trusted_chain(
    tls: Any, private_ca: Any
) -> None:
    leaf = make("shop.example.test", issuer=private_ca.intermediate, sans=("shop.example.test",),
                key_name="shop leaf")  # fmt: skip
    backend = tls([leaf, private_ca.intermediate], leaf)
    doc = tls_doc(backend, roots=[private_ca.root], settings={"validateSNI": False})
    verdict = decide(doc, probes=1)
    assert (verdict.state, verdict.reason) == (State.HEALTHY, Reason.SUCCESS)
    assert [w.code for w in verdict.result.warnings] == [WarningCode.NAME_NOT_VALIDATED]
    assert backend.server_names[0] == "app.example.test"  # the SNI is still sent


def test_validate_sni_false_still_checks_the_chain(tls: Any, private_ca: Any) -> None:
    other = pki("Other")
    backend = tls([private_ca.leaf, private_ca.intermediate], private_ca.leaf)
    doc = tls_doc(backend, roots=[other.root], settings={"validateSNI": False})
    verdict = decide(doc)
    assert (verdict.state, verdict.reason) == (State.UNHEALTHY, Reason.TRUSTED_ROOT_MISMATCH)


def test_sni_name_is_sent_and_expected(tls: Any, private_ca: Any) -> None:
    """sniName: the server name sent and checked; the probe's Host header is unchanged."""
    leaf = make("sni.example.test", issuer=private_ca.intermediate, sans=("sni.example.test",),
                key_name="sni leaf")  # fmt: skip
    backend = tls([leaf, private_ca.intermediate], leaf)
    doc = tls_doc(backend, roots=[private_ca.root], settings={"sniName": "sni.example.test"})
    verdict = decide(doc, probes=1)
    assert (verdict.state, verdict.reason) == (State.HEALTHY, Reason.SUCCESS)
    assert backend.server_names[0] == "sni.example.test"
    assert backend.requests[0].header("host") == "app.example.test"
    wrong = decide(
        tls_doc(backend, roots=[private_ca.root], settings={"sniName": "x.example.test"})
    )
    assert (wrong.state, wrong.reason) == (State.UNHEALTHY, Reason.NAME_MISMATCH)
    assert "x.example.test" in wrong.message


def test_a_chain_that_cannot_be_judged_is_a_verification_failure_not_a_crash(
    tls: Any, private_ca: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(*_: object, **__: object) -> None:
        raise ValueError("Duplicate 2.5.29.17 extension found")

    monkeypatch.setattr("probegate.health.prober.check_chain", unreadable)
    backend = tls([private_ca.leaf, private_ca.intermediate], private_ca.leaf)
    verdict = decide(tls_doc(backend, roots=[private_ca.root]), probes=1)
    assert verdict.reason is Reason.CERTIFICATE_VERIFICATION_FAILED
    assert "Duplicate 2.5.29.17 extension found" in verdict.message
