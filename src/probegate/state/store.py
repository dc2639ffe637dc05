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

import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from probegate.config.effective import EffectiveProbe, identity
from probegate.config.plan import TargetKey, Tier
from probegate.health import transitions
from probegate.health.codes import Reason, State
from probegate.health.result import ProbeResult
from probegate.health.transitions import NEW_RECORD, Change, Event, Record
from probegate.state.snapshot import GroupKey, RouteGroup, Snapshot, TargetView

HISTORY_LENGTH = 50
EVENT_LENGTH = 1000


@dataclass(slots=True)
class _Slot:
    probe: EffectiveProbe
    record: Record
    history: deque[ProbeResult]
    since: float  # monotonic time the target appeared (start, or the reload that added it)

    @property
    def stale_limit(self) -> float:
        return transitions.stale_after(self.probe.interval.value, self.probe.timeout.value)


class HealthStore:
    def __init__(
        self,
        tier: Tier,
        probes: tuple[EffectiveProbe, ...],
        *,
        monotonic: Callable[[], float],
        on_event: Callable[[Event, Record, EffectiveProbe], None] | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._monotonic = monotonic
        self._on_event = on_event
        self.tier = tier
        self.events: deque[Event] = deque(maxlen=EVENT_LENGTH)
        self._slots: dict[TargetKey, _Slot] = {}
        self._members: dict[GroupKey, list[TargetKey]] = {}
        self._dirty: set[GroupKey] = set()
        self._unrouted_stale: set[GroupKey] = set()  # groups published with a stale target out
        self._stale_keys: set[TargetKey] = set()  # targets whose going stale was announced
        self._wall_clock = wall_clock
        # Set by the scheduler so that the many changes of one loop turn publish once.
        self.publish_soon: Callable[[], None] | None = None
        self.routes: Mapping[GroupKey, RouteGroup] = MappingProxyType({})
        self.result_counts: Counter[tuple[TargetKey, Reason]] = Counter()  # for /metrics
        self.reload(tier, probes)

    # ------------------------------------------------------------------ writing

    def reload(self, tier: Tier, probes: tuple[EffectiveProbe, ...]) -> None:
        """Adopt a new plan; targets whose effective probe is unchanged keep state and history."""
        old = self._slots
        self.tier = tier
        self._slots = {}
        self._members = {}
        for probe in probes:
            key = probe.target.key
            kept = old.get(key)
            if kept is not None and identity(kept.probe) == identity(probe):
                kept.probe = probe  # the same probe; the plan objects around it are new
                self._slots[key] = kept
            else:
                history: deque[ProbeResult] = deque(maxlen=HISTORY_LENGTH)
                self._slots[key] = _Slot(probe, NEW_RECORD, history, self._monotonic())
            self._members.setdefault(GroupKey(key.pool, key.settings), []).append(key)
        self.routes = MappingProxyType({g: self._route_group(g) for g in self._members})
        self._dirty.clear()

    def record(self, key: TargetKey, result: ProbeResult) -> transitions.Transition | None:
        """Fold one probe result in; returns the transition (None for a target no longer known)."""
        slot = self._slots.get(key)
        if slot is None:
            return None
        threshold = slot.probe.unhealthy_threshold.value
        self.result_counts[(key, result.reason)] += 1
        step = transitions.apply(slot.record, result, threshold, self._monotonic(), str(key))
        slot.record = step.record
        slot.history.append(result)
        if step.event is not None:
            self._emit(step.event, step.record, slot.probe)
        elif key in self._stale_keys and result.passed:
            # Results resumed for a target shown stale: as visible a change as any other.
            event = Event(
                result.at,
                str(key),
                State.UNKNOWN,
                step.record.state,
                Reason.PROBE_STALE,
                step.record.reason,
            )
            self._emit(event, step.record, slot.probe)
        self._stale_keys.discard(key)
        group = GroupKey(key.pool, key.settings)
        if step.change is Change.CHANGED or group in self._unrouted_stale:
            # Routability, or the reasons a 502 names, may have changed for this group.
            self._mark(group)
        return step

    def sweep(self) -> None:
        """Unroute Healthy targets whose results stopped arriving, and route them again once
        results resume (called about once a second). A plain loop: ~1 ms at 10,000 targets."""
        now = self._monotonic()
        healthy = State.HEALTHY
        stale_now: set[GroupKey] = set()
        for group, keys in self._members.items():
            for key in keys:
                slot = self._slots[key]
                record = slot.record
                last = record.last_result_mono
                since = last if last is not None else slot.since
                if record.state is healthy and now - since > slot.stale_limit:
                    stale_now.add(group)
                    break
        for group in stale_now:
            self._note_stale(group, now)
        self._dirty |= stale_now | self._unrouted_stale
        self._unrouted_stale = stale_now
        self.flush()

    def _note_stale(self, group: GroupKey, now: float) -> None:
        """One event per target when it goes stale (staleness is otherwise applied at read time)."""
        for key in self._members[group]:
            shown = self._shown(key, now)
            if shown.reason is Reason.PROBE_STALE and key not in self._stale_keys:
                self._stale_keys.add(key)
                slot = self._slots[key]
                record, at = slot.record, self._wall_clock()
                event = Event(at, str(key), record.state, shown.state, record.reason, shown.reason)
                self._emit(event, shown, slot.probe)

    def _emit(self, event: Event, record: Record, probe: EffectiveProbe) -> None:
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event, record, probe)

    def flush(self) -> None:
        """Publish the groups that changed since the last flush; the others are shared as is."""
        if not self._dirty:
            return
        routes = dict(self.routes)
        for group in self._dirty:
            if group in self._members:
                routes[group] = self._route_group(group)
        self._dirty.clear()
        self.routes = MappingProxyType(routes)

    def _mark(self, group: GroupKey) -> None:
        first = not self._dirty
        self._dirty.add(group)
        if self.publish_soon is None:
            self.flush()
        elif first:
            self.publish_soon()

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
        return tuple(slot.probe for slot in self._slots.values())

    def view(self) -> Snapshot:
        """The whole report as of now: records with staleness applied, and routing per group."""
        now = self._monotonic()
        views: list[TargetView] = []
        for group, keys in self._members.items():
            shown = [self._shown(k, now) for k in keys]
            routing = transitions.routing(shown, self._slots[keys[0]].probe.min_servers.value)
            for key, record, route in zip(keys, shown, routing, strict=True):
                views.append(TargetView(self._slots[key].probe, record, route, group))
        return Snapshot(tuple(views), self.tier)

    def _shown(self, key: TargetKey, now: float) -> Record:
        slot = self._slots[key]
        return transitions.stale(slot.record, slot.stale_limit, now, slot.since)

    def _route_group(self, group: GroupKey) -> RouteGroup:
        now = self._monotonic()
        keys = self._members[group]
        shown = [self._shown(k, now) for k in keys]
        routing = transitions.routing(shown, self._slots[keys[0]].probe.min_servers.value)
        targets = [self._slots[k].probe.target for k in keys]
        routable = tuple(t for t, r in zip(targets, routing, strict=True) if r.routable)
        down = (rec for rec, r in zip(shown, routing, strict=True) if not r.routable)
        failing = tuple(sorted({rec.reason for rec in down}))
        return RouteGroup(routable=routable, total=len(keys), failing_reasons=failing)
