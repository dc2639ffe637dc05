"""Frozen views of health state, as the proxy, the API, the CLI and metrics read them.

Rules: immutable values only; built by the store, never changed after; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from probegate.config.effective import EffectiveProbe
from probegate.config.plan import Target, Tier
from probegate.health.codes import Reason, State
from probegate.health.transitions import Record, Routing
from probegate.state.history import Availability


class GroupKey(NamedTuple):
    """A (pool, settings) pair: the unit of routing, of minServers and of the model's report.
    A named tuple: the proxy looks it up on every request, and a tuple hashes in C."""

    pool: str
    settings: str

    def __str__(self) -> str:
        return f"{self.pool}~{self.settings}"


class Unrouted(NamedTuple):
    """A target of a group that takes no traffic, as a 502 body names it."""

    state: State
    reason: Reason
    failures: int
    threshold: int


@dataclass(frozen=True, slots=True)
class RouteGroup:
    """What the proxy needs for one (pool, settings) pair. During a reload's warm-up `routable`
    may hold targets of the previous plan (members the reload removed or moved), which the proxy
    keeps serving until a new target of the group passes its first probe."""

    routable: tuple[Target, ...]
    total: int
    failing_reasons: tuple[Reason, ...]  # reasons of the targets not passing, for 502 bodies
    unrouted: tuple[Unrouted, ...] = ()  # the targets not taking traffic, in plan order
    # share of new requests per routable target (slowStartInSec ramps); None: all equal
    weights: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class TargetView:
    probe: EffectiveProbe
    record: Record  # as shown now: staleness applied
    routing: Routing
    group: GroupKey
    warming: bool = False  # routed on the verdict it had before a reload changed its probe
    previous: bool = False  # removed by a reload; serves until a new target of its group passes
    ramp: float | None = None  # slow start: its share of new requests while it ramps up


@dataclass(frozen=True, slots=True)
class Snapshot:
    targets: tuple[TargetView, ...]  # in plan order: pool, settings, member
    tier: Tier
    # target key (str) → its share of time Healthy and flapping, from the lasting history
    availability: Mapping[str, Availability] = field(default_factory=dict)

    def groups(self) -> dict[GroupKey, list[TargetView]]:
        found: dict[GroupKey, list[TargetView]] = {}
        for view in self.targets:
            found.setdefault(view.group, []).append(view)
        return found
