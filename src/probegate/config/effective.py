"""The effective probe of each target (SPEC section 3), every value with the rule that decided it.

Rules of this module:
- pure functions of the compiled plan; no pydantic, no I/O;
- each value is a `Decided` (value + the rule, in words an operator can check against the docs),
  so `probegate explain` and the prober can never disagree: the prober runs exactly this.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, Generic, TypeVar

from probegate.config.plan import (
    DEFAULT_MATCH,
    GatewayPlan,
    Protocol,
    Settings,
    StatusMatch,
    Target,
    Tier,
)
from probegate.config.syntax import is_ip

T = TypeVar("T")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_INTERVAL = 30
DEFAULT_TIMEOUT = 30
DEFAULT_THRESHOLD = 3


class TlsMode(StrEnum):
    """How a target's certificate is judged."""

    NONE = "none"  # Http: no TLS
    TRUSTED_ROOTS = "trusted-roots"  # v2, roots uploaded on the settings
    SYSTEM_STORE = "system-store"  # v2, no roots uploaded: well-known CAs
    AUTHENTICATION_CERTIFICATES = "authentication-certificates"  # v1 exact leaf match
    NOT_VALIDATED = "not-validated"  # v1 without authentication certificates, as the model does
    # v2 with validateCertChainAndExpiry false: only the name (when validateSNI is on) is checked
    NAME_ONLY = "name-only"
    INSECURE_SKIP_VERIFY = "insecure-skip-verify"  # probegate extension, lab use


@dataclass(frozen=True, slots=True)
class Decided(Generic[T]):
    value: T
    rule: str


@dataclass(frozen=True, slots=True)
class EffectiveProbe:
    target: Target
    probe_name: str | None  # None: the default probe
    method: Decided[str]
    protocol: Decided[Protocol]
    port: Decided[int]
    path: Decided[str]
    host: Decided[str]  # the Host header
    sni: Decided[str | None]  # None: no server name sent
    verify_name: Decided[str | None]  # None: the name is not checked
    tls: Decided[TlsMode]
    interval: Decided[int]
    timeout: Decided[int]
    unhealthy_threshold: Decided[int]
    min_servers: Decided[int]
    match: Decided[StatusMatch]
    healthy_threshold: Decided[int] = Decided(1, "default: 1 pass (the model's behaviour)")
    headers: Decided[tuple[tuple[str, str], ...]] = Decided((), "default: none")

    @property
    def url(self) -> str:
        """Where the probe connects, with the path it asks for (the Host header is separate)."""
        address = self.target.member.address
        shown = f"[{address}]" if ":" in address else address
        # a StrEnum member is its own value (`.value` is a property in Python code: per probe)
        return f"{self.protocol.value.lower()}://{shown}:{self.port.value}{self.path.value}"


_DECIDED_FIELDS = tuple(
    f.name for f in fields(EffectiveProbe) if f.name not in ("target", "probe_name")
)


def identity(probe: EffectiveProbe) -> tuple[object, ...]:
    """What makes two probes the same probe: a reload keeps the state of a target whose identity
    is unchanged (other members joining the pool, or a new request timeout, do not reset it)."""
    settings = probe.target.settings
    return (
        probe.target.key,
        probe.target.member,
        probe.method,
        probe.protocol,
        probe.port,
        probe.path,
        probe.host,
        probe.sni,
        probe.verify_name,
        probe.tls,
        probe.interval,
        probe.timeout,
        probe.unhealthy_threshold,
        probe.healthy_threshold,
        probe.headers,
        probe.min_servers,
        probe.match,
        settings.trusted_roots,
        settings.authentication_certificates,
    )


def destination(probe: EffectiveProbe) -> tuple[object, ...]:
    """Where a target's live traffic goes and how it is trusted: a reload that changes this
    replaces the target (its old verdict says nothing of the new destination), while a change of
    only the probe (path, host of an Http probe, match, timing) keeps it, warming up."""
    target = probe.target
    settings = target.settings
    https = settings.protocol is Protocol.HTTPS
    return (
        target.key,
        target.member,
        target.port,
        settings.protocol,
        probe.sni.value if https else None,
        probe.tls.value,
        settings.trusted_roots,
        settings.authentication_certificates,
    )


