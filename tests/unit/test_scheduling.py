"""Scheduler and store with a fake prober and a fake clock: when probes are due, and what a
reload keeps. No sockets; nothing waits on the wall clock."""

from __future__ import annotations

import asyncio
import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from probegate.config.compile import compile_plan
from probegate.config.effective import EffectiveProbe, effective_probes
from probegate.config.load import load_document
from probegate.config.plan import GatewayPlan, Tier
from probegate.health.codes import Reason, State
from probegate.health.evaluate import Outcome
from probegate.health.observation import Observation, Phase
from probegate.health.prober import AsyncProber
from probegate.health.result import ProbeResult
from probegate.health.scheduler import FIRST_PROBE_WINDOW, Scheduler
from probegate.state.snapshot import GroupKey
from probegate.state.store import HealthStore
from tests.unit.fakeclock import Clock


class FakeProber(AsyncProber):
    """Answers every probe at once with the reason set for its server."""

    def __init__(self, reasons: dict[str, Reason] | None = None) -> None:
        self.reasons = reasons or {}
        self.calls: list[str] = []

    async def probe(self, probe: EffectiveProbe) -> Outcome:
        self.calls.append(probe.target.key.server)
        reason = self.reasons.get(probe.target.key.server, Reason.SUCCESS)
        observation = Observation(started_at=0.0, phase=Phase.MATCH, failure=None)
        return Outcome(observation, None, ProbeResult(reason, {}, 0.0, 1.0, {}))


def plan_of(
    members: int, *, sku: str = "Standard_v2", interval: int = 10, min_servers: int = 0
) -> GatewayPlan:
    document: dict[str, Any] = {
        "sku": sku,
        "httpListeners": [{"name": "front", "port": 8080, "protocol": "Http"}],
        "backendAddressPools": [
            {
                "name": "web",
                "backendAddresses": [{"ipAddress": f"127.0.1.{i}"} for i in range(1, members + 1)],
            }
        ],
        "backendHttpSettingsCollection": [
            {"name": "http", "port": 8081, "protocol": "Http", "probe": "p"}
        ],
        "probes": [
            {
                "name": "p",
                "protocol": "Http",
                "host": "web.example.test",
                "interval": interval,
                "timeout": 2,
                "unhealthyThreshold": 3,
                "minServers": min_servers,
            }
        ],
        "requestRoutingRules": [
            {
                "name": "all",
                "ruleType": "Basic",
                "httpListener": "front",
                "backendAddressPool": "web",
                "backendHttpSettings": "http",
            }
        ],
    }
    return compile_plan(load_document(document, "test", Path.cwd()))


def build(plan: GatewayPlan, prober: FakeProber, clock: Clock) -> tuple[HealthStore, Scheduler]:
    store = HealthStore(plan.tier, effective_probes(plan), monotonic=clock)

    async def make() -> Scheduler:
        return Scheduler(store, prober, monotonic=clock, rng=random.Random(7))

    return store, asyncio.run(make())


def test_first_probes_are_spread_over_two_seconds() -> None:
    clock = Clock()
    _, scheduler = build(plan_of(100), FakeProber(), clock)
    dues = [due for due, _ in scheduler.pending()]
    assert len(dues) == 100
    assert min(dues) >= clock.now
    assert max(dues) <= clock.now + FIRST_PROBE_WINDOW
    first_half = sum(due < clock.now + FIRST_PROBE_WINDOW / 2 for due in dues)
    assert 40 <= first_half <= 60  # spread, not bunched


async def _one_probe(scheduler: Scheduler, key: Any, started: float) -> None:
    scheduler._start(key, started)
    await scheduler.idle()


