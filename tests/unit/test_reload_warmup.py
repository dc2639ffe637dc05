"""Reloads on a fake clock: kept targets keep their rhythm, changed probes warm up on their previous
verdict, a replaced group keeps serving its previous targets until a new one passes. No sockets."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from probegate.config.compile import compile_plan
from probegate.config.effective import EffectiveProbe, effective_probes
from probegate.config.load import load_document
from probegate.config.plan import GatewayPlan, TargetKey
from probegate.health.codes import Reason, State
from probegate.health.evaluate import Outcome
from probegate.health.observation import Observation, Phase
from probegate.health.prober import AsyncProber
from probegate.health.result import ProbeResult
from probegate.health.scheduler import FIRST_PROBE_WINDOW, Scheduler
from probegate.proxy.context import unrouted_words
from probegate.state.reloading import ReloadSummary
from probegate.state.snapshot import GroupKey, Unrouted
from probegate.state.store import HealthStore
from tests.unit.fakeclock import Clock

GROUP = GroupKey("web", "http")


class PathProber(AsyncProber):
    """Passes every probe unless its path or server is listed as failing; counts calls."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    async def probe(self, probe: EffectiveProbe) -> Outcome:
        server, path = probe.target.key.server, probe.path.value
        self.calls.append((server, path))
        failed = path in self.failing or server in self.failing
        reason = Reason.TCP_CONNECT_ERROR if failed else Reason.SUCCESS
        observation = Observation(started_at=0.0, phase=Phase.MATCH, failure=None)
        return Outcome(observation, None, ProbeResult(reason, {}, 0.0, 1.0, {}))


