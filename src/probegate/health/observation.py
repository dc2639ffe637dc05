"""What one probe saw: how far it got, how it ended, how long each phase took, and the facts.

Rules of this module:
- plain values, no behaviour: the runner fills them, `evaluate` judges them;
- the values made on every probe (`HttpFacts`, `Observation`; `ProbeResult`, `Record` and
  `Transition` likewise) are values by convention — never assigned after `__init__` — rather
  than frozen, and spell out their `__init__`: the compiled build compiles that one, where the
  `__init__` that `dataclass` writes is interpreted, and for a frozen class sets each field
  through `object.__setattr__` (~10× the cost of the compiled one, measured);
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


@dataclass(slots=True)
class HttpFacts:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes  # at most the read cap (64 KiB)
    body_truncated: bool

    def __init__(
        self,
        status: int,
        reason: str,
        headers: tuple[tuple[str, str], ...],
        body: bytes,
        body_truncated: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.body_truncated = body_truncated


@dataclass(slots=True)
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

    def __init__(  # noqa: PLR0917 - the dataclass's own signature, positional too
        self,
        started_at: float,
        phase: Phase,
        failure: Failure | None,
        detail: str = "",
        timings_ms: dict[Phase, float] | None = None,
        duration_ms: float = 0.0,
        resolution: Resolution | None = None,
        connected_to: str | None = None,
        tls: TlsFacts | None = None,
        http: HttpFacts | None = None,
    ) -> None:
        self.started_at = started_at
        self.phase = phase
        self.failure = failure
        self.detail = detail
        self.timings_ms = {} if timings_ms is None else timings_ms
        self.duration_ms = duration_ms
        self.resolution = resolution
        self.connected_to = connected_to
        self.tls = tls
        self.http = http
