"""Resolving member FQDNs (SPEC section 4, phase 1): TTL cache, last good, sharing.

One resolver serves both sides of the gateway: the prober resolves a member before probing it,
the proxy before opening a live connection to it, so both see the same addresses. It belongs to
neither: it imports only the observation vocabulary (`Resolution`, `Failure`), and an
import-linter contract keeps the prober and the proxy out of it.

Rules of this module:
- `Resolver.resolve` never raises for a name's fault: it returns a `Resolved`, either usable
  addresses (fresh, cached or last good) or a `Failure` with the resolver's answer in words;
- with configured `dnsServers`, dnspython asks each server in turn (A and AAAA) and the record
  TTL decides how long the answer is kept; the answer names the server that gave it;
- without them the system resolver (`getaddrinfo`: /etc/hosts, nsswitch) is used; it exposes no
  TTL, so its answers are kept for `SYSTEM_TTL` seconds;
- failures are never cached: a failing name is asked again by the next probe, and while an
  earlier answer exists its addresses are returned as last good (a warning, not an outage);
- last good addresses live as long as the resolver: a reload that keeps `dnsServers` keeps the
  resolver and them; one that changes `dnsServers` builds a new resolver told only which names
  had resolved (`resolved_before`), so a failure there reads as addresses lost, not never known;
- concurrent resolutions of one name share one in-flight query; a caller that gives up (its
  probe timed out) does not cancel the query for the others, and the answer still lands in the
  cache;
- the clock (`monotonic`) is injected so TTL expiry is tested without waiting.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from probegate.health.observation import Failure, Resolution

SYSTEM_TTL = 30  # seconds: getaddrinfo gives no TTL, so system answers are kept this long
SYSTEM_RESOLVER = "system resolver"
DEFAULT_LIFETIME = 5.0  # seconds a whole resolution may take when the caller sets no limit


@dataclass(frozen=True, slots=True)
class Resolved:
    """The outcome of one resolution. `failure` None: `resolution.addresses` can be used."""

    resolution: Resolution
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class _Cached:
    resolution: Resolution
    expires: float  # on the injected monotonic clock


@dataclass(frozen=True, slots=True)
class _Server:
    label: str  # "127.0.0.53:5353", as Resolution.resolver shows it
    client: dns.asyncresolver.Resolver


class Resolver:
    """Resolves FQDN members; one instance is shared by every probe of the gateway."""

    def __init__(
        self,
        servers: tuple[tuple[str, int], ...] | None = None,
        *,
        lifetime: float = DEFAULT_LIFETIME,
        monotonic: Callable[[], float] = time.monotonic,
        resolved_before: dict[str, str] | None = None,
    ) -> None:
        self._servers = tuple(_server(host, port) for host, port in servers or ())
        # name → the replaced resolver that last answered it: its addresses are not carried
        # over (they came from a resolver no longer configured), only the fact that it resolved
        self._resolved_before = dict(resolved_before or {})
        self._lifetime = lifetime
        self._monotonic = monotonic
        self._cache: dict[str, _Cached] = {}
        self._last_good: dict[str, Resolution] = {}
        self._in_flight: dict[str, asyncio.Task[Resolved]] = {}

    @property
    def name(self) -> str:
        """Who is asked: the first configured server, or the system resolver."""
        return self._servers[0].label if self._servers else SYSTEM_RESOLVER

    async def resolve(self, name: str, timeout: float | None = None) -> Resolved:
        """The addresses of `name`, waiting at most `timeout` seconds for a fresh answer."""
        cached = self._cache.get(name)
        if cached is not None and self._monotonic() < cached.expires:
            return Resolved(cached.resolution)
        task = self._in_flight.get(name)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._query(name))
            self._in_flight[name] = task
            task.add_done_callback(lambda done: self._landed(name, done))
        try:
            async with asyncio.timeout(timeout):
                # shield: one waiter giving up must not cancel the query the others share
                return await asyncio.shield(task)
        except TimeoutError:
            waited = round((timeout or 0) * 1000)
            return self._fallback(
                name, Failure.DNS_TIMEOUT, self.name, f"no answer within {waited} ms"
            )

    def _landed(self, name: str, task: asyncio.Task[Resolved]) -> None:
        self._in_flight.pop(name, None)
        if not task.cancelled():
            task.exception()  # marked retrieved: a bug here reaches the waiters, not the log

    def resolved_names(self) -> dict[str, str]:
        """Every name this resolver (or the one it replaced) has answered, and by whom: what a
        replacement is given when a reload changes `dnsServers`."""
        known = dict(self._resolved_before)
        known.update({name: r.resolver for name, r in self._last_good.items()})
        return known

    def forget(self, name: str) -> None:
        """Drop what is known about `name` (the member was removed from the configuration)."""
        self._cache.pop(name, None)
        self._last_good.pop(name, None)

    # ---------------------------------------------------------------- one shared query

    async def _query(self, name: str) -> Resolved:
        if self._servers:
            resolution, failure, ttl = await self._ask_servers(name)
        else:
            resolution, failure, ttl = await _ask_system(name)
        if failure is not None:
            return self._fallback(name, failure, resolution.resolver, resolution.answer)
        self._cache[name] = _Cached(resolution, self._monotonic() + ttl)
        self._last_good[name] = resolution
        return Resolved(resolution)

    def _fallback(self, name: str, failure: Failure, resolver: str, answer: str) -> Resolved:
        """A failed resolution: the last good addresses when there are some, else the failure."""
        good = self._last_good.get(name)
        if good is None:
            before = self._resolved_before.get(name, "")
            return Resolved(
                Resolution(resolver, (), answer=answer, resolved_before=before), failure
            )
        kept = Resolution(resolver, good.addresses, answer=answer, from_last_good=True)
        return Resolved(kept)

    async def _ask_servers(self, name: str) -> tuple[Resolution, Failure | None, float]:
        """Each configured server in turn, each with an equal share of the lifetime; a definite
        answer (addresses, NXDOMAIN, no records) ends the search, errors and timeouts move on."""
        share = self._lifetime / len(self._servers)
        outcome: tuple[Resolution, Failure | None, float] | None = None
        for server in self._servers:
            outcome = await _ask_server(server, name, share)
            if outcome[1] not in (Failure.DNS_TIMEOUT, Failure.DNS_ERROR):
                return outcome
        assert outcome is not None
        return outcome


# -------------------------------------------------------------------- configured servers


def _server(host: str, port: int) -> _Server:
    client = dns.asyncresolver.Resolver(configure=False)
    client.nameservers = [host]
    client.port = port
    client.retry_servfail = False
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return _Server(shown, client)


async def _ask_server(
    server: _Server, name: str, lifetime: float
) -> tuple[Resolution, Failure | None, float]:
    """A and AAAA from one server, asked together; the answers are combined by `_combine`."""
    answers = await asyncio.gather(
        _ask_type(server, name, dns.rdatatype.A, lifetime),
        _ask_type(server, name, dns.rdatatype.AAAA, lifetime),
    )
    return _combine(server.label, answers, lifetime)


# What one query for one record type gave: addresses (none: NOERROR without records) and TTL,
# or the exception dnspython raised.
_TypeAnswer = tuple[tuple[str, ...], int] | Exception


async def _ask_type(
    server: _Server, name: str, rdtype: dns.rdatatype.RdataType, lifetime: float
) -> _TypeAnswer:
    try:
        answer = await server.client.resolve(
            name, rdtype, lifetime=lifetime, search=False, raise_on_no_answer=False
        )
    except (dns.exception.DNSException, OSError) as exc:
        return exc
    rrset = answer.rrset
    if rrset is None:
        return (), 0
    return tuple(rdata.to_text() for rdata in rrset), rrset.ttl


def _combine(
    label: str, answers: Sequence[_TypeAnswer], lifetime: float
) -> tuple[Resolution, Failure | None, float]:
    """Addresses from any type win (A first: IPv4 is tried first); otherwise the most definite
    failure decides: NXDOMAIN, then timeout, then a server error, then 'no records'."""
    found = [answer for answer in answers if isinstance(answer, tuple) and answer[0]]
    if found:
        addresses = tuple(address for answer in found for address in answer[0])
        ttl = min(answer[1] for answer in found)
        return Resolution(label, addresses, ttl=ttl), None, float(ttl)
    errors = [answer for answer in answers if isinstance(answer, Exception)]
    failure, text = _classify(errors, lifetime)
    return Resolution(label, (), answer=text), failure, 0.0


def _classify(errors: list[Exception], lifetime: float) -> tuple[Failure, str]:
    if any(isinstance(e, dns.resolver.NXDOMAIN) for e in errors):
        return Failure.DNS_NXDOMAIN, "NXDOMAIN"
    if any(isinstance(e, dns.exception.Timeout) for e in errors):
        return Failure.DNS_TIMEOUT, f"no answer within {round(lifetime * 1000)} ms"
    other = [e for e in errors if not isinstance(e, dns.resolver.NoAnswer)]
    if other:
        return Failure.DNS_ERROR, _error_text(other[0])
    return Failure.DNS_NO_RECORDS, "no A/AAAA records"


def _error_text(error: Exception) -> str:
    """SERVFAIL / REFUSED as the server said it, or what went wrong talking to it."""
    if isinstance(error, dns.resolver.NoNameservers):
        found = error.kwargs.get("errors") or []
        if found:
            _server, _tcp, _port, cause, _response = found[-1]
            return cause if isinstance(cause, str) else _describe(cause)
    return _describe(error)


def _describe(error: object) -> str:
    if isinstance(error, OSError) and error.strerror:
        return f"unreachable: {error.strerror.lower()}"
    return str(error) or type(error).__name__


# -------------------------------------------------------------------- the system resolver


async def _ask_system(name: str) -> tuple[Resolution, Failure | None, float]:
    """getaddrinfo in the system's order (RFC 6724 via gai.conf), duplicates removed."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        failure, text = _gai_failure(exc)
        return Resolution(SYSTEM_RESOLVER, (), answer=text), failure, 0.0
    except UnicodeError as exc:  # IDNA encoding refused the name (e.g. a label over 63 bytes)
        return (
            Resolution(SYSTEM_RESOLVER, (), answer=f"invalid name: {exc}"),
            Failure.DNS_ERROR,
            0.0,
        )
    addresses = tuple(dict.fromkeys(_address(info[4]) for info in infos))
    return Resolution(SYSTEM_RESOLVER, addresses, ttl=None), None, float(SYSTEM_TTL)


def _address(sockaddr: tuple[str, int] | tuple[str, int, int, int] | tuple[int, bytes]) -> str:
    host = sockaddr[0]
    assert isinstance(host, str)
    return str(ipaddress.ip_address(host.partition("%")[0]))


def _gai_failure(exc: socket.gaierror) -> tuple[Failure, str]:
    text = (exc.strerror or str(exc)).lower()
    no_data = getattr(socket, "EAI_NODATA", None)
    if exc.errno == socket.EAI_NONAME:
        return Failure.DNS_NXDOMAIN, f"{text} (EAI_NONAME)"
    if no_data is not None and exc.errno == no_data:
        return Failure.DNS_NO_RECORDS, f"{text} (EAI_NODATA)"
    return Failure.DNS_ERROR, text
