"""The effective probe of a target (SPEC section 3) and how its certificate is judged (section 5).

Rules of this module:
- targets are built directly from the plan dataclasses: no files, no sockets;
- every expectation is a literal written in a table, taken from the SPEC, never computed by
  re-implementing the rules under test.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

import pytest

from probegate.config.effective import Decided, EffectiveProbe, TlsMode, effective_probe
from probegate.config.plan import (
    AddressKind,
    AddressPool,
    Certificate,
    Member,
    ProbeSpec,
    Protocol,
    Settings,
    StatusMatch,
    Target,
    TargetKey,
    Tier,
)

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet

IP_MEMBER = "127.0.0.11"
FQDN_MEMBER = "app-1.example.test"
SETTINGS_HOST = "site.example.test"
PROBE_HOST = "probe.example.test"
AUTH_CERT = Certificate(name="auth", ders=(b"x",))
ROOT_CERT = Certificate(name="root", ders=(b"r",))


class ProbeKind(StrEnum):
    DEFAULT = "default"  # the settings name no probe
    CUSTOM = "custom"


class HostMode(StrEnum):
    """Where the host name of a target comes from, named by the setting that selects it."""

    HOST_NAME = "hostName"
    PICK_ADDRESS = "pickHostNameFromBackendAddress"
    PICK_SETTINGS = "pickHostNameFromBackendHttpSettings"


# ------------------------------------------------------------------------ building targets


def member(kind: AddressKind, port: int | None = None, address: str | None = None) -> Member:
    default = IP_MEMBER if kind is AddressKind.IP else FQDN_MEMBER
    return Member(address=address or default, kind=kind, port=port)


def custom_probe(
    protocol: Protocol,
    *,
    host: str | None = PROBE_HOST,
    pick_from_settings: bool = False,
    port: int | None = None,
    match: StatusMatch | None = None,
    min_servers: int = 0,
) -> ProbeSpec:
    return ProbeSpec(
        name="health",
        protocol=protocol,
        host=host,
        path="/health",
        port=port,
        interval=10,
        timeout=5,
        unhealthy_threshold=2,
        pick_host_name_from_backend_http_settings=pick_from_settings,
        min_servers=min_servers,
        match=match or StatusMatch(ranges=((200, 399),), body=None),
    )


def settings(
    protocol: Protocol,
    *,
    port: int | None = None,
    host_name: str | None = None,
    pick_from_address: bool = False,
    probe: ProbeSpec | None = None,
    trusted_roots: tuple[Certificate, ...] = (),
    authentication_certificates: tuple[Certificate, ...] = (),
    insecure_skip_verify: bool = False,
) -> Settings:
    if port is None:
        port = 8443 if protocol is Protocol.HTTPS else 8080
    return Settings(
        name=f"settings-{protocol.value.lower()}",
        port=port,
        protocol=protocol,
        request_timeout=20,
        host_name=host_name,
        pick_host_name_from_backend_address=pick_from_address,
        path=None,
        probe=probe,
        cookie_based_affinity=False,
        affinity_cookie_name="ApplicationGatewayAffinity",
        draining=None,
        trusted_roots=trusted_roots,
        authentication_certificates=authentication_certificates,
        insecure_skip_verify=insecure_skip_verify,
    )


def target(item: Settings, server: Member) -> Target:
    """A target as compile.probe_targets makes it: traffic goes to the member port, else the settings'."""
    port = server.port or item.port
    shown = f"[{server.address}]" if ":" in server.address else server.address
    pool = AddressPool(name="pool", members=(server,))
    return Target(TargetKey(pool.name, item.name, f"{shown}:{port}"), pool, item, server, port)


