"""The verdict of one probe: a reason code, the facts that back it, and any warnings.

Rules: plain values, never changed once made (not frozen: health/observation.py says why); the
message and remedy are rendered from `reason` + `facts` by `messages.py` in the operator's
language, so a result never carries prose of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from probegate.health.codes import SUCCESS, Reason


class WarningCode(StrEnum):
    CERTIFICATE_EXPIRING = "certificate-expiring-soon"
    DNS_LAST_GOOD = "dns-last-good-addresses"
    INSECURE_SKIP_VERIFY = "insecure-skip-verify"
    CHAIN_NOT_VALIDATED = "certificate-chain-not-validated"  # validateCertChainAndExpiry false
    NAME_NOT_VALIDATED = "certificate-name-not-validated"  # validateSNI false


@dataclass(frozen=True, slots=True)
class HealthWarning:
    """Something an operator must know about a target that is still routable."""

    code: WarningCode
    facts: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ProbeResult:
    reason: Reason
    facts: dict[str, str]  # values named in the reason's message and remedy
    at: float  # wall-clock seconds when the probe started
    duration_ms: float
    phases_ms: dict[str, float]
    status: int | None = None
    warnings: tuple[HealthWarning, ...] = ()
    certificate_expiry: float | None = None  # earliest not_after of the presented chain (epoch)

    # Spelled out so that the compiled build compiles it (observation.py says why).
    def __init__(  # noqa: PLR0917 - the dataclass's own signature, positional too
        self,
        reason: Reason,
        facts: dict[str, str],
        at: float,
        duration_ms: float,
        phases_ms: dict[str, float],
        status: int | None = None,
        warnings: tuple[HealthWarning, ...] = (),
        certificate_expiry: float | None = None,
    ) -> None:
        self.reason = reason
        self.facts = facts
        self.at = at
        self.duration_ms = duration_ms
        self.phases_ms = phases_ms
        self.status = status
        self.warnings = warnings
        self.certificate_expiry = certificate_expiry

    @property
    def passed(self) -> bool:
        return self.reason is SUCCESS
