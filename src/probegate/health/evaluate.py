"""Observation → result: which reason decides one probe, and the facts that back it (SPEC section 4).

Rules of this module:
- a pure function of what the runner saw, the effective probe and the certificate verdict;
- phases are judged in order — resolve, connect, TLS handshake, certificate, response, status,
  body — and the first failure decides; nothing later can hide an earlier failure;
- every fact a message names is put here, as text, under the key `messages.py` uses.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from probegate.config.effective import EffectiveProbe, TlsMode
from probegate.config.plan import StatusMatch
from probegate.health.codes import SUCCESS, Reason
from probegate.health.observation import Failure, Observation, Phase
from probegate.health.result import HealthWarning, ProbeResult, WarningCode
from probegate.health.tlscheck import CertVerdict

EXCERPT_CHARS = 120

_DNS = {Failure.DNS_NXDOMAIN, Failure.DNS_NO_RECORDS, Failure.DNS_TIMEOUT, Failure.DNS_ERROR}
_CONNECT = {
    Failure.CONNECT_REFUSED,
    Failure.CONNECT_TIMEOUT,
    Failure.CONNECT_RESET,
    Failure.CONNECT_UNREACHABLE,
}
_HANDSHAKE = {Failure.TLS_HANDSHAKE, Failure.TLS_TIMEOUT}
_BROKEN_RESPONSE = {Failure.RESPONSE_CLOSED, Failure.RESPONSE_MALFORMED}
# v2 Https modes where the model's switches apply (both off is NOT_VALIDATED)
_V2_VALIDATED = {
    TlsMode.TRUSTED_ROOTS,
    TlsMode.SYSTEM_STORE,
    TlsMode.NAME_ONLY,
    TlsMode.NOT_VALIDATED,
}

_SKIP_VERIFY: Final = TlsMode.INSECURE_SKIP_VERIFY  # read per probe: see `codes.SUCCESS`


@dataclass(slots=True)
class Outcome:
    """One probe's end: what was seen, the certificate's verdict, and the result. A value by
    convention (never assigned after `__init__`), made here so that the compiled build makes it
    with a compiled `__init__` (observation.py says why)."""

    observation: Observation
    certificate: CertVerdict | None
    result: ProbeResult

    def __init__(
        self, observation: Observation, certificate: CertVerdict | None, result: ProbeResult
    ) -> None:
        self.observation = observation
        self.certificate = certificate
        self.result = result


def evaluate(
    observation: Observation, probe: EffectiveProbe, certificate: CertVerdict | None
) -> ProbeResult:
    facts = _base_facts(observation, probe)
    reason = _decide(observation, probe, certificate, facts)
    if reason is SUCCESS:
        warnings = _warnings(observation, probe, certificate)
    else:
        warnings = checks_off(probe)  # flagged, pass or fail
    return ProbeResult(
        reason=reason,
        facts=facts,
        at=observation.started_at,
        duration_ms=_tenths(observation.duration_ms),
        phases_ms={_NAMES[phase]: _tenths(ms) for phase, ms in observation.timings_ms.items()},
        status=observation.http.status if observation.http else None,
        warnings=warnings,
        certificate_expiry=_earliest_expiry(certificate),
    )


# The texts below are made once and shared by every result that holds them: the record of each
# of 10,000 targets keeps its last result whole, so a text of its own per result is ~50 bytes ×
# each fact × each target.
_NAMES = {phase: phase.value for phase in Phase}  # an enum's .value is a property: slow per probe


def _tenths(ms: float) -> float:
    """A duration to a tenth of a millisecond. `round(ms, 1)` makes an exact decimal conversion
    (~1,500 instructions; five per probe were 5 % of one); durations are never negative, and a
    tie rounds up here where round() may go either way: no reader can tell."""
    return int(ms * 10.0 + 0.5) / 10


@functools.lru_cache(maxsize=4096)
def _text(number: int) -> str:
    return str(number)


@functools.lru_cache(maxsize=1024)
def _short_excerpt(body: bytes) -> str:
    return excerpt(body)


_DESCRIBED: dict[tuple[tuple[int, int], ...], str] = {}


def _described(match: StatusMatch) -> str:
    """Words of a match, made once per distinct match rather than once per probe (keyed by its
    ranges, which are all the words depend on: a tuple hashes in C, the dataclass in Python)."""
    found = _DESCRIBED.get(match.ranges)
    if found is None:
        if len(_DESCRIBED) >= 256:
            _DESCRIBED.clear()
        found = _DESCRIBED[match.ranges] = match.describe()
    return found


def _decide(
    observation: Observation,
    probe: EffectiveProbe,
    certificate: CertVerdict | None,
    facts: dict[str, str],
) -> Reason:
    failure = observation.failure
    if failure in _DNS:
        lost = observation.resolution is not None and observation.resolution.resolved_before
        return Reason.DNS_LAST_GOOD_LOST if lost else Reason.DNS_RESOLUTION_ERROR
    if failure in _CONNECT:
        return Reason.TCP_CONNECT_ERROR
    if failure in _HANDSHAKE:
        return Reason.TLS_HANDSHAKE_ERROR
    if certificate is not None and certificate.reason is not SUCCESS:
        facts.update(certificate.facts)
        return certificate.reason
    if failure is Failure.RESPONSE_TIMEOUT:
        return Reason.BACKEND_SERVER_TIMEOUT
    if failure in _BROKEN_RESPONSE or observation.http is None:
        return Reason.INVALID_HTTP_RESPONSE
    match = probe.match.value
    if not match.accepts(observation.http.status):
        return Reason.HTTP_STATUS_CODE_MISMATCH
    if match.body is not None and match.body.encode() not in observation.http.body:
        return Reason.HTTP_RESPONSE_BODY_MISMATCH
    return SUCCESS


def _base_facts(observation: Observation, probe: EffectiveProbe) -> dict[str, str]:
    target = probe.target
    facts = {
        "url": probe.url,
        "server": target.key.server,
        "address": observation.connected_to or target.key.server,
        "path": probe.path.value,
        "host": probe.host.value,
        "timeout_ms": _text(probe.timeout.value * 1000),
        # round() and the `.0f` format both round the exact value half to even: the same text
        "duration_ms": _text(round(observation.duration_ms)),
        "expected": _described(probe.match.value),
        "detail": observation.detail or "no detail",
    }
    if observation.resolution is not None:
        facts.update(_resolution_facts(observation, target.member.address))
    http = observation.http
    if http is not None:  # set one by one: no second dict per probe
        facts["status"] = facts["received"] = _text(http.status)
        facts["reason_phrase"] = http.reason
        facts["expected_body"] = probe.match.value.body or ""
        body = http.body
        facts["excerpt"] = _short_excerpt(body) if len(body) <= 64 else excerpt(body)
    return facts


def _resolution_facts(observation: Observation, name: str) -> dict[str, str]:
    resolution = observation.resolution
    assert resolution is not None
    host, _, port = resolution.resolver.rpartition(":")
    return {
        "name": name,
        "resolver": resolution.resolver,
        "resolver_host": host.strip("[]") or resolution.resolver,
        "resolver_port": port if host else "53",
        "answer": resolution.answer or "no answer",
        "addresses": ", ".join(resolution.addresses) or "none",
        "previous_resolver": resolution.resolved_before or "none",
    }


def excerpt(body: bytes) -> str:
    """The start of a body as one printable line, for messages."""
    text = body[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
    flat = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    if not flat:
        return "(empty body)"
    return repr(flat[:EXCERPT_CHARS] + ("…" if len(flat) > EXCERPT_CHARS else ""))


def _warnings(
    observation: Observation, probe: EffectiveProbe, certificate: CertVerdict | None
) -> tuple[HealthWarning, ...]:
    found: list[HealthWarning] = []
    resolution = observation.resolution
    if resolution is not None and resolution.from_last_good:
        found.append(
            HealthWarning(
                WarningCode.DNS_LAST_GOOD,
                {
                    "name": probe.target.member.address,
                    "resolver": resolution.resolver,
                    "answer": resolution.answer,
                    "addresses": ", ".join(resolution.addresses),
                },
            )
        )
    found.extend(checks_off(probe))
    for soon in certificate.expiring if certificate is not None else ():
        found.append(
            HealthWarning(
                WarningCode.CERTIFICATE_EXPIRING,
                {
                    "subject": soon.subject,
                    "not_after": soon.not_after.isoformat(),
                    "days_left": str(soon.days_left),
                },
            )
        )
    return tuple(found)


def checks_off(probe: EffectiveProbe) -> tuple[HealthWarning, ...]:
    """The certificate checks this target's settings turn off: insecureSkipVerify (probegate's),
    or the model's validateCertChainAndExpiry / validateSNI set to false (v2 Https)."""
    mode, settings = probe.tls.value, probe.target.settings
    if mode is _SKIP_VERIFY:
        return (HealthWarning(WarningCode.INSECURE_SKIP_VERIFY, {}),)
    if mode not in _V2_VALIDATED:
        return ()
    found = []
    if not settings.validate_chain:
        found.append(HealthWarning(WarningCode.CHAIN_NOT_VALIDATED, {}))
    if not settings.validate_sni:
        found.append(HealthWarning(WarningCode.NAME_NOT_VALIDATED, {}))
    return tuple(found)


def _earliest_expiry(certificate: CertVerdict | None) -> float | None:
    if certificate is None or not certificate.chain:
        return None
    return min(c.not_after for c in certificate.chain).astimezone(UTC).timestamp()


def now_utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
