"""On-demand probes (SPEC section 8): one probe of every server of a (pool, settings) pair, with
the operator's overrides, changing no state.

Rules: the overrides replace fields of the settings' probe (or of the default probe) before the
effective probe is computed, so the same v1/v2 rules apply as for the scheduled probes.

On-demand probes run within their own `Budget`, apart from the prober's shared connect cap: at most
`ONDEMAND_REQUESTS` requests at once (the next is refused with `OnDemandBusy`, an HTTP 429) and at
most `ONDEMAND_PROBES` of their probes in flight (more wait their turn, with the probe timeout not
yet running). So however many are asked for, scheduled probes keep every one of their permits. The
timeout of an on-demand probe is at most the longest one the configuration gives a probe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from probegate.config import syntax
from probegate.config.effective import EffectiveProbe, effective_probe
from probegate.config.plan import (
    DEFAULT_MATCH,
    GatewayPlan,
    ProbeSpec,
    Protocol,
    StatusMatch,
    Target,
    TargetKey,
    server_address,
)
from probegate.health.capacity import Capacity
from probegate.health.evaluate import Outcome
from probegate.health.prober import Prober

ONDEMAND_REQUESTS = 16  # on-demand requests served at once; one more is answered 429
ONDEMAND_PROBES = 64  # probes of those requests in flight at once; more wait for a permit
RETRY_AFTER = 1  # seconds, the Retry-After of a refused request
DEFAULT_TIMEOUT = 30  # the default probe's timeout (SPEC section 3)


class OnDemandError(ValueError):
    """The request names something the plan does not have, or an override is out of range."""


class OnDemandNotFound(OnDemandError):
    """The pool or settings item named does not exist."""


class OnDemandConflict(OnDemandError):
    """The overrides ask for something the settings item does not have."""


class OnDemandBusy(Exception):
    """Every on-demand permit is taken; the caller should try again after `retry_after` s."""

    def __init__(self, retry_after: int = RETRY_AFTER) -> None:
        super().__init__(
            f"{ONDEMAND_REQUESTS} on-demand probes are running already; try again in "
            f"{retry_after} s"
        )
        self.retry_after = retry_after


class Budget:
    """What on-demand probes may use, so they never use what scheduled probes need."""

    def __init__(self, requests: int = ONDEMAND_REQUESTS, probes: int = ONDEMAND_PROBES) -> None:
        self._requests = Capacity(requests)
        self._probes = Capacity(probes)

    @contextmanager
    def admit(self) -> Iterator[None]:
        """One request's turn, or OnDemandBusy at once (a queue would hold clients for minutes)."""
        if not self._requests.try_take():
            raise OnDemandBusy
        try:
            yield
        finally:
            self._requests.release()

    async def probe(self, prober: Prober, probe: EffectiveProbe) -> Outcome:
        await self._probes.take()
        try:
            return await prober.probe(probe, capped=False)
        finally:
            self._probes.release()


def longest_timeout(plan: GatewayPlan) -> int:
    """The longest probe timeout of the configuration: the cap of an on-demand `timeout`."""
    return max(
        (s.probe.timeout if s.probe else DEFAULT_TIMEOUT for s in plan.settings),
        default=DEFAULT_TIMEOUT,
    )


@dataclass(frozen=True, slots=True)
class Overrides:
    protocol: Protocol | None = None
    host: str | None = None
    path: str | None = None
    timeout: int | None = None
    pick_host_name_from_backend_http_settings: bool | None = None
    status_codes: tuple[str, ...] | None = None
    body: str | None = None
    headers: tuple[tuple[str, str], ...] | None = None  # replace the probe's headers


def targets_of(plan: GatewayPlan, pool: str, settings: str) -> list[Target]:
    if pool not in {p.name for p in plan.pools}:
        raise OnDemandNotFound(f"no backend address pool is named {syntax.shown(pool)}")
    found = next((s for s in plan.settings if s.name == settings), None)
    if found is None:
        raise OnDemandNotFound(f"no backend HTTP settings item is named {syntax.shown(settings)}")
    bound = [t for t in plan.targets if t.key.pool == pool and t.key.settings == settings]
    if bound:
        return bound
    # Not bound by a rule: an operator may still test the pair before wiring it.
    pool_plan = next(p for p in plan.pools if p.name == pool)
    return [
        Target(
            TargetKey(pool, settings, server_address(m.address, m.port or found.port)),
            pool_plan,
            found,
            m,
            m.port or found.port,
        )
        for m in pool_plan.members
    ]