def effective_probes(plan: GatewayPlan) -> tuple[EffectiveProbe, ...]:
    """Every target's effective probe. Equal decisions are one shared object: the targets of one
    probe hold one set of values and rules instead of 16 `Decided` (and their rule strings) each,
    ~1.2 KB a target at 10,000 targets."""
    shared: dict[Decided[Any], Decided[Any]] = {}
    return tuple(_sharing(effective_probe(t, plan.tier), shared) for t in plan.targets)


def _sharing(probe: EffectiveProbe, shared: dict[Decided[Any], Decided[Any]]) -> EffectiveProbe:
    decided: dict[str, Any] = {}
    for name in _DECIDED_FIELDS:
        own = getattr(probe, name)
        try:
            decided[name] = shared.setdefault(own, own)
        except TypeError:  # a value that cannot be hashed stays the target's own
            decided[name] = own
    return replace(probe, **decided)


def effective_probe(target: Target, tier: Tier) -> EffectiveProbe:
    settings = target.settings
    probe = settings.probe
    sni = _sni(target, tier)
    if probe is None:
        protocol = Decided(settings.protocol, "default probe: the settings' protocol")
        path = Decided("/", "default probe: always /")
        interval = Decided(DEFAULT_INTERVAL, "default probe: 30 s")
        timeout = Decided(DEFAULT_TIMEOUT, "default probe: 30 s")
        threshold = Decided(DEFAULT_THRESHOLD, "default probe: 3")
        rise = Decided(1, "default probe: 1 pass (the model's behaviour)")
        headers: Decided[tuple[tuple[str, str], ...]] = Decided((), "default probe: none")
        min_servers = Decided(0, "default probe: 0")
        match = Decided(DEFAULT_MATCH, "default probe: status 200-399")
    else:
        named = f"probe '{probe.name}'"
        protocol = Decided(probe.protocol, f"{named}: protocol")
        path = Decided(probe.path, f"{named}: path")
        interval = Decided(probe.interval, f"{named}: interval")
        timeout = Decided(probe.timeout, f"{named}: timeout")
        threshold = Decided(probe.unhealthy_threshold, f"{named}: unhealthyThreshold")
        rise = Decided(probe.healthy_threshold, f"{named}: healthyThreshold")
        headers = Decided(probe.headers, f"{named}: headers" if probe.headers else f"{named}: none")
        min_servers = Decided(probe.min_servers, f"{named}: minServers")
        rule = f"{named}: match" + (" (status and body)" if probe.match.body else "")
        match = Decided(probe.match, rule)
    return EffectiveProbe(
        target=target,
        probe_name=probe.name if probe else None,
        method=Decided("GET", "probes always use GET"),
        protocol=protocol,
        port=_port(target, tier),
        path=path,
        host=_host_header(target, tier),
        sni=sni,
        verify_name=_verify_name(target, tier, sni, protocol.value),
        tls=_tls_mode(settings, tier, protocol.value),
        interval=interval,
        timeout=timeout,
        unhealthy_threshold=threshold,
        min_servers=min_servers,
        match=match,
        healthy_threshold=rise,
        headers=headers,
    )


def _port(target: Target, tier: Tier) -> Decided[int]:
    probe, member = target.settings.probe, target.member
    if probe is not None and probe.port is not None and tier is Tier.V2:
        return Decided(probe.port, f"probe '{probe.name}': port (v2)")
    if member.port is not None:
        return Decided(member.port, "the member's own port (probegate extension)")
    return Decided(target.settings.port, f"settings '{target.settings.name}': port")


def _settings_host(target: Target) -> Decided[str] | None:
    """The host name the settings give: `hostName`, or the member's address when picked from it."""
    settings = target.settings
    if settings.host_name is not None:
        return Decided(settings.host_name, f"settings '{settings.name}': hostName")
    if settings.pick_host_name_from_backend_address:
        return Decided(
            target.member.address,
            f"settings '{settings.name}': pickHostNameFromBackendAddress (the member's address)",
        )
    return None


