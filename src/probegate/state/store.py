"""The health store: the only writer of target state; publishes what the proxy and the API read.

Rules of this module:
- one writer: only the prober's results, reloads and the drain switch change records, results
  always through `transitions.apply`; readers never lock;
- `routes` is an immutable mapping replaced as a whole whenever routability changes, so the proxy
  reads it with one attribute access per request;
- `view()` builds the full report on demand (staleness applied at read time), so 2,000 results
  a second cost no snapshot rebuilds;
- histories (last 50 results per target, compact: `health/recent.py`) and events (state
  changes) are bounded.

What a reload keeps (SPEC 6), decided in `reload` and nowhere else:
- a target whose effective probe is unchanged keeps its record, history and probe rhythm;
- a target whose probe changed but whose destination (address, port, protocol, trust) did not
  keeps its record and is *warming up*: routed on its previous verdict until the new probe's
  first result, which the scheduler asks for at once; a result of the replaced probe, still in
  flight during the reload, is not taken as the new probe's verdict;
- a group (pool, settings) left with no routable target, whose previous plan had some, keeps
  routing to those previous targets until one of its new targets passes, or until the new probe's
  timeout + 1 s have gone by (a *group warm-up*); a new member of a group that still has
  routable targets stays out until its first pass, as at start.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from probegate.config.effective import EffectiveProbe, destination, identity
from probegate.config.plan import Target, TargetKey, Tier
from probegate.health import transitions
from probegate.health.codes import HEALTHY, Reason, State
from probegate.health.recent import RecentResults
from probegate.health.result import ProbeResult
from probegate.health.transitions import CHANGED, NEW_RECORD, Change, Event, Record, Routing
from probegate.state.passive import Outliers, may_eject
from probegate.state.reloading import ReloadSummary
from probegate.state.snapshot import GroupKey, RouteGroup, Snapshot, TargetView, Unrouted

HISTORY_LENGTH = 50
EVENT_LENGTH = 1000
WARM_UP_MARGIN = 1.0  # seconds a group warm-up lasts beyond the new probe's timeout
_NO_GROUP = GroupKey("", "")


@dataclass(slots=True)
class _Tracked:
    """One target as the store keeps it."""

    probe: EffectiveProbe
    record: Record
    history: RecentResults
    since: float  # monotonic: when it appeared, or the reload that changed its probe
    warming: bool = False  # routed on its previous verdict until the new probe answers
    drained: bool = False  # drained through the admin API: no new requests
    group: GroupKey = _NO_GROUP  # its (pool, settings), set by `reload`: made once per group

    @property
    def stale_limit(self) -> float:
        return transitions.stale_after(self.probe.interval.value, self.probe.timeout.value)


@dataclass(slots=True)
class _WarmUp:
    """A group whose targets a reload replaced: the previous ones serve until a new one passes."""

    previous: tuple[_Tracked, ...]
    deadline: float  # monotonic


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
        self._targets: dict[TargetKey, _Tracked] = {}
        self._members: dict[GroupKey, list[TargetKey]] = {}
        self._warm: dict[GroupKey, _WarmUp] = {}
        self._outliers = Outliers()  # passive ejections and slow-start ramps
        self._dirty: set[GroupKey] = set()
        self._unrouted_stale: set[GroupKey] = set()  # groups published with a stale target out
        self._stale_keys: set[TargetKey] = set()  # targets whose going stale was announced
        self._wall_clock = wall_clock
        # Set by the scheduler so that the many changes of one loop turn publish once.
        self.publish_soon: Callable[[], None] | None = None
        # Set by the worker pool: told the groups each publication changed (True: all of them,
        # after a reload), which it sends to the worker processes.
        self.on_publish: Callable[[Mapping[GroupKey, RouteGroup], bool], None] | None = None
        self.routes: Mapping[GroupKey, RouteGroup] = MappingProxyType({})
        self.result_counts: Counter[tuple[TargetKey, Reason]] = Counter()  # for /metrics
        self.reload(tier, probes)

    # ------------------------------------------------------------------ reloading

    def reload(self, tier: Tier, probes: tuple[EffectiveProbe, ...]) -> ReloadSummary:
        """Adopt a new plan by the rules in the module header; say what happened to each target."""
        self.flush()
        now = self._monotonic()
        old, old_routes, old_warm = self._targets, self.routes, self._warm
        # Previous targets of a warm-up still in progress: a reload may bring them back.
        serving = {t.probe.target.key: t for w in old_warm.values() for t in w.previous}
        by_target = {id(t.probe.target): t for t in (*old.values(), *serving.values())}
        self.tier = tier
        self._targets, self._members = {}, {}
        sorted_keys: dict[str, list[TargetKey]] = {"added": [], "kept": [], "warming": []}
        for probe in probes:
            key = probe.target.key
            tracked, kind = _adopt(probe, old.get(key), serving.get(key), now)
            self._targets[key] = tracked
            sorted_keys[kind].append(key)
            group = GroupKey(key.pool, key.settings)
            members = self._members.setdefault(group, [])
            if members:
                group = self._targets[members[0]].group  # one key object per group
            tracked.group = group
            members.append(key)
        self._warm = {}
        for group in self._members:
            previous = [by_target[id(t)] for t in _served(old_routes.get(group), by_target)]
            if previous and not self._routable_members(group, now):
                carried = old_warm.get(group)
                deadline = carried.deadline if carried else now + self._warm_up_time(group)
                self._warm[group] = _WarmUp(tuple(previous), deadline)
        self._stale_keys &= self._targets.keys()
        self._outliers.keep(self._targets)
        self.routes = MappingProxyType({g: self._route_group(g, now) for g in self._members})
        self._dirty.clear()
        if self.on_publish is not None:
            self.on_publish(dict(self.routes), True)
        return self._summary(old, sorted_keys)

    def _warm_up_time(self, group: GroupKey) -> float:
        timeouts = (self._targets[k].probe.timeout.value for k in self._members[group])
        return max(timeouts, default=0.0) + WARM_UP_MARGIN

    def _summary(
        self, old: Mapping[TargetKey, _Tracked], keys: dict[str, list[TargetKey]]
    ) -> ReloadSummary:
        replaced = {
            g: tuple(t.probe.target.key.server for t in w.previous) for g, w in self._warm.items()
        }
        urgent = [*keys["warming"]]
        urgent += [k for g in self._warm for k in self._members[g] if k not in urgent]
        return ReloadSummary(
            added=tuple(keys["added"]),
            removed=tuple(k for k in old if k not in self._targets),
            kept=tuple(keys["kept"]),
            warming=tuple(keys["warming"]),
            replaced=replaced,
            probe_now=tuple(urgent),
        )

    # ------------------------------------------------------------------ writing

    def record(
        self, key: TargetKey, result: ProbeResult, probe: EffectiveProbe | None = None
    ) -> transitions.Transition | None:
        """Fold one probe result in; returns the transition (None for a target no longer known,
        or a result of a probe that a reload has since replaced)."""
        tracked = self._targets.get(key)
        if tracked is None:
            return None
        if probe is not None and _replaced(probe, tracked.probe):
            return None
        threshold = tracked.probe.unhealthy_threshold.value
        rise = tracked.probe.healthy_threshold.value
        self.result_counts[(key, result.reason)] += 1
        before = tracked.record
        now = self._monotonic()
        step = transitions.apply(before, result, threshold, now, key, rise=rise)
        tracked.record = step.record
        tracked.history.append(result)
        was_warming, tracked.warming = tracked.warming, False
        returned = self._returned(key, tracked, result, now)
        if step.event is not None:
            self._emit(step.event, step.record, tracked.probe)
            if step.event.from_state is State.UNHEALTHY and step.record.state is State.HEALTHY:
                self._outliers.start_ramp(key, now, tracked.probe.target.settings.slow_start)
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
            self._emit(event, step.record, tracked.probe)
        self._stale_keys.discard(key)
        group = tracked.group
        warm = self._warm.get(group)
        if warm is not None and step.record.state is State.HEALTHY:
            del self._warm[group]  # a new target passed: the group follows the new plan
        if (
            step.change is CHANGED
            or group in self._unrouted_stale
            or was_warming
            or returned
            or warm is not None
            or _explained_differently(before, step)
        ):
            # Routability, or what a 502 says about the group, may have changed.
            self._mark(group)
        return step

    def eject(self, key: TargetKey, facts: dict[str, str]) -> bool:
        """Live traffic failed on this target enough times in a row (passiveHealth): take it
        out, unless that would eject more than maxEjectionPercent of its group."""
        tracked = self._targets.get(key)
        passive = tracked.probe.target.settings.passive if tracked else None
        if tracked is None or passive is None or key in self._outliers.ejected:
            return False
        group = GroupKey(key.pool, key.settings)
        now = self._monotonic()
        routable = sum(r.routable for r in self._routing(group, now)[1])
        ejected = sum(k in self._outliers.ejected for k in self._members[group])
        if not may_eject(routable, ejected, passive.max_percent):
            return False
        before = self._shown(key, now)
        self._outliers.eject(key, passive.ejection_time, facts, now, self._wall_clock())
        after = self._shown(key, now)
        at = self._wall_clock()
        event = Event(at, str(key), before.state, after.state, before.reason, after.reason)
        self._emit(event, after, tracked.probe)
        self._mark(group)
        return True

    def _returned(self, key: TargetKey, tracked: _Tracked, result: ProbeResult, now: float) -> bool:
        """An ejected target comes back once its time is up and a probe passes."""
        ejection = self._outliers.ejected.get(key)
        if ejection is None or not result.passed or now < ejection.until:
            return False
        before = self._shown(key, now)
        self._outliers.release(key, now, tracked.probe.target.settings.slow_start)
        after = self._shown(key, now)
        event = Event(result.at, str(key), before.state, after.state, before.reason, after.reason)
        self._emit(event, after, tracked.probe)
        return True

    def expire_warm_ups(self, now: float) -> float | None:
        """End the group warm-ups whose time is up; return the next deadline (None: none)."""
        if not self._warm:
            return None
        for group, warm in list(self._warm.items()):
            if now >= warm.deadline:
                del self._warm[group]
                self._mark(group)
        return min((w.deadline for w in self._warm.values()), default=None)

    def set_drained(self, pool: str, address: str, drained: bool) -> list[TargetKey]:
        """Drain (or undrain) a member of a pool in every settings that use it: no new requests.
        `address` is the member's address, or an `address:port` target as reported."""
        found = [
            key
            for key, tracked in self._targets.items()
            if key.pool == pool and address in (key.server, tracked.probe.target.member.address)
        ]
        for key in found:
            self._targets[key].drained = drained
            self._mark(GroupKey(key.pool, key.settings))
        return found

    def sweep(self) -> None:
        """Unroute Healthy targets whose results stopped arriving, and route them again once
        results resume (called about once a second). A plain loop: ~1 ms at 10,000 targets."""
        now = self._monotonic()
        healthy = State.HEALTHY
        stale_now: set[GroupKey] = set()
        for group, keys in self._members.items():
            for key in keys:
                tracked = self._targets[key]
                record = tracked.record
                last = record.last_result_mono
                since = tracked.since if last is None else max(last, tracked.since)
                if record.state is healthy and now - since > tracked.stale_limit:
                    stale_now.add(group)
                    break
        for group in stale_now:
            self._note_stale(group, now)
        self._dirty |= stale_now | self._unrouted_stale
        self._unrouted_stale = stale_now
        # Slow start: a ramping target's share grows; republish its group (and once more when
        # the ramp is over, to drop the weights).
        self._dirty |= {GroupKey(k.pool, k.settings) for k in self._outliers.ramps}
        self.expire_warm_ups(now)
        self.flush()
        self._outliers.retire(now)

    def _note_stale(self, group: GroupKey, now: float) -> None:
        """One event per target when it goes stale (staleness is otherwise applied at read time)."""
        for key in self._members[group]:
            shown = self._shown(key, now)
            if shown.reason is Reason.PROBE_STALE and key not in self._stale_keys:
                self._stale_keys.add(key)
                tracked = self._targets[key]
                record, at = tracked.record, self._wall_clock()
                event = Event(at, str(key), record.state, shown.state, record.reason, shown.reason)
                self._emit(event, shown, tracked.probe)

    def _emit(self, event: Event, record: Record, probe: EffectiveProbe) -> None:
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event, record, probe)

    def flush(self) -> None:
        """Publish the groups that changed since the last flush; the others are shared as is."""
        if not self._dirty:
            return
        now = self._monotonic()
        routes = dict(self.routes)
        changed: dict[GroupKey, RouteGroup] = {}
        for group in self._dirty:
            if group in self._members:
                routes[group] = changed[group] = self._route_group(group, now)
        self._dirty.clear()
        self.routes = MappingProxyType(routes)
        if self.on_publish is not None:
            self.on_publish(changed, False)

    def _mark(self, group: GroupKey) -> None:
        first = not self._dirty
        self._dirty.add(group)
        if self.publish_soon is None:
            self.flush()
        elif first:
            self.publish_soon()

    # ------------------------------------------------------------------ reading

    def probe_of(self, key: TargetKey) -> EffectiveProbe | None:
        tracked = self._targets.get(key)
        return tracked.probe if tracked else None

    def record_of(self, key: TargetKey) -> Record | None:
        tracked = self._targets.get(key)
        return tracked.record if tracked else None

    def history_of(self, key: TargetKey) -> tuple[ProbeResult, ...]:
        tracked = self._targets.get(key)
        return tracked.history.results() if tracked else ()

    @property
    def probes(self) -> tuple[EffectiveProbe, ...]:
        return tuple(tracked.probe for tracked in self._targets.values())

    def view(self) -> Snapshot:
        """The whole report as of now: records with staleness applied, and routing per group;
        the previous targets a group warm-up still serves come last in their group."""
        now = self._monotonic()
        views: list[TargetView] = []
        for group, keys in self._members.items():
            shown, routing = self._routing(group, now)
            for key, record, route in zip(keys, shown, routing, strict=True):
                tracked = self._targets[key]
                ramp = self._outliers.share(key, now) if route.routable else None
                views.append(
                    TargetView(tracked.probe, record, route, group, tracked.warming, ramp=ramp)
                )
            warm = self._warm.get(group)
            if warm is not None and now < warm.deadline and not any(r.routable for r in routing):
                for old in warm.previous:
                    route = Routing(routable=True)
                    views.append(TargetView(old.probe, old.record, route, group, True, True))
        return Snapshot(tuple(views), self.tier)

    def _shown(self, key: TargetKey, now: float) -> Record:
        tracked = self._targets[key]
        record = transitions.stale(tracked.record, tracked.stale_limit, now, tracked.since)
        if tracked.drained:
            return replace(record, state=State.DRAINING, reason=Reason.DRAINING)
        return self._outliers.overlay(key, record)

    def _routing(self, group: GroupKey, now: float) -> tuple[list[Record], tuple[Routing, ...]]:
        keys = self._members[group]
        shown = [self._shown(k, now) for k in keys]
        return shown, transitions.routing(shown, self._targets[keys[0]].probe.min_servers.value)

    def _routable_members(self, group: GroupKey, now: float) -> bool:
        return any(r.routable for r in self._routing(group, now)[1])

    def _route_group(self, group: GroupKey, now: float) -> RouteGroup:
        keys = self._members[group]
        shown, routing = self._routing(group, now)
        targets = [self._targets[k].probe.target for k in keys]
        routable = tuple(t for t, r in zip(targets, routing, strict=True) if r.routable)
        warm = self._warm.get(group)
        if not routable and warm is not None and now < warm.deadline:
            routable = tuple(t.probe.target for t in warm.previous)
        threshold = self._targets[keys[0]].probe.unhealthy_threshold.value
        unrouted = tuple(
            Unrouted(rec.state, rec.reason, rec.consecutive_failures, threshold)
            for rec, r in zip(shown, routing, strict=True)
            if not r.routable
        )
        failing = tuple(sorted({u.reason for u in unrouted}))
        return RouteGroup(routable, len(keys), failing, unrouted, self._weights(routable, now))

    def _weights(self, routable: tuple[Target, ...], now: float) -> tuple[float, ...] | None:
        if not self._outliers.ramps:
            return None
        shares = [self._outliers.share(t.key, now) for t in routable]
        return None if all(s is None for s in shares) else tuple(s or 1.0 for s in shares)