@pytest.mark.parametrize(
    ("sku", "reason", "low", "high"),
    [
        pytest.param(
            "Standard_v2", Reason.SUCCESS, 9.0, 11.0, id="healthy-waits-interval-with-jitter"
        ),
        pytest.param(
            "Standard_v2", Reason.TCP_CONNECT_ERROR, 9.0, 11.0, id="v2-failing-waits-interval"
        ),
        pytest.param(
            "Standard", Reason.TCP_CONNECT_ERROR, 0.9, 1.1, id="v1-failing-retries-quickly"
        ),
    ],
)
def test_next_probe_is_due_after_the_interval(
    sku: str, reason: Reason, low: float, high: float
) -> None:
    clock = Clock()
    plan = plan_of(1, sku=sku)
    prober = FakeProber({"127.0.1.1:8081": reason})
    store, scheduler = build(plan, prober, clock)
    (key,) = [p.target.key for p in store.probes]
    started = clock.now

    async def go() -> None:
        scheduler._heap.clear()
        await _one_probe(scheduler, key, started)

    asyncio.run(go())
    ((due, due_key),) = scheduler.pending()
    assert due_key == key
    assert started + low <= due <= started + high
    assert prober.calls == ["127.0.1.1:8081"]


def test_probes_start_when_due_and_never_twice_at_once() -> None:
    clock = Clock()
    store, scheduler = build(plan_of(3), FakeProber(), clock)

    async def go() -> None:
        clock.now += FIRST_PROBE_WINDOW
        scheduler._start_due(clock.now)
        scheduler._running.update(p.target.key for p in store.probes)  # still in flight
        scheduler._push(clock.now, store.probes[0].target.key)  # a stray duplicate entry
        scheduler._start_due(clock.now)
        await scheduler.idle()

    asyncio.run(go())
    assert scheduler.completed == 3
    assert len(scheduler.lateness) == 3


def test_store_publishes_routable_targets_and_reasons() -> None:
    clock = Clock()
    plan = plan_of(3)
    store = HealthStore(plan.tier, effective_probes(plan), monotonic=clock)
    group = GroupKey("web", "http")
    assert store.routes[group].routable == ()  # nothing before a first success
    keys = [p.target.key for p in store.probes]
    store.record(keys[0], ProbeResult(Reason.SUCCESS, {}, 0.0, 1.0, {}))
    for _ in range(3):
        store.record(keys[1], ProbeResult(Reason.TCP_CONNECT_ERROR, {}, 0.0, 1.0, {}))
    route = store.routes[group]
    assert [t.key for t in route.routable] == [keys[0]]
    assert route.total == 3
    assert route.failing_reasons == (Reason.NOT_YET_PROBED, Reason.TCP_CONNECT_ERROR)
    view = store.view()
    assert [v.record.state for v in view.targets] == [State.HEALTHY, State.UNHEALTHY, State.UNKNOWN]


def test_min_servers_keeps_the_most_recent_success_routable() -> None:
    clock = Clock()
    plan = plan_of(2, min_servers=1)
    store = HealthStore(plan.tier, effective_probes(plan), monotonic=clock)
    keys = [p.target.key for p in store.probes]
    store.record(keys[1], ProbeResult(Reason.SUCCESS, {}, 50.0, 1.0, {}))
    for _ in range(3):
        store.record(keys[1], ProbeResult(Reason.TCP_CONNECT_ERROR, {}, 60.0, 1.0, {}))
    views = store.view().targets
    assert [v.routing.routable for v in views] == [False, True]
    assert views[1].routing.by_min_servers


def test_staleness_unroutes_after_three_intervals() -> None:
    clock = Clock()
    plan = plan_of(1, interval=5)
    store = HealthStore(plan.tier, effective_probes(plan), monotonic=clock)
    key = store.probes[0].target.key
    store.record(key, ProbeResult(Reason.SUCCESS, {}, 0.0, 1.0, {}))
    assert store.routes[GroupKey("web", "http")].routable
    clock.now += 16
    store.sweep()
    assert store.routes[GroupKey("web", "http")].routable == ()
    assert store.view().targets[0].record.reason is Reason.PROBE_STALE
    assert [(e.to_state, e.to_reason) for e in store.events][-1] == (
        State.UNKNOWN,
        Reason.PROBE_STALE,
    )
    store.sweep()
    assert (
        len([e for e in store.events if e.to_reason is Reason.PROBE_STALE]) == 1
    )  # once, not per sweep
    store.record(key, ProbeResult(Reason.SUCCESS, {}, 0.0, 1.0, {}))  # results resume
    assert (store.events[-1].from_reason, store.events[-1].to_state) == (
        Reason.PROBE_STALE,
        State.HEALTHY,
    )
    assert store.routes[GroupKey("web", "http")].routable  # routed again at once
    store.sweep()
    assert store.routes[GroupKey("web", "http")].routable


