"""The runtime plan: the frozen dataclasses a validated configuration compiles into (`compile.py`).

Rules of this module:
- values only: nothing here reads a file or walks the pydantic model; `compile.py` builds these,
  and everything after it (effective probe, prober, proxy, admin) reads them only; of the model,
  the plan names two enums (`Protocol`, `Sku`), never a model class;
- references are objects here (a rule holds its listener, a backend its pool and settings),
  routing rules are in matching order, certificate files already read;
- the probe targets are (server × settings) pairs bound by a rule (SPEC section 2), keyed by pool,
  settings and server, never by address alone;
- what the gateway process itself runs with (admin API, history, access log, limits) is in
  `process.py`; this module holds what is routed and probed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from probegate.config import model as m
from probegate.config.errorpages import NO_PAGES, ErrorPages
from probegate.config.mutualtls import ClientAuth
from probegate.config.process import AccessLogPlan, AdminPlan, HistoryPlan, Limits
from probegate.config.rewrite import RewriteSet
from probegate.config.sslpolicy import ListenerTls

Protocol = m.Protocol


class Tier(StrEnum):
    V1 = "v1"
    V2 = "v2"


class AddressKind(StrEnum):
    IP = "ip"
    FQDN = "fqdn"


@dataclass(frozen=True, slots=True)
class Member:
    address: str
    kind: AddressKind
    port: int | None  # probegate extension: overrides the settings' port for this member

    @property
    def is_ip(self) -> bool:
        return self.kind is AddressKind.IP


@dataclass(frozen=True, slots=True)
class AddressPool:
    name: str
    members: tuple[Member, ...]


@dataclass(frozen=True, slots=True)
class StatusMatch:
    ranges: tuple[tuple[int, int], ...]
    body: str | None

    def accepts(self, status: int) -> bool:
        for low, high in self.ranges:  # noqa: SIM110 - a loop: any() makes a generator per probe
            if low <= status <= high:
                return True
        return False

    def describe(self) -> str:
        return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in self.ranges)


DEFAULT_MATCH = StatusMatch(ranges=((200, 399),), body=None)


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    name: str
    protocol: Protocol
    host: str | None
    path: str
    port: int | None
    interval: int
    timeout: int
    unhealthy_threshold: int
    pick_host_name_from_backend_http_settings: bool
    min_servers: int
    match: StatusMatch
    healthy_threshold: int = 1  # passes in a row an Unhealthy target needs (probegate extension)
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers (probegate extension)


@dataclass(frozen=True, slots=True)
class Certificate:
    """A trusted root or authentication certificate: every certificate its file holds, as DER."""

    name: str
    ders: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Draining:
    enabled: bool
    timeout: int


@dataclass(frozen=True, slots=True)
class Passive:
    """passiveHealth, when enabled: what counts, how many in a row, for how long, how many."""

    failures: frozenset[str]  # connect-error, reset, timeout, 5xx, gateway-errors
    consecutive: int
    ejection_time: float  # seconds, multiplied by the times a target was ejected (capped)
    max_percent: int


@dataclass(frozen=True, slots=True)
class Settings:
    name: str
    port: int
    protocol: Protocol
    request_timeout: int
    host_name: str | None
    pick_host_name_from_backend_address: bool
    path: str | None
    probe: ProbeSpec | None
    cookie_based_affinity: bool
    affinity_cookie_name: str
    draining: Draining | None
    trusted_roots: tuple[Certificate, ...]
    authentication_certificates: tuple[Certificate, ...]
    insecure_skip_verify: bool
    validate_chain: bool = True  # validateCertChainAndExpiry (v2)
    validate_sni: bool = True  # validateSNI (v2)
    sni_name: str | None = None  # sniName (v2): the SNI sent and the name expected
    passive: Passive | None = None  # passiveHealth when enabled (probegate extension)
    slow_start: float = 0.0  # slowStartInSec (probegate extension); 0: off


@dataclass(frozen=True, slots=True)
class FrontendCertificate:
    """The listener's certificate chain and key, as PEM, read once from files or an inline PFX."""

    name: str
    chain_pem: bytes
    key_pem: bytes
    source: str  # where it came from, for messages


@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    bind_address: str
    port: int
    protocol: Protocol
    host_names: tuple[str, ...]  # empty: a basic listener
    certificate: FrontendCertificate | None
    tls: ListenerTls | None = None  # Https: the versions and suites it offers (sslpolicy.py)
    client_auth: ClientAuth | None = None  # Https with mutual TLS (mutualtls.py)
    require_sni: bool = False  # requireServerNameIndication
    error_pages: ErrorPages = field(
        default_factory=lambda: NO_PAGES
    )  # its own pages, else the gateway's (never a mix)


@dataclass(frozen=True, slots=True)
class Redirect:
    name: str
    status: int
    target_listener: Listener | None
    target_url: str | None
    include_path: bool
    include_query_string: bool


@dataclass(frozen=True, slots=True)
class Backend:
    pool: AddressPool
    settings: Settings


Destination = Backend | Redirect


@dataclass(frozen=True, slots=True)
class PathRule:
    name: str
    paths: tuple[str, ...]
    destination: Destination
    rewrite: RewriteSet | None = None


@dataclass(frozen=True, slots=True)
class PathMap:
    name: str
    default: Destination
    rules: tuple[PathRule, ...]
    default_rewrite: RewriteSet | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    priority: int | None
    listener: Listener
    destination: Destination | PathMap
    rewrite: RewriteSet | None = None  # a Basic rule's set (a path map names its own)


class TargetKey(NamedTuple):
    """Identity of one probe target; health state is kept per key (never per address alone).
    A named tuple rather than a dataclass: it is a dict key on the data path, and a tuple hashes
    in C."""

    pool: str
    settings: str
    server: str  # address:port as reported, e.g. 127.0.0.11:8080

    def __str__(self) -> str:
        return f"{self.pool}~{self.settings}~{self.server}"


@dataclass(frozen=True, slots=True)
class Target:
    key: TargetKey
    pool: AddressPool
    settings: Settings
    member: Member
    port: int  # where traffic for this target goes (member port, else the settings' port)


@dataclass(frozen=True, slots=True)
class GatewayPlan:
    sku: m.Sku
    tier: Tier
    listeners: tuple[Listener, ...]
    pools: tuple[AddressPool, ...]
    settings: tuple[Settings, ...]
    rules: tuple[Rule, ...]  # in matching order: v2 by priority, v1 as listed
    dns_servers: tuple[tuple[str, int], ...] | None
    admin: AdminPlan
    limits: Limits
    access_log: AccessLogPlan
    history: HistoryPlan
    targets: tuple[Target, ...]
    source: str
    error_pages: ErrorPages = field(
        default_factory=lambda: NO_PAGES
    )  # gateway level (customErrorConfigurations)
    rewrite_sets: tuple[RewriteSet, ...] = ()
    workers: int | None = None  # data-path processes; None: "auto", one per usable CPU


def server_address(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