def matrix_settings(tier: Tier, probe: ProbeKind, mode: HostMode, protocol: Protocol) -> Settings:
    """The settings of one matrix case, as the brief of this table describes them."""
    spec: ProbeSpec | None = None
    if probe is ProbeKind.CUSTOM:
        picks = mode is HostMode.PICK_SETTINGS
        spec = custom_probe(protocol, host=None if picks else PROBE_HOST, pick_from_settings=picks)
    host_name = None
    if mode is HostMode.HOST_NAME or (mode is HostMode.PICK_SETTINGS and probe is ProbeKind.CUSTOM):
        host_name = SETTINGS_HOST
    # v1 Https carries an authentication certificate, so the name check is active;
    # v2 Https carries no trusted roots, so the system store decides.
    auths = (AUTH_CERT,) if tier is Tier.V1 and protocol is Protocol.HTTPS else ()
    return settings(
        protocol,
        host_name=host_name,
        pick_from_address=mode is HostMode.PICK_ADDRESS,
        probe=spec,
        authentication_certificates=auths,
    )


# ------------------------------------------------------------------------ the full matrix


@dataclass(frozen=True, slots=True)
class Expected:
    host: str  # the Host header
    sni: str | None  # None: no server name sent
    verify_name: str | None  # None: the name is not checked
    port: int
    path: str


@dataclass(frozen=True, slots=True)
class Case:
    """One combination of the matrix: tier × probe × host mode × member × protocol."""

    tier: Tier
    probe: ProbeKind
    mode: HostMode
    kind: AddressKind
    protocol: Protocol

    @property
    def id(self) -> str:
        parts = (self.tier, self.probe, self.mode, self.kind, self.protocol.value.lower())
        return "-".join(parts)

    def effective(self) -> EffectiveProbe:
        item = matrix_settings(self.tier, self.probe, self.mode, self.protocol)
        return effective_probe(target(item, member(self.kind)), self.tier)


def case(combination: Case, expected: Expected) -> ParameterSet:
    return pytest.param(combination, expected, id=combination.id)


V1, V2 = Tier.V1, Tier.V2
DEFAULT, CUSTOM = ProbeKind.DEFAULT, ProbeKind.CUSTOM
HOST_NAME, PICK_ADDRESS, PICK_SETTINGS = (
    HostMode.HOST_NAME,
    HostMode.PICK_ADDRESS,
    HostMode.PICK_SETTINGS,
)
IP, FQDN = AddressKind.IP, AddressKind.FQDN
HTTP, HTTPS = Protocol.HTTP, Protocol.HTTPS