def override_probe(target: Target, overrides: Overrides, plan: GatewayPlan) -> EffectiveProbe:
    if overrides == Overrides():
        return effective_probe(target, plan.tier)  # exactly the scheduled probe
    base = target.settings.probe or _default_spec(target)
    spec = replace(
        base,
        name=base.name,
        protocol=overrides.protocol or base.protocol,
        host=overrides.host if overrides.host is not None else base.host,
        path=overrides.path or base.path,
        timeout=overrides.timeout or base.timeout,
        pick_host_name_from_backend_http_settings=(
            overrides.pick_host_name_from_backend_http_settings
            if overrides.pick_host_name_from_backend_http_settings is not None
            else base.pick_host_name_from_backend_http_settings
        ),
        match=_match(base.match, overrides),
        headers=overrides.headers if overrides.headers is not None else base.headers,
    )
    if spec.pick_host_name_from_backend_http_settings and overrides.host is None:
        spec = replace(spec, host=None)
    if spec.host is None and not spec.pick_host_name_from_backend_http_settings:
        spec = replace(spec, host="127.0.0.1")
    settings_host = (
        target.settings.host_name is not None or target.settings.pick_host_name_from_backend_address
    )
    if spec.host is None and not settings_host:
        raise OnDemandConflict(
            f"pickHostNameFromBackendHttpSettings needs settings '{target.settings.name}' to have "
            "'hostName' or 'pickHostNameFromBackendAddress: true'; give 'host' instead"
        )
    settings = replace(target.settings, probe=spec)
    return effective_probe(replace(target, settings=settings), plan.tier)


def _default_spec(target: Target) -> ProbeSpec:
    settings = target.settings
    picks = settings.host_name is not None or settings.pick_host_name_from_backend_address
    return ProbeSpec(
        name="on-demand",
        protocol=settings.protocol,
        host=None if picks else "127.0.0.1",
        path="/",
        port=None,
        interval=30,
        timeout=DEFAULT_TIMEOUT,
        unhealthy_threshold=3,
        pick_host_name_from_backend_http_settings=picks,
        min_servers=0,
        match=DEFAULT_MATCH,
    )


def _match(base: StatusMatch, overrides: Overrides) -> StatusMatch:
    ranges = base.ranges
    if overrides.status_codes is not None:
        parsed = [syntax.status_range(code) for code in overrides.status_codes]
        bad = [p for p in parsed if isinstance(p, str)]
        if bad or not parsed:
            raise OnDemandError(bad[0] if bad else "match.statusCodes must not be empty")
        ranges = tuple(p for p in parsed if isinstance(p, tuple))
    return StatusMatch(ranges, overrides.body if overrides.body is not None else base.body)


async def probe_now(
    prober: Prober,
    plan: GatewayPlan,
    pool: str,
    settings: str,
    overrides: Overrides,
    *,
    budget: Budget | None = None,
) -> list[tuple[EffectiveProbe, Outcome]]:
    """Probe every server of the pair; with a `budget` (a running gateway's), within it."""
    cap = longest_timeout(plan)
    if overrides.timeout is not None and overrides.timeout > cap:
        raise OnDemandError(
            f"'timeout' must be at most {cap} s (the longest probe timeout configured), "
            f"got {overrides.timeout}"
        )
    probes = [override_probe(t, overrides, plan) for t in targets_of(plan, pool, settings)]
    if budget is None:
        outcomes = await asyncio.gather(*(prober.probe(p) for p in probes))
    else:
        with budget.admit():
            outcomes = await asyncio.gather(*(budget.probe(prober, p) for p in probes))
    return list(zip(probes, outcomes, strict=True))