def plan(
    members: list[int],
    *,
    path: str = "/health",
    port: int = 8081,
    protocol: str = "Http",
    interval: int = 1,
    timeout: int = 2,
) -> GatewayPlan:
    document: dict[str, Any] = {
        "sku": "Standard_v2",
        "httpListeners": [{"name": "front", "port": 8080, "protocol": "Http"}],
        "backendAddressPools": [
            {"name": "web", "backendAddresses": [{"ipAddress": f"127.0.1.{i}"} for i in members]}
        ],
        "backendHttpSettingsCollection": [
            {"name": "http", "port": port, "protocol": protocol, "probe": "p"}
        ],
        "probes": [
            {
                "name": "p",
                "protocol": protocol,
                "host": "web.example.test",
                "path": path,
                "interval": interval,
                "timeout": timeout,
                "unhealthyThreshold": 3,
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


class Sim:
    """The scheduler's loop, turned by hand on a fake clock."""

    def __init__(self, first: GatewayPlan) -> None:
        self.clock = Clock()
        self.prober = PathProber()
        self.store = HealthStore(first.tier, effective_probes(first), monotonic=self.clock)
        self.scheduler = Scheduler(
            self.store,
            self.prober,
            monotonic=self.clock,
            rng=random.Random(3),
        )
        self.next_sweep = self.clock.now + 1.0

    async def turn(self) -> None:
        now = self.clock.now
        self.scheduler._start_due(now)
        await self.scheduler.idle()
        self.store.expire_warm_ups(now)
        if now >= self.next_sweep:
            self.store.sweep()
            self.next_sweep = now + 1.0
        self.store.flush()

    async def run_for(self, seconds: float, step: float = 0.01) -> None:
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now += step
            await self.turn()

    def reload(self, new: GatewayPlan) -> ReloadSummary:
        summary = self.store.reload(new.tier, effective_probes(new))
        self.scheduler.reload(summary)
        return summary

    def routable(self) -> list[str]:
        return [t.key.server for t in self.store.routes[GROUP].routable]


def servers(*members: int, port: int = 8081) -> list[str]:
    return [f"127.0.1.{i}:{port}" for i in members]


def test_reloads_every_100_ms_for_30_s_keep_due_times_and_never_make_a_target_stale() -> None:
    async def go() -> None:
        sim = Sim(plan([1, 2, 3]))
        await sim.run_for(FIRST_PROBE_WINDOW + 0.1)
        assert sim.routable() == servers(1, 2, 3)
        plans = [plan([1, 2, 3, 4]), plan([1, 2, 3])]
        for i in range(300):  # 30 s of fake time
            kept = set(servers(1, 2, 3))
            before = {k.server: due for due, k in sim.scheduler.pending() if k.server in kept}
            summary = sim.reload(plans[i % 2])
            after = {k.server: due for due, k in sim.scheduler.pending() if k.server in kept}
            assert after == before  # their rhythm survives the reload
            assert {k.server for k in summary.kept} >= kept
            assert not summary.warming
            await sim.run_for(0.1)
            shown = {v.probe.target.key.server: v.record for v in sim.store.view().targets}
            assert all(shown[s].reason is not Reason.PROBE_STALE for s in kept)
            assert set(sim.routable()) >= kept
        calls = [c for c, _ in sim.prober.calls if c == servers(1)[0]]
        assert 28 <= len(calls) <= 34  # about once a second, as without reloads

    asyncio.run(go())


def test_a_changed_probe_keeps_the_previous_verdict_until_the_new_probe_answers() -> None:
    async def go() -> None:
        sim = Sim(plan([1, 2]))
        await sim.run_for(FIRST_PROBE_WINDOW + 0.1)
        sim.prober.failing.add("/new")
        summary = sim.reload(plan([1, 2], path="/new"))
        assert {k.server for k in summary.warming} == set(servers(1, 2))
        assert sim.routable() == servers(1, 2)  # still served on the old verdict
        views = sim.store.view().targets
        assert [(v.warming, v.record.state) for v in views] == [(True, State.HEALTHY)] * 2
        due = {k.server: d for d, k in sim.scheduler.pending()}
        assert all(due[s] == sim.clock.now for s in servers(1, 2))  # first new probe at once
        await sim.run_for(0.01)
        views = sim.store.view().targets
        assert [v.warming for v in views] == [False, False]  # the new probe has answered
        assert [v.record.consecutive_failures for v in views] == [1, 1]
        assert sim.routable() == servers(1, 2)  # 1 of 3 failures: the threshold decides
        await sim.run_for(3.0)
        assert sim.routable() == []
        assert {v.record.state for v in sim.store.view().targets} == {State.UNHEALTHY}

    asyncio.run(go())


def test_a_result_of_the_replaced_probe_is_not_the_new_verdict() -> None:
    sim = Sim(plan([1]))
    key = sim.store.probes[0].target.key
    old_probe = sim.store.probe_of(key)
    assert old_probe is not None
    sim.store.record(key, ProbeResult(Reason.SUCCESS, {}, 0.0, 1.0, {}), old_probe)
    sim.reload(plan([1], path="/other"))
    late = ProbeResult(Reason.TCP_CONNECT_ERROR, {}, 0.0, 1.0, {})
    assert sim.store.record(key, late, old_probe) is None
    (view,) = sim.store.view().targets
    assert view.warming
    assert view.record.state is State.HEALTHY
    assert sim.routable() == servers(1)


def test_a_probe_in_flight_during_the_reload_is_followed_at_once_by_the_new_one() -> None:
    sim = Sim(plan([1]))
    key = sim.store.probes[0].target.key
    sim.scheduler._heap.clear()
    sim.scheduler._running.add(key)
    sim.reload(plan([1], path="/other"))
    assert sim.scheduler.pending() == []  # one chain: the running probe schedules the next
    sim.scheduler._running.discard(key)
    sim.scheduler._schedule_next(key, sim.clock.now - 5)
    assert sim.scheduler.pending() == [(sim.clock.now, key)]


def test_a_swapped_pool_keeps_serving_its_previous_targets_until_a_new_one_passes() -> None:
    async def go() -> None:
        sim = Sim(plan([1, 2]))
        await sim.run_for(FIRST_PROBE_WINDOW + 0.1)
        sim.prober.failing.add(servers(3)[0])
        summary = sim.reload(plan([3, 4]))
        assert summary.replaced == {GROUP: tuple(servers(1, 2))}
        assert {k.server for k in summary.probe_now} == set(servers(3, 4))
        assert sim.routable() == servers(1, 2)
        shown = [
            (v.probe.target.key.server, v.previous, v.warming) for v in sim.store.view().targets
        ]
        assert shown == [
            (servers(3)[0], False, False),
            (servers(4)[0], False, False),
            (servers(1)[0], True, True),
            (servers(2)[0], True, True),
        ]
        await sim.run_for(0.01)  # 3 fails, 4 passes: the group follows the new plan
        assert sim.routable() == servers(4)
        assert [v.probe.target.key.server for v in sim.store.view().targets] == servers(3, 4)

    asyncio.run(go())


def test_a_group_warm_up_ends_after_the_new_probe_timeout_plus_one_second() -> None:
    async def go() -> None:
        sim = Sim(plan([1], timeout=2))
        await sim.run_for(FIRST_PROBE_WINDOW + 0.1)
        sim.prober.failing.add(servers(2)[0])
        sim.reload(plan([2], timeout=2))
        await sim.run_for(2.9)
        assert sim.routable() == servers(1)
        await sim.run_for(0.2)
        assert sim.routable() == []
        ((state, reason, failures, _),) = sim.store.routes[GROUP].unrouted
        assert (state, reason, failures) == (State.UNHEALTHY, Reason.TCP_CONNECT_ERROR, 4)

    asyncio.run(go())


def test_a_port_change_is_a_replacement_served_on_the_old_port_meanwhile() -> None:
    async def go() -> None:
        sim = Sim(plan([1]))
        await sim.run_for(FIRST_PROBE_WINDOW + 0.1)
        summary = sim.reload(plan([1], port=9091))
        assert summary.replaced == {GROUP: tuple(servers(1))}
        assert sim.routable() == servers(1)  # the old port until the new one passes
        await sim.run_for(0.01)
        assert sim.routable() == servers(1, port=9091)

    asyncio.run(go())


def test_reloads_back_and_forth_during_a_warm_up_bring_the_previous_target_back() -> None:
    async def go() -> None:
        sim = Sim(plan([1]))
        await sim.run_for(FIRST_PROBE_WINDOW + 0.1)
        sim.prober.failing.add(servers(2)[0])
        sim.reload(plan([2]))
        assert sim.routable() == servers(1)
        summary = sim.reload(plan([1]))  # back before 2 ever passed
        assert [k.server for k in summary.warming] == servers(1)
        assert sim.routable() == servers(1)  # its own verdict again, warming up
        await sim.run_for(0.01)
        assert sim.routable() == servers(1)
        assert [v.warming for v in sim.store.view().targets] == [False]

    asyncio.run(go())


def test_a_new_member_of_a_pool_still_served_waits_for_its_first_pass() -> None:
    async def go() -> None:
        sim = Sim(plan([1]))
        await sim.run_for(FIRST_PROBE_WINDOW + 0.1)
        summary = sim.reload(plan([1, 2]))
        assert summary.replaced == {}
        assert summary.probe_now == ()
        assert sim.routable() == servers(1)
        await sim.run_for(FIRST_PROBE_WINDOW + 0.1)
        assert sim.routable() == servers(1, 2)

    asyncio.run(go())


def test_an_undecided_failure_is_published_for_the_502_at_once() -> None:
    sim = Sim(plan([1]))
    (key,) = [p.target.key for p in sim.store.probes]
    assert sim.store.routes[GROUP].unrouted == (
        Unrouted(State.UNKNOWN, Reason.NOT_YET_PROBED, 0, 3),
    )
    sim.store.record(key, ProbeResult(Reason.TCP_CONNECT_ERROR, {}, 0.0, 1.0, {}))
    group = sim.store.routes[GROUP]
    assert group.unrouted == (Unrouted(State.UNKNOWN, Reason.TCP_CONNECT_ERROR, 1, 3),)
    assert unrouted_words(group) == "1 unknown (tcp-connect-error, 1 of 3 failures)"


def test_draining_a_member_takes_it_out_and_putting_it_back_restores_it() -> None:
    sim = Sim(plan([1, 2]))
    for key in [p.target.key for p in sim.store.probes]:
        sim.store.record(key, ProbeResult(Reason.SUCCESS, {}, 0.0, 1.0, {}))
    assert sim.store.set_drained("web", "127.0.1.1", True) == [
        TargetKey("web", "http", servers(1)[0])
    ]
    assert sim.routable() == servers(2)
    assert [v.record.state for v in sim.store.view().targets] == [State.DRAINING, State.HEALTHY]
    sim.reload(plan([1, 2]))  # a reload keeps the operator's drain
    assert sim.routable() == servers(2)
    assert sim.store.set_drained("web", servers(1)[0], False)
    assert sim.routable() == servers(1, 2)
    assert sim.store.set_drained("web", "127.0.9.9", True) == []
