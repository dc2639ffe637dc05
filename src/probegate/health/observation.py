"""What one probe saw: how far it got, how it ended, how long each phase took, and the facts.

Rules of this module:
- plain frozen values, no behaviour: the runner fills them, `evaluate` judges them;
- no asyncio, no sockets (the whole `health` core is pure; import-linter enforces it);
- a probe always yields an Observation: failures are values (`Failure`), never exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Phase(StrEnum):
    """The phases of SPEC section 4, in order; the first that fails decides the reason."""

    RESOLVE = "resolve"
    CONNECT = "connect"
    TLS = "tls"
    RESPONSE = "response"
    MATCH = "match"


class Failure(StrEnum):
    """How a phase ended when it did not succeed (the `match` phase is judged by `evaluate`)."""

    DNS_NXDOMAIN = "dns-nxdomain"
    DNS_NO_RECORDS = "dns-no-records"
    DNS_TIMEOUT = "dns-timeout"
    DNS_ERROR = "dns-error"  # SERVFAIL, REFUSED, unreachable resolver
    CONNECT_REFUSED = "connect-refused"
    CONNECT_TIMEOUT = "connect-timeout"
    CONNECT_RESET = "connect-reset"
    CONNECT_UNREACHABLE = "connect-unreachable"
    TLS_HANDSHAKE = (
        "tls-handshake"  # not about the certificate: protocol, cipher, plain HTTP, reset
    )
    TLS_TIMEOUT = "tls-timeout"  # the handshake did not finish within the probe timeout
    RESPONSE_TIMEOUT = "response-timeout"
    RESPONSE_CLOSED = "response-closed"  # closed (or reset) before a complete head
    RESPONSE_MALFORMED = "response-malformed"  # bytes that are not an HTTP/1.x response


@dataclass(frozen=True, slots=True)
class Resolution:
    """The resolve phase: who was asked, what came back, and whether a last good answer was used."""

    resolver: str  # "127.0.0.53:5353" or "system resolver"
    addresses: tuple[str, ...]
    ttl: int | None = None
    answer: str = ""  # what the resolver said when it failed: "NXDOMAIN", "no A/AAAA records", ...
    from_last_good: bool = False  # resolution failed; these are the last good addresses
    # resolution failed, no last good addresses, but the name had resolved through this resolver
    # (one a reload replaced): the addresses were lost, not never known
    resolved_before: str = ""


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """The TLS phase: the chain exactly as the server presented it (leaf first, if in order)."""

    chain: tuple[bytes, ...] = ()  # DER, in the order sent
    version: str = ""
    cipher: str = ""
    sni: str | None = None


@dataclass(frozen=True, slots=True)
class HttpFacts:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes  # at most the read cap (64 KiB)
    body_truncated: bool


@dataclass(frozen=True, slots=True)
class Observation:
    """One probe of one target. `failure` is None when a complete response head arrived."""

    started_at: float  # wall-clock seconds (epoch) when the probe started
    phase: Phase  # the last phase the probe entered
    failure: Failure | None
    detail: str = ""  # the words of the failure: "refused", "timed out after 1000 ms", ...
    timings_ms: dict[Phase, float] = field(default_factory=dict)
    duration_ms: float = 0.0
    resolution: Resolution | None = None
    connected_to: str | None = None  # "127.0.0.11:8080"
    tls: TlsFacts | None = None
    http: HttpFacts | None = None