# fmt: off
MATRIX = [
    # v1, default probe: the Host header is always 127.0.0.1; SNI and the checked name are the
    # member's FQDN (none for IP members), Https only.
    case(Case(V1, DEFAULT, HOST_NAME, IP, HTTP), Expected("127.0.0.1", None, None, 8080, "/")),
    case(Case(V1, DEFAULT, HOST_NAME, IP, HTTPS), Expected("127.0.0.1", None, None, 8443, "/")),
    case(Case(V1, DEFAULT, HOST_NAME, FQDN, HTTP), Expected("127.0.0.1", None, None, 8080, "/")),
    case(Case(V1, DEFAULT, HOST_NAME, FQDN, HTTPS), Expected("127.0.0.1", "app-1.example.test", "app-1.example.test", 8443, "/")),
    case(Case(V1, DEFAULT, PICK_ADDRESS, IP, HTTP), Expected("127.0.0.1", None, None, 8080, "/")),
    case(Case(V1, DEFAULT, PICK_ADDRESS, IP, HTTPS), Expected("127.0.0.1", None, None, 8443, "/")),
    case(Case(V1, DEFAULT, PICK_ADDRESS, FQDN, HTTP), Expected("127.0.0.1", None, None, 8080, "/")),
    case(Case(V1, DEFAULT, PICK_ADDRESS, FQDN, HTTPS), Expected("127.0.0.1", "app-1.example.test", "app-1.example.test", 8443, "/")),
    case(Case(V1, DEFAULT, PICK_SETTINGS, IP, HTTP), Expected("127.0.0.1", None, None, 8080, "/")),
    case(Case(V1, DEFAULT, PICK_SETTINGS, IP, HTTPS), Expected("127.0.0.1", None, None, 8443, "/")),
    case(Case(V1, DEFAULT, PICK_SETTINGS, FQDN, HTTP), Expected("127.0.0.1", None, None, 8080, "/")),
    case(Case(V1, DEFAULT, PICK_SETTINGS, FQDN, HTTPS), Expected("127.0.0.1", "app-1.example.test", "app-1.example.test", 8443, "/")),
    # v1, custom probe: the Host header is probe.host, or the settings' hostName when the probe
    # picks it from the settings; SNI stays the member's FQDN.
    case(Case(V1, CUSTOM, HOST_NAME, IP, HTTP), Expected("probe.example.test", None, None, 8080, "/health")),
    case(Case(V1, CUSTOM, HOST_NAME, IP, HTTPS), Expected("probe.example.test", None, None, 8443, "/health")),
    case(Case(V1, CUSTOM, HOST_NAME, FQDN, HTTP), Expected("probe.example.test", None, None, 8080, "/health")),
    case(Case(V1, CUSTOM, HOST_NAME, FQDN, HTTPS), Expected("probe.example.test", "app-1.example.test", "app-1.example.test", 8443, "/health")),
    case(Case(V1, CUSTOM, PICK_ADDRESS, IP, HTTP), Expected("probe.example.test", None, None, 8080, "/health")),
    case(Case(V1, CUSTOM, PICK_ADDRESS, IP, HTTPS), Expected("probe.example.test", None, None, 8443, "/health")),
    case(Case(V1, CUSTOM, PICK_ADDRESS, FQDN, HTTP), Expected("probe.example.test", None, None, 8080, "/health")),
    case(Case(V1, CUSTOM, PICK_ADDRESS, FQDN, HTTPS), Expected("probe.example.test", "app-1.example.test", "app-1.example.test", 8443, "/health")),
    case(Case(V1, CUSTOM, PICK_SETTINGS, IP, HTTP), Expected("site.example.test", None, None, 8080, "/health")),
    case(Case(V1, CUSTOM, PICK_SETTINGS, IP, HTTPS), Expected("site.example.test", None, None, 8443, "/health")),
    case(Case(V1, CUSTOM, PICK_SETTINGS, FQDN, HTTP), Expected("site.example.test", None, None, 8080, "/health")),
    case(Case(V1, CUSTOM, PICK_SETTINGS, FQDN, HTTPS), Expected("site.example.test", "app-1.example.test", "app-1.example.test", 8443, "/health")),
    # v2, default probe: the settings' hostName, or the member's address when picked from it,
    # else 127.0.0.1; SNI is the settings' host name, else the member's FQDN, never an IP literal.
    case(Case(V2, DEFAULT, HOST_NAME, IP, HTTP), Expected("site.example.test", None, None, 8080, "/")),
    case(Case(V2, DEFAULT, HOST_NAME, IP, HTTPS), Expected("site.example.test", "site.example.test", "site.example.test", 8443, "/")),
    case(Case(V2, DEFAULT, HOST_NAME, FQDN, HTTP), Expected("site.example.test", None, None, 8080, "/")),
    case(Case(V2, DEFAULT, HOST_NAME, FQDN, HTTPS), Expected("site.example.test", "site.example.test", "site.example.test", 8443, "/")),
    case(Case(V2, DEFAULT, PICK_ADDRESS, IP, HTTP), Expected("127.0.0.11", None, None, 8080, "/")),
    case(Case(V2, DEFAULT, PICK_ADDRESS, IP, HTTPS), Expected("127.0.0.11", None, None, 8443, "/")),
    case(Case(V2, DEFAULT, PICK_ADDRESS, FQDN, HTTP), Expected("app-1.example.test", None, None, 8080, "/")),
    case(Case(V2, DEFAULT, PICK_ADDRESS, FQDN, HTTPS), Expected("app-1.example.test", "app-1.example.test", "app-1.example.test", 8443, "/")),
    case(Case(V2, DEFAULT, PICK_SETTINGS, IP, HTTP), Expected("127.0.0.1", None, None, 8080, "/")),
    case(Case(V2, DEFAULT, PICK_SETTINGS, IP, HTTPS), Expected("127.0.0.1", None, None, 8443, "/")),
    case(Case(V2, DEFAULT, PICK_SETTINGS, FQDN, HTTP), Expected("127.0.0.1", None, None, 8080, "/")),
    case(Case(V2, DEFAULT, PICK_SETTINGS, FQDN, HTTPS), Expected("127.0.0.1", "app-1.example.test", "app-1.example.test", 8443, "/")),
    # v2, custom probe: probe.host comes first for the Host header and SNI alike; a probe that
    # picks from the settings uses the settings' hostName for both.
    case(Case(V2, CUSTOM, HOST_NAME, IP, HTTP), Expected("probe.example.test", None, None, 8080, "/health")),
    case(Case(V2, CUSTOM, HOST_NAME, IP, HTTPS), Expected("probe.example.test", "probe.example.test", "probe.example.test", 8443, "/health")),
    case(Case(V2, CUSTOM, HOST_NAME, FQDN, HTTP), Expected("probe.example.test", None, None, 8080, "/health")),
    case(Case(V2, CUSTOM, HOST_NAME, FQDN, HTTPS), Expected("probe.example.test", "probe.example.test", "probe.example.test", 8443, "/health")),
    case(Case(V2, CUSTOM, PICK_ADDRESS, IP, HTTP), Expected("probe.example.test", None, None, 8080, "/health")),
    case(Case(V2, CUSTOM, PICK_ADDRESS, IP, HTTPS), Expected("probe.example.test", "probe.example.test", "probe.example.test", 8443, "/health")),
    case(Case(V2, CUSTOM, PICK_ADDRESS, FQDN, HTTP), Expected("probe.example.test", None, None, 8080, "/health")),
    case(Case(V2, CUSTOM, PICK_ADDRESS, FQDN, HTTPS), Expected("probe.example.test", "probe.example.test", "probe.example.test", 8443, "/health")),
    case(Case(V2, CUSTOM, PICK_SETTINGS, IP, HTTP), Expected("site.example.test", None, None, 8080, "/health")),
    case(Case(V2, CUSTOM, PICK_SETTINGS, IP, HTTPS), Expected("site.example.test", "site.example.test", "site.example.test", 8443, "/health")),
    case(Case(V2, CUSTOM, PICK_SETTINGS, FQDN, HTTP), Expected("site.example.test", None, None, 8080, "/health")),
    case(Case(V2, CUSTOM, PICK_SETTINGS, FQDN, HTTPS), Expected("site.example.test", "site.example.test", "site.example.test", 8443, "/health")),
]
# fmt: on