def test_a_target_added_by_reload_is_not_yet_probed_not_stale() -> None:
    clock = Clock()
    store = HealthStore(Tier.V2, effective_probes(plan_of(1, interval=5)), monotonic=clock)
    clock.now += 100
    bigger = plan_of(2, interval=5)
    store.reload(bigger.tier, effective_probes(bigger))
    reasons = [v.record.reason for v in store.view().targets]
    assert reasons == [Reason.PROBE_STALE, Reason.NOT_YET_PROBED]


def test_reload_during_a_probe_keeps_one_chain_per_target() -> None:
    clock = Clock()
    store, scheduler = build(plan_of(2), FakeProber(), clock)
    busy = store.probes[0].target.key
    scheduler._heap.clear()
    scheduler._running.add(busy)  # its probe is in flight
    bigger = plan_of(3)
    scheduler.reload(store.reload(bigger.tier, effective_probes(bigger)))
    assert [key for _, key in scheduler.pending()] == [store.probes[2].target.key]


class BrokenProber(FakeProber):
    async def probe(self, probe: EffectiveProbe) -> Outcome:
        raise RuntimeError(f"a bug of ours while probing {probe.target.key}")


def test_a_fault_inside_the_gateway_is_logged_and_the_target_stays_scheduled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    store, scheduler = build(plan_of(1), BrokenProber(), clock)
    (key,) = [p.target.key for p in store.probes]

    async def go() -> None:
        scheduler._heap.clear()
        await _one_probe(scheduler, key, clock.now)

    asyncio.run(go())
    assert scheduler.faults == 1
    assert [k for _, k in scheduler.pending()] == [key]
    assert "failed inside the gateway" in caplog.text


def test_reload_keeps_unchanged_targets_and_warms_up_changed_ones() -> None:
    clock = Clock()
    plan = plan_of(2, interval=10)
    store = HealthStore(plan.tier, effective_probes(plan), monotonic=clock)
    for key in [p.target.key for p in store.probes]:
        store.record(key, ProbeResult(Reason.SUCCESS, {}, 0.0, 1.0, {}))
    same = plan_of(3, interval=10)  # one member more: the first two are unchanged
    store.reload(same.tier, effective_probes(same))
    states = [v.record.state for v in store.view().targets]
    assert states == [State.HEALTHY, State.HEALTHY, State.UNKNOWN]
    changed = plan_of(3, interval=20)  # the probe changed: each target keeps its verdict
    summary = store.reload(changed.tier, effective_probes(changed))
    views = store.view().targets
    assert [v.record.state for v in views] == [State.HEALTHY, State.HEALTHY, State.UNKNOWN]
    assert [v.warming for v in views] == [True, True, True]
    assert [v.routing.routable for v in views] == [True, True, False]
    assert summary.probe_now == summary.warming == tuple(p.target.key for p in store.probes)
    assert len(store.history_of(store.probes[0].target.key)) == 1  # the same server's past


def test_jitter_moves_each_target_towards_its_own_place_and_stays_within_ten_percent() -> None:
    clock = Clock()
    store, scheduler = build(plan_of(100, interval=10), FakeProber(), clock)
    keys = [p.target.key for p in store.probes]
    due = dict.fromkeys(keys, clock.now)  # the worst start: every target at the same instant
    for _ in range(12):
        for key in keys:
            step = scheduler._drift(key, due[key] + 10, 10)
            assert -1.0 <= step <= 1.0  # never more than 10 % of the interval
            due[key] += 10 + step
    phases = sorted(((d - clock.now) / 10) % 1.0 for d in due.values())
    gaps = [b - a for a, b in itertools.pairwise(phases)]
    assert max(gaps) < 0.05  # spread over the interval, no burst left
