"""On-demand probes (SPEC section 8): one probe of every server of a (pool, settings) pair, with
the operator's overrides, changing no state.

Rules: the overrides replace fields of the settings' probe (or of the default probe) before the
effective probe is computed, so the same v1/v2 rules apply as for the scheduled probes.
"""

from __future__ import annotations

import asyncio
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
from probegate.health.prober import Outcome, Prober


class OnDemandError(ValueError):
    """The request names something the plan does not have, or an override is out of range."""


@dataclass(frozen=True, slots=True)
class Overrides:
    protocol: Protocol | None = None
    host: str | None = None
    path: str | None = None
    timeout: int | None = None
    pick_host_name_from_backend_http_settings: bool | None = None
    status_codes: tuple[str, ...] | None = None
    body: str | None = None


def targets_of(plan: GatewayPlan, pool: str, settings: str) -> list[Target]:
    if pool not in {p.name for p in plan.pools}:
        raise OnDemandError(f"no backend address pool is named '{pool}'")
    found = next((s for s in plan.settings if s.name == settings), None)
    if found is None:
        raise OnDemandError(f"no backend HTTP settings item is named '{settings}'")
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
    )
    if spec.pick_host_name_from_backend_http_settings and overrides.host is None:
        spec = replace(spec, host=None)
    if spec.host is None and not spec.pick_host_name_from_backend_http_settings:
        spec = replace(spec, host="127.0.0.1")
    settings_host = (
        target.settings.host_name is not None or target.settings.pick_host_name_from_backend_address
    )
    if spec.host is None and not settings_host:
        raise OnDemandError(
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
        timeout=30,
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
    prober: Prober, plan: GatewayPlan, pool: str, settings: str, overrides: Overrides
) -> list[tuple[EffectiveProbe, Outcome]]:
    probes = [override_probe(t, overrides, plan) for t in targets_of(plan, pool, settings)]
    outcomes = await asyncio.gather(*(prober.probe(p) for p in probes))
    return list(zip(probes, outcomes, strict=True))