def test_matrix_covers_every_combination_once() -> None:
    combinations = [p.values[0] for p in MATRIX]
    wanted = {
        Case(*values)
        for values in itertools.product(Tier, ProbeKind, HostMode, AddressKind, Protocol)
    }
    assert len(combinations) == 48
    assert set(combinations) == wanted


@pytest.mark.parametrize(("combination", "expected"), MATRIX)
def test_effective_probe_matrix(combination: Case, expected: Expected) -> None:
    found = combination.effective()
    got = Expected(
        host=found.host.value,
        sni=found.sni.value,
        verify_name=found.verify_name.value,
        port=found.port.value,
        path=found.path.value,
    )
    assert got == expected
    assert found.protocol.value is combination.protocol
    assert found.method.value == "GET"


@pytest.mark.parametrize(("combination", "expected"), MATRIX)
def test_every_value_names_the_rule_that_decided_it(combination: Case, expected: Expected) -> None:
    found = combination.effective()
    decided = {
        f.name: getattr(found, f.name)
        for f in dataclasses.fields(EffectiveProbe)
        if isinstance(getattr(found, f.name), Decided)
    }
    assert len(decided) == 15  # every value but the target and the probe name
    empty = [name for name, value in decided.items() if not value.rule.strip()]
    assert empty == []


