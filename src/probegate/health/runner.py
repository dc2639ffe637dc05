"""One probe of one target: resolve, connect, TLS, request/response — timed, bounded, never raising.

Rules of this module:
- `run_probe` always returns an `Observation`; every exception is converted here, once, at the
  edge (an unexpected one becomes a failure carrying its text); only cancellation propagates;
- plain HTTP to an IP member runs on loop callbacks (`plain.py`); this module's coroutines run
  the rest (members found through DNS, TLS); both keep their state in an `attempt.Attempt`;
- the phases run in the order of SPEC section 4 and the first that fails decides; each records
  its time in `timings_ms` and the phase reached is the last one entered (MATCH once a response
  head arrived: `evaluate` judges status and body, this module judges nothing);
- the whole probe shares one deadline, `probe.timeout` after it started: each phase gets what
  remains. One `asyncio.timeout_at` per probe (no task or timer per phase) and the phase it
  interrupted names the failure. Waiting for a connect permit is the gateway's queue, not the
  backend's slowness, so that wait is not charged to the deadline;
- the certificate is not judged here: the handshake accepts any chain and records it exactly as
  presented, for `tlscheck` to classify;
- reads are bounded: the head and the body each stop at `READ_CAP` bytes;
- lean on purpose (SPEC: thousands of probes per second on one core): one protocol object per
  connection fed by httptools callbacks, one future to wait on, SSL context built once.
"""

from __future__ import annotations

import _ssl
import asyncio
import functools
import ssl
import time
from collections.abc import Callable

from probegate.config.effective import EffectiveProbe
from probegate.config.plan import Protocol, server_address
from probegate.health import plain
from probegate.health.attempt import (
    USER_AGENT,
    Attempt,
    closed_words,
    connect_failure,
    request_bytes,
    settle,
    timed_out,
    unexpected,
)
from probegate.health.capacity import Capacity
from probegate.health.connection import READ_CAP, ProbeConnection, excerpt
from probegate.health.observation import Failure, Observation, Phase, TlsFacts
from probegate.resolver import Resolver


@functools.cache
def client_context() -> ssl.SSLContext:
    """The one client context of every probe: it accepts any certificate, because verification
    happens afterwards in the pure core, from the chain as presented (SPEC section 5)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def run_probe(
    probe: EffectiveProbe,
    resolver: Resolver,
    *,
    connect_capacity: Capacity | None = None,
    wall_clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Observation:
    """Run one probe and say what it saw. Never raises, except CancelledError."""
    if plain.applies(probe):
        return await plain.observe(
            probe, connect_capacity, wall_clock=wall_clock, monotonic=monotonic
        )
    first = Phase.CONNECT if probe.target.member.is_ip else Phase.RESOLVE
    run = Attempt(probe, wall_clock(), monotonic, first)
    connection = ProbeConnection(probe)
    try:
        await _phases(run, connection, resolver, connect_capacity)
    except Exception as exc:  # the edge: a gateway bug must not look like a backend outage
        unexpected(run, exc)
    finally:
        connection.close(clean=run.failure is None)
    return run.observation()


# -------------------------------------------------------------------- the phases


async def _phases(
    run: Attempt, connection: ProbeConnection, resolver: Resolver, capacity: Capacity | None
) -> None:
    probe = run.probe
    loop = asyncio.get_running_loop()
    deadline = loop.time() + probe.timeout.value
    addresses = await _resolve(run, resolver, deadline - loop.time())
    if addresses is None:
        return
    try:
        async with asyncio.timeout_at(deadline) as budget:
            if not await _connect(run, connection, addresses, capacity, budget):
                return
            if probe.protocol.value is Protocol.HTTPS and not await _handshake(run, connection):
                return
            await _request(run, connection)
    except TimeoutError:
        timed_out(run, connection.reader)


async def _resolve(run: Attempt, resolver: Resolver, timeout: float) -> tuple[str, ...] | None:
    """FQDN members only; the resolver keeps its own time, so last-good can still answer."""
    member = run.probe.target.member
    if member.is_ip:
        return (member.address,)
    run.enter(Phase.RESOLVE)
    resolved = await resolver.resolve(member.address, timeout=max(timeout, 0.0))
    run.done()
    run.resolution = resolved.resolution
    if resolved.failure is not None:
        run.fail(resolved.failure, f"{resolved.resolution.resolver}: {resolved.resolution.answer}")
        return None
    return resolved.resolution.addresses


async def _connect(
    run: Attempt,
    connection: ProbeConnection,
    addresses: tuple[str, ...],
    capacity: Capacity | None,
    budget: asyncio.Timeout,
) -> bool:
    """TCP connect to each address in turn until one answers or the deadline passes, holding
    one connect permit (when the prober caps concurrent connects) for the whole phase."""
    run.enter(Phase.CONNECT)
    if capacity is None:
        return await _connect_any(run, connection, addresses)
    await _take_permit(capacity, budget)
    run.enter(Phase.CONNECT)  # timed from when a permit was free: the wait is not the backend's
    try:
        return await _connect_any(run, connection, addresses)
    finally:
        capacity.release()


async def _connect_any(
    run: Attempt, connection: ProbeConnection, addresses: tuple[str, ...]
) -> bool:
    loop = asyncio.get_running_loop()
    port = run.probe.port.value
    tried: list[str] = []
    error: OSError | None = None
    for address in addresses:
        tried.append(server_address(address, port))
        try:
            await loop.create_connection(lambda: connection, address, port)
        except OSError as exc:
            error = exc
            continue
        run.connected_to = tried[-1]
        run.done()
        return True
    assert error is not None
    failure, words = connect_failure(error)
    run.fail(failure, words if len(tried) == 1 else f"{words} (tried {', '.join(tried)})")
    return False


async def _take_permit(capacity: Capacity, budget: asyncio.Timeout) -> None:
    """Wait for a connect permit with the deadline paused: the queue is ours, not the backend's."""
    when = budget.when()
    if capacity.try_take():
        return
    if when is None or budget.expired():
        await capacity.take()  # the deadline already fired (or none is set): nothing to pause
        return
    loop = asyncio.get_running_loop()
    paused_at = loop.time()
    budget.reschedule(None)
    try:
        await capacity.take()
    finally:
        budget.reschedule(when + loop.time() - paused_at)


