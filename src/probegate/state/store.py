"""The health store: the only writer of target state; publishes what the proxy and the API read.

Rules of this module:
- one writer: only the prober's results (and reloads) change records, always through
  `transitions.apply`; readers never lock;
- `routes` is an immutable mapping replaced as a whole whenever routability changes, so the proxy
  reads it with one attribute access per request;
- `view(now)` builds the full report on demand (staleness applied at read time), so 2,000 results
  a second cost no snapshot rebuilds;
- histories (last 50 results per target) and events (state changes) are bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from probegate.config.effective import EffectiveProbe, identity
from probegate.config.plan import Target, TargetKey, Tier
from probegate.health import transitions
from probegate.health.result import ProbeResult
from probegate.health.transitions import NEW_RECORD, Change, Event, Record, Routing
from probegate.state.snapshot import GroupKey, RouteGroup, Snapshot, TargetView

HISTORY_LENGTH = 50
EVENT_LENGTH = 1000


@dataclass(slots=True)
class _Slot:
    probe: EffectiveProbe
    record: Record
    history: deque[ProbeResult]


class HealthStore:
    def __init__(
        self,
        tier: Tier,
        probes: tuple[EffectiveProbe, ...],
        *,
        monotonic: Callable[[], float],
        on_event: Callable[[Event, Record], None] | None = None,
    ) -> None:
        self._monotonic = monotonic
        self._on_event = on_event
        self.tier = tier
        self.started = monotonic()
        self.events: deque[Event] = deque(maxlen=EVENT_LENGTH)
        self._slots: dict[TargetKey, _Slot] = {}
        self._order: list[TargetKey] = []
        self.routes: Mapping[GroupKey, RouteGroup] = MappingProxyType({})
        self.reload(tier, probes)

    # ------------------------------------------------------------------ writing

    def reload(self, tier: Tier, probes: tuple[EffectiveProbe, ...]) -> None:
        """Adopt a new plan; targets whose effective probe is unchanged keep state and history."""
        old = self._slots
        self.tier = tier
        self._slots = {}
        for probe in probes:
            kept = old.get(probe.target.key)
            if kept is not None and identity(kept.probe) == identity(probe):
                kept.probe = probe  # the same probe; the plan objects around it are new
                self._slots[probe.target.key] = kept
            else:
                self._slots[probe.target.key] = _Slot(
                    probe, NEW_RECORD, deque(maxlen=HISTORY_LENGTH)
                )
        self._order = [p.target.key for p in probes]
        self.publish()

    def record(self, key: TargetKey, result: ProbeResult) -> transitions.Transition | None:
        """Fold one probe result in; returns the transition (None for a target no longer known)."""
        slot = self._slots.get(key)
        if slot is None:
            return None
        threshold = slot.probe.unhealthy_threshold.value
        step = transitions.apply(slot.record, result, threshold, self._monotonic(), str(key))
        slot.record = step.record
        slot.history.append(result)
        if step.event is not None:
            self.events.append(step.event)
            if self._on_event is not None:
                self._on_event(step.event, step.record)
        if step.change is Change.CHANGED:
            self.publish()  # routability or the reasons a 502 names may have changed
        return step

    def sweep(self) -> None:
        """Re-publish when staleness changed what is routable (called about once a second)."""
        fresh = self._routes()
        if fresh != dict(self.routes):
            self.routes = MappingProxyType(fresh)

    def publish(self) -> None:
        self.routes = MappingProxyType(self._routes())

    # ------------------------------------------------------------------ reading

    def probe_of(self, key: TargetKey) -> EffectiveProbe | None:
        slot = self._slots.get(key)
        return slot.probe if slot else None

    def record_of(self, key: TargetKey) -> Record | None:
        slot = self._slots.get(key)
        return slot.record if slot else None

    def history_of(self, key: TargetKey) -> tuple[ProbeResult, ...]:
        slot = self._slots.get(key)
        return tuple(slot.history) if slot else ()

    @property
    def probes(self) -> tuple[EffectiveProbe, ...]:
        return tuple(self._slots[k].probe for k in self._order)

    def view(self) -> Snapshot:
        """The whole report as of now: records with staleness applied, and routing per group."""
        now = self._monotonic()
        groups = self._groups()
        views: list[TargetView] = []
        for group_key, keys in groups.items():
            shown = [self._shown(k, now) for k in keys]
            min_servers = self._slots[keys[0]].probe.min_servers.value
            routing = transitions.routing(shown, min_servers)
            for key, record, route in zip(keys, shown, routing, strict=True):
                slot = self._slots[key]
                views.append(TargetView(slot.probe, record, route, group_key))
        return Snapshot(tuple(views), self.tier)

    def _shown(self, key: TargetKey, now: float) -> Record:
        slot = self._slots[key]
        return transitions.stale(slot.record, slot.probe.interval.value, now, self.started)

    def _groups(self) -> dict[GroupKey, list[TargetKey]]:
        groups: dict[GroupKey, list[TargetKey]] = {}
        for key in self._order:
            groups.setdefault(GroupKey(key.pool, key.settings), []).append(key)
        return groups

    def _routes(self) -> dict[GroupKey, RouteGroup]:
        now = self._monotonic()
        routes: dict[GroupKey, RouteGroup] = {}
        for group_key, keys in self._groups().items():
            shown = [self._shown(k, now) for k in keys]
            min_servers = self._slots[keys[0]].probe.min_servers.value
            routing = transitions.routing(shown, min_servers)
            routes[group_key] = _route_group(
                [self._slots[k].probe.target for k in keys], shown, routing
            )
        return routes


def _route_group(
    targets: list[Target], records: list[Record], routing: tuple[Routing, ...]
) -> RouteGroup:
    routable = tuple(t for t, r in zip(targets, routing, strict=True) if r.routable)
    down = (rec for rec, r in zip(records, routing, strict=True) if not r.routable)
    failing = sorted({rec.reason for rec in down})
    return RouteGroup(routable=routable, total=len(targets), failing_reasons=tuple(failing))