# ------------------------------------------------------------------------ port precedence


@pytest.mark.parametrize(
    ("tier", "probe_port", "member_port", "has_probe", "expected"),
    [
        pytest.param(Tier.V2, 9000, 8081, True, 9000, id="v2-probe-port-beats-member-port"),
        pytest.param(Tier.V2, 9000, None, True, 9000, id="v2-probe-port-beats-settings-port"),
        pytest.param(Tier.V2, None, 8081, True, 8081, id="v2-custom-member-port-beats-settings"),
        pytest.param(Tier.V2, None, None, True, 8080, id="v2-custom-settings-port"),
        pytest.param(Tier.V2, None, 8081, False, 8081, id="v2-default-member-port-overrides"),
        pytest.param(Tier.V2, None, None, False, 8080, id="v2-default-settings-port"),
        pytest.param(Tier.V1, None, 8081, True, 8081, id="v1-custom-member-port-beats-settings"),
        pytest.param(Tier.V1, None, None, True, 8080, id="v1-custom-settings-port"),
        pytest.param(Tier.V1, None, 8081, False, 8081, id="v1-default-member-port-overrides"),
        pytest.param(Tier.V1, None, None, False, 8080, id="v1-default-settings-port"),
        # probe.port is a v2 property: a v1 plan that still carries one does not use it
        pytest.param(Tier.V1, 9000, 8081, True, 8081, id="v1-ignores-probe-port"),
        pytest.param(Tier.V1, 9000, None, True, 8080, id="v1-ignores-probe-port-settings-port"),
    ],
)
def test_port_precedence(
    tier: Tier, probe_port: int | None, member_port: int | None, has_probe: bool, expected: int
) -> None:
    spec = custom_probe(Protocol.HTTP, port=probe_port) if has_probe else None
    found = effective_probe(
        target(
            settings(Protocol.HTTP, port=8080, probe=spec), member(AddressKind.FQDN, member_port)
        ),
        tier,
    )
    assert found.port.value == expected
    assert found.port.rule


# ------------------------------------------------------------------------ timing and match


@dataclass(frozen=True, slots=True)
class Timing:
    probe_name: str | None
    method: str
    interval: int
    timeout: int
    unhealthy_threshold: int
    min_servers: int
    match: StatusMatch


CUSTOM_MATCH = StatusMatch(ranges=((200, 200), (301, 302)), body="ready")


@pytest.mark.parametrize(
    ("tier", "probe", "expected"),
    [
        pytest.param(
            Tier.V1,
            ProbeKind.DEFAULT,
            Timing(None, "GET", 30, 30, 3, 0, StatusMatch(((200, 399),), None)),
            id="v1-default",
        ),
        pytest.param(
            Tier.V2,
            ProbeKind.DEFAULT,
            Timing(None, "GET", 30, 30, 3, 0, StatusMatch(((200, 399),), None)),
            id="v2-default",
        ),
        pytest.param(
            Tier.V1,
            ProbeKind.CUSTOM,
            Timing("health", "GET", 10, 5, 2, 1, StatusMatch(((200, 200), (301, 302)), "ready")),
            id="v1-custom",
        ),
        pytest.param(
            Tier.V2,
            ProbeKind.CUSTOM,
            Timing("health", "GET", 10, 5, 2, 1, StatusMatch(((200, 200), (301, 302)), "ready")),
            id="v2-custom",
        ),
    ],
)
def test_timing_and_match(tier: Tier, probe: ProbeKind, expected: Timing) -> None:
    spec = (
        custom_probe(Protocol.HTTP, match=CUSTOM_MATCH, min_servers=1)
        if probe is ProbeKind.CUSTOM
        else None
    )
    found = effective_probe(
        target(settings(Protocol.HTTP, probe=spec), member(AddressKind.IP)), tier
    )
    got = Timing(
        probe_name=found.probe_name,
        method=found.method.value,
        interval=found.interval.value,
        timeout=found.timeout.value,
        unhealthy_threshold=found.unhealthy_threshold.value,
        min_servers=found.min_servers.value,
        match=found.match.value,
    )
    assert got == expected