async def _handshake(run: Attempt, connection: ProbeConnection) -> bool:
    """TLS with the chain recorded as presented; any certificate is accepted here."""
    run.enter(Phase.TLS)
    if connection.early:
        run.fail(Failure.TLS_HANDSHAKE, f"the backend spoke first: {excerpt(connection.early)}")
        return False
    sni = run.probe.sni.value
    raw = connection.transport
    assert raw is not None
    loop = asyncio.get_running_loop()
    try:
        secured = await loop.start_tls(raw, connection, client_context(), server_hostname=sni)
    except ssl.SSLError as exc:
        run.fail(Failure.TLS_HANDSHAKE, _ssl_words(exc))
        return False
    except (ConnectionError, EOFError) as exc:
        run.fail(Failure.TLS_HANDSHAKE, closed_words(exc, "during the TLS handshake"))
        return False
    if secured is None:  # the connection was lost as the handshake completed
        run.fail(Failure.TLS_HANDSHAKE, "closed by the backend during the TLS handshake")
        return False
    connection.secured(secured)
    run.tls = _tls_facts(secured, sni)
    run.done()
    return True


def _tls_facts(transport: asyncio.BaseTransport, sni: str | None) -> TlsFacts:
    ssl_object = transport.get_extra_info("ssl_object")
    # the chain as the server sent it; the verified chain would be rebuilt and reordered
    chain = ssl_object._sslobj.get_unverified_chain() or []
    cipher = ssl_object.cipher()
    return TlsFacts(
        chain=tuple(cert.public_bytes(_ssl.ENCODING_DER) for cert in chain),
        version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        sni=sni,
    )


def _ssl_words(exc: ssl.SSLError) -> str:
    """The library's reason without the source location: '[SSL: WRONG_VERSION_NUMBER] wrong ...'."""
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    return text.split(" (_ssl.c:")[0]


async def _request(run: Attempt, connection: ProbeConnection) -> None:
    """Send the GET in one write, then wait for the head (and the body when it is judged)."""
    run.enter(Phase.RESPONSE)
    connection.send(request_bytes(run.probe))
    await connection.finished
    settle(run, connection.reader)


__all__ = ["READ_CAP", "USER_AGENT", "client_context", "run_probe"]