def _adopt(
    probe: EffectiveProbe, before: _Tracked | None, served: _Tracked | None, now: float
) -> tuple[_Tracked, str]:
    """What a target of the new plan starts from: `before` is its state in the running plan,
    `served` its state as a previous target of a group warm-up (removed, still serving)."""
    if before is not None and identity(before.probe) == identity(probe):
        before.probe = probe  # the same probe; the plan objects around it are new
        return before, "kept"
    earlier = before or served
    if earlier is not None and destination(earlier.probe) == destination(probe):
        # Routed on its previous verdict until the new probe answers (probed at once).
        return _Tracked(
            probe, earlier.record, earlier.history, now, True, earlier.drained
        ), "warming"
    return _Tracked(probe, NEW_RECORD, RecentResults(HISTORY_LENGTH), now), "added"


def _replaced(ran: EffectiveProbe, current: EffectiveProbe) -> bool:
    """The probe that ran is not the target's probe any more (a reload changed it meanwhile)."""
    return ran is not current and identity(ran) != identity(current)


def _served(group: RouteGroup | None, by_target: Mapping[int, _Tracked]) -> Iterable[Target]:
    """The targets a group was routing to, that the store still knows the state of."""
    if group is None:
        return ()
    return [t for t in group.routable if id(t) in by_target]


def _explained_differently(before: Record, step: transitions.Transition) -> bool:
    """A target out of rotation whose reason or failure count changed: the 502 text changes."""
    after = step.record
    if after.state is HEALTHY:
        return False
    return after.reason is not before.reason or (
        step.change is Change.PENDING and after.consecutive_failures != before.consecutive_failures
    )