def _host_header(target: Target, tier: Tier) -> Decided[str]:
    probe = target.settings.probe
    if probe is not None:
        if probe.host is not None:
            return Decided(probe.host, f"probe '{probe.name}': host")
        picked = _settings_host(target)
        assert picked is not None
        return Decided(
            picked.value,
            f"probe '{probe.name}': pickHostNameFromBackendHttpSettings → {picked.rule}",
        )
    if tier is Tier.V1:
        return Decided(DEFAULT_HOST, "v1 default probe: always 127.0.0.1")
    picked = _settings_host(target)
    if picked is not None:
        return Decided(picked.value, f"v2 default probe: {picked.rule}")
    return Decided(DEFAULT_HOST, "v2 default probe: 127.0.0.1 (the settings give no host name)")


def _sni(target: Target, tier: Tier) -> Decided[str | None]:
    settings, member = target.settings, target.member
    protocol = settings.probe.protocol if settings.probe is not None else settings.protocol
    if protocol is Protocol.HTTP:
        return Decided(None, "Http: no TLS")
    if tier is Tier.V1:
        if member.is_ip:
            return Decided(None, "v1: the member is an IP address, no SNI")
        return Decided(member.address, "v1: the member's FQDN")
    if settings.sni_name is not None:
        return Decided(settings.sni_name, f"v2: settings '{settings.name}': sniName")
    chosen = _v2_name(target)
    if chosen is None:
        return Decided(None, "v2: no probe host, settings host name or member FQDN applies, no SNI")
    if is_ip(chosen.value):
        return Decided(None, f"v2: {chosen.rule} is an IP literal, no SNI")
    return Decided(chosen.value, f"v2: {chosen.rule}")


def _v2_name(target: Target) -> Decided[str] | None:
    probe, member = target.settings.probe, target.member
    if probe is not None and probe.host is not None:
        return Decided(probe.host, f"probe '{probe.name}': host")
    picked = _settings_host(target)
    if picked is not None:
        return picked
    if not member.is_ip:
        return Decided(member.address, "the member's FQDN")
    return None


def _verify_name(
    target: Target, tier: Tier, sni: Decided[str | None], protocol: Protocol
) -> Decided[str | None]:
    settings = target.settings
    if protocol is Protocol.HTTP:
        return Decided(None, "Http: no TLS")
    if settings.insecure_skip_verify:
        return Decided(None, "insecureSkipVerify: nothing is verified")
    if tier is Tier.V1 and not settings.authentication_certificates:
        return Decided(
            None, "v1 without authentication certificates: the certificate is not validated"
        )
    if tier is Tier.V2 and not settings.validate_sni:
        return Decided(
            None, f"settings '{settings.name}': validateSNI false: the name is not checked"
        )
    if sni.value is None:
        return Decided(None, "no server name applies: chain and dates are checked, not the name")
    return Decided(sni.value, "the certificate must match the SNI name")


def _tls_mode(settings: Settings, tier: Tier, protocol: Protocol) -> Decided[TlsMode]:
    if protocol is Protocol.HTTP:
        return Decided(TlsMode.NONE, "Http: no TLS")
    if settings.insecure_skip_verify:
        return Decided(
            TlsMode.INSECURE_SKIP_VERIFY,
            f"settings '{settings.name}': insecureSkipVerify (lab use only)",
        )
    if tier is Tier.V1:
        if settings.authentication_certificates:
            names = ", ".join(c.name for c in settings.authentication_certificates)
            return Decided(TlsMode.AUTHENTICATION_CERTIFICATES, f"v1: leaf must be one of {names}")
        return Decided(TlsMode.NOT_VALIDATED, "v1 without authentication certificates")
    if not settings.validate_chain:
        named = f"settings '{settings.name}': validateCertChainAndExpiry false"
        if not settings.validate_sni:
            return Decided(
                TlsMode.NOT_VALIDATED, f"{named} and validateSNI false: nothing is verified"
            )
        return Decided(TlsMode.NAME_ONLY, f"{named}: chain, trust and dates are not checked")
    if settings.trusted_roots:
        names = ", ".join(c.name for c in settings.trusted_roots)
        return Decided(TlsMode.TRUSTED_ROOTS, f"v2: chain must end in {names}")
    return Decided(TlsMode.SYSTEM_STORE, "v2 without trusted roots: a well-known CA (system store)")
