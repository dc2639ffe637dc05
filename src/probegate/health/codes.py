"""The stable reason vocabulary (SPEC section 4) and the health states.

Rules: these strings are API. They appear unchanged in the JSON API, the CLI, logs, metric labels
and the dashboard; add codes, never rename one. Codes reuse the section anchors of the public
troubleshooting guide for this gateway model where one exists, so an operator can search for them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class State(StrEnum):
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    UNKNOWN = "Unknown"
    DRAINING = "Draining"


class Reason(StrEnum):
    SUCCESS = "success"
    BACKEND_SERVER_TIMEOUT = "backend-server-timeout"
    DNS_RESOLUTION_ERROR = "dns-resolution-error"
    TCP_CONNECT_ERROR = "tcp-connect-error"
    HTTP_STATUS_CODE_MISMATCH = "http-status-code-mismatch"
    HTTP_RESPONSE_BODY_MISMATCH = "http-response-body-mismatch"
    CERTIFICATE_INVALID_CA = "backend-server-certificate-invalid-ca"
    TRUSTED_ROOT_MISMATCH = "trusted-root-certificate-mismatch"
    TRUSTED_ROOT_MISMATCH_ROOT_PRESENTED = "trusted-root-certificate-mismatch-root-presented"
    INTERMEDIATE_NOT_WELL_KNOWN = "intermediate-certificate-not-signed-by-well-known-ca"
    LEAF_MISSING = "leaf-certificate-missing"
    INTERMEDIATE_MISSING = "intermediate-certificate-missing"
    LEAF_NOT_TOPMOST = "leaf-certificate-not-topmost"
    NAME_MISMATCH = "backend-certificate-invalid-common-name-cn"
    CERTIFICATE_EXPIRED_OR_NOT_YET_VALID = "backend-certificate-is-invalid"
    AUTHENTICATION_CERTIFICATE_MISMATCH = "authentication-certificate-mismatch"
    CERTIFICATE_VERIFICATION_FAILED = "certificate-verification-failed"
    TLS_HANDSHAKE_ERROR = "tls-handshake-error"
    INVALID_HTTP_RESPONSE = "invalid-http-response"
    DNS_LAST_GOOD_LOST = "dns-last-good-addresses-lost"  # Unknown: resolved before, nothing now
    NOT_YET_PROBED = "not-yet-probed"
    PROBE_STALE = "probe-stale"
    DRAINING = "draining"
    RECOVERING = "recovering"  # Unhealthy, passing again, short of healthyThreshold
    PASSIVE_EJECTION = "passive-ejection"  # taken out by live-traffic failures (passiveHealth)

    @property
    def state(self) -> State:
        """The state a target shows when this is the reason of its current state."""
        return _STATE.get(self, State.UNHEALTHY)


# The members read on every probe, as names of their own. In Python 3.11 a member read off its
# class (`Reason.SUCCESS`) goes through the slow attribute hook that EnumType's `__getattr__`
# installs (~800 instructions; a probe read 14 of them); a module name is a dictionary read, or
# a C static in the compiled build.
HEALTHY: Final = State.HEALTHY
UNHEALTHY: Final = State.UNHEALTHY
SUCCESS: Final = Reason.SUCCESS

_STATE = {
    Reason.SUCCESS: State.HEALTHY,
    Reason.NOT_YET_PROBED: State.UNKNOWN,
    Reason.PROBE_STALE: State.UNKNOWN,
    Reason.DNS_LAST_GOOD_LOST: State.UNKNOWN,
    Reason.DRAINING: State.DRAINING,
}

CERTIFICATE_REASONS = frozenset(
    {
        Reason.CERTIFICATE_INVALID_CA,
        Reason.TRUSTED_ROOT_MISMATCH,
        Reason.TRUSTED_ROOT_MISMATCH_ROOT_PRESENTED,
        Reason.INTERMEDIATE_NOT_WELL_KNOWN,
        Reason.LEAF_MISSING,
        Reason.INTERMEDIATE_MISSING,
        Reason.LEAF_NOT_TOPMOST,
        Reason.NAME_MISMATCH,
        Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID,
        Reason.AUTHENTICATION_CERTIFICATE_MISMATCH,
        Reason.CERTIFICATE_VERIFICATION_FAILED,
    }
)

# The `shape` fact of a chain one code covers but words must tell apart (messages.SHAPES).
SELF_SIGNED_LEAF = "self-signed-not-ca"