@pytest.mark.parametrize(
    ("status", "accepted"),
    [
        pytest.param(199, False, id="199"),
        pytest.param(200, True, id="200"),
        pytest.param(302, True, id="302"),
        pytest.param(399, True, id="399"),
        pytest.param(400, False, id="400"),
        pytest.param(503, False, id="503"),
    ],
)
def test_default_probe_accepts_200_to_399(status: int, accepted: bool) -> None:
    found = effective_probe(target(settings(Protocol.HTTP), member(AddressKind.IP)), Tier.V2)
    assert found.match.value.accepts(status) is accepted


# ------------------------------------------------------------------------ TLS mode


@pytest.mark.parametrize(
    ("tier", "item", "tls", "verify_name"),
    [
        pytest.param(
            Tier.V2,
            settings(Protocol.HTTPS, trusted_roots=(ROOT_CERT,)),
            TlsMode.TRUSTED_ROOTS,
            "app-1.example.test",
            id="v2-trusted-roots",
        ),
        pytest.param(
            Tier.V2,
            settings(Protocol.HTTPS),
            TlsMode.SYSTEM_STORE,
            "app-1.example.test",
            id="v2-system-store",
        ),
        pytest.param(
            Tier.V1,
            settings(Protocol.HTTPS, authentication_certificates=(AUTH_CERT,)),
            TlsMode.AUTHENTICATION_CERTIFICATES,
            "app-1.example.test",
            id="v1-authentication-certificates",
        ),
        pytest.param(
            Tier.V1,
            settings(Protocol.HTTPS),
            TlsMode.NOT_VALIDATED,
            None,
            id="v1-not-validated",
        ),
        pytest.param(
            Tier.V2,
            settings(Protocol.HTTPS, insecure_skip_verify=True),
            TlsMode.INSECURE_SKIP_VERIFY,
            None,
            id="v2-insecure-skip-verify",
        ),
        pytest.param(
            Tier.V2,
            settings(Protocol.HTTPS, trusted_roots=(ROOT_CERT,), insecure_skip_verify=True),
            TlsMode.INSECURE_SKIP_VERIFY,
            None,
            id="v2-insecure-skip-verify-beats-trusted-roots",
        ),
        pytest.param(
            Tier.V1,
            settings(Protocol.HTTPS, insecure_skip_verify=True),
            TlsMode.INSECURE_SKIP_VERIFY,
            None,
            id="v1-insecure-skip-verify",
        ),
        pytest.param(
            Tier.V1,
            settings(
                Protocol.HTTPS, authentication_certificates=(AUTH_CERT,), insecure_skip_verify=True
            ),
            TlsMode.INSECURE_SKIP_VERIFY,
            None,
            id="v1-insecure-skip-verify-beats-authentication-certificates",
        ),
        pytest.param(
            Tier.V2,
            replace(settings(Protocol.HTTPS), validate_sni=False),
            TlsMode.SYSTEM_STORE,
            None,
            id="v2-validate-sni-false-checks-the-chain-not-the-name",
        ),
        pytest.param(
            Tier.V2,
            replace(settings(Protocol.HTTPS, trusted_roots=(ROOT_CERT,)), validate_chain=False),
            TlsMode.NAME_ONLY,
            "app-1.example.test",
            id="v2-validate-chain-false-checks-the-name-only",
        ),
        pytest.param(
            Tier.V2,
            replace(settings(Protocol.HTTPS), validate_chain=False, validate_sni=False),
            TlsMode.NOT_VALIDATED,
            None,
            id="v2-both-switches-off-validates-nothing",
        ),
        pytest.param(
            Tier.V2,
            replace(settings(Protocol.HTTPS), sni_name="sni.example.test"),
            TlsMode.SYSTEM_STORE,
            "sni.example.test",
            id="v2-sni-name-is-the-expected-name",
        ),
        pytest.param(
            Tier.V2,
            replace(settings(Protocol.HTTPS, insecure_skip_verify=True), validate_chain=False),
            TlsMode.INSECURE_SKIP_VERIFY,
            None,
            id="v2-insecure-skip-verify-beats-the-switches",
        ),
        pytest.param(Tier.V2, settings(Protocol.HTTP), TlsMode.NONE, None, id="v2-http"),
        pytest.param(Tier.V1, settings(Protocol.HTTP), TlsMode.NONE, None, id="v1-http"),
        pytest.param(
            Tier.V2,
            settings(Protocol.HTTP, insecure_skip_verify=True),
            TlsMode.NONE,
            None,
            id="v2-http-insecure-skip-verify-is-still-no-tls",
        ),
    ],
)
def test_tls_mode(tier: Tier, item: Settings, tls: TlsMode, verify_name: str | None) -> None:
    found = effective_probe(target(item, member(AddressKind.FQDN)), tier)
    assert found.tls.value is tls
    assert found.tls.rule
    assert found.verify_name.value == verify_name


def test_sni_name_wins_over_the_probe_host_for_sni_not_for_host() -> None:
    """sniName is the server name sent and expected; the Host header still follows the probe."""
    probe = custom_probe(Protocol.HTTPS, host="probe.example.test")
    item = replace(settings(Protocol.HTTPS, probe=probe), sni_name="sni.example.test")
    found = effective_probe(target(item, member(AddressKind.IP)), Tier.V2)
    assert (found.sni.value, found.verify_name.value) == ("sni.example.test", "sni.example.test")
    assert "sniName" in found.sni.rule
    assert found.host.value == "probe.example.test"


def test_validate_sni_false_says_so_in_the_rule() -> None:
    item = replace(settings(Protocol.HTTPS), validate_sni=False)
    found = effective_probe(target(item, member(AddressKind.FQDN)), Tier.V2)
    assert found.sni.value == "app-1.example.test"  # still sent
    assert "validateSNI false" in found.verify_name.rule


# ------------------------------------------------------------------------ url


@pytest.mark.parametrize(
    ("item", "server", "url"),
    [
        pytest.param(
            settings(Protocol.HTTPS, probe=custom_probe(Protocol.HTTPS)),
            member(AddressKind.FQDN),
            "https://app-1.example.test:8443/health",
            id="fqdn-https-custom",
        ),
        pytest.param(
            settings(Protocol.HTTP),
            member(AddressKind.IP),
            "http://127.0.0.11:8080/",
            id="ip-http-default",
        ),
        pytest.param(
            settings(Protocol.HTTP),
            member(AddressKind.IP, address="::1"),
            "http://[::1]:8080/",
            id="ipv6-http-default",
        ),
        pytest.param(
            settings(Protocol.HTTPS, probe=custom_probe(Protocol.HTTPS)),
            member(AddressKind.IP, 9443, address="::1"),
            "https://[::1]:9443/health",
            id="ipv6-https-custom-member-port",
        ),
        pytest.param(
            settings(Protocol.HTTP),
            member(AddressKind.FQDN, 8081),
            "http://app-1.example.test:8081/",
            id="fqdn-http-default-member-port",
        ),
        pytest.param(
            settings(Protocol.HTTPS, probe=custom_probe(Protocol.HTTPS, port=9000)),
            member(AddressKind.FQDN, 8081),
            "https://app-1.example.test:9000/health",
            id="fqdn-https-v2-probe-port",
        ),
    ],
)
def test_url(item: Settings, server: Member, url: str) -> None:
    assert effective_probe(target(item, server), Tier.V2).url == url
