"""Passive health and slow start on a fake clock: runs of live failures eject a target (within
maxEjectionPercent), it returns after the ejection time once a probe passes, and a returning
target's share of new requests ramps up. No sockets."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from probegate.config.compile import compile_plan
from probegate.config.effective import effective_probes
from probegate.config.load import load_document
from probegate.config.plan import GatewayPlan, TargetKey
from probegate.health.codes import Reason, State
from probegate.health.result import ProbeResult
from probegate.proxy.balancer import weighted
from probegate.proxy.evidence import LiveEvidence
from probegate.proxy.tables import compile_tables
from probegate.state.passive import ejection_seconds, may_eject, ramp_share
from probegate.state.snapshot import GroupKey
from probegate.state.store import HealthStore
from tests.unit.fakeclock import Clock
from tests.unit.proxyrig import plan_of

GROUP = GroupKey("web", "http")
OK = ProbeResult(Reason.SUCCESS, {}, 0.0, 1.0, {})
DOWN = ProbeResult(Reason.TCP_CONNECT_ERROR, {}, 0.0, 1.0, {})


def plan(members: int, *, passive: dict[str, Any] | None = None, slow: int = 0) -> GatewayPlan:
    settings: dict[str, Any] = {"name": "http", "port": 8081, "protocol": "Http", "probe": "p"}
    settings["passiveHealth"] = {"enabled": True, "ejectionTimeInSec": 10, **(passive or {})}
    settings["slowStartInSec"] = slow
    document: dict[str, Any] = {
        "httpListeners": [{"name": "front", "port": 8080, "protocol": "Http"}],
        "backendAddressPools": [
            {"name": "web", "backendAddresses": [{"ipAddress": f"127.0.1.{i}"} for i in range(1, members + 1)]}
        ],
        "backendHttpSettingsCollection": [settings],
        "probes": [
            {"name": "p", "protocol": "Http", "host": "web.test", "interval": 5, "timeout": 2,
             "unhealthyThreshold": 1}
        ],
        "requestRoutingRules": [
            {"name": "all", "ruleType": "Basic", "httpListener": "front",
             "backendAddressPool": "web", "backendHttpSettings": "http"}
        ],
    }  # fmt: skip
    return compile_plan(load_document(document, "test", Path.cwd()))


def healthy_store(members: int, clock: Clock, **options: Any) -> HealthStore:
    built = plan(members, **options)
    store = HealthStore(built.tier, effective_probes(built), monotonic=clock, wall_clock=clock)
    for probe in store.probes:
        store.record(probe.target.key, OK)
    return store


def routable(store: HealthStore) -> list[str]:
    return [t.key.server for t in store.routes[GROUP].routable]


FACTS = {"what": "5 connection resets in a row on live traffic", "count": "5", "kinds": "reset",
         "first": "12:03:01", "last": "12:03:04"}  # fmt: skip


def test_an_ejected_target_is_out_with_its_own_reason_and_an_event() -> None:
    clock = Clock()
    store = healthy_store(2, clock)
    key = store.probes[0].target.key
    assert store.eject(key, FACTS)
    assert routable(store) == ["127.0.1.2:8081"]
    shown = store.view().targets[0]
    assert (shown.record.state, shown.record.reason) == (State.UNHEALTHY, Reason.PASSIVE_EJECTION)
    assert dict(shown.record.note)["until"] == "00:16:50"  # 1000 s + 10 s, as UTC
    event = store.events[-1]
    assert (event.from_state, event.to_state, event.to_reason) == (
        State.HEALTHY,
        State.UNHEALTHY,
        Reason.PASSIVE_EJECTION,
    )


def test_max_ejection_percent_keeps_the_last_servers_in() -> None:
    clock = Clock()
    store = healthy_store(2, clock)
    first, second = (p.target.key for p in store.probes)
    assert store.eject(first, FACTS)
    assert not store.eject(second, FACTS)  # 50 %: one of two at most
    assert routable(store) == ["127.0.1.2:8081"]
    alone = healthy_store(1, clock)
    assert not alone.eject(alone.probes[0].target.key, FACTS)  # never the only server


def ejected_first(clock: Clock) -> tuple[HealthStore, TargetKey]:
    """Two healthy targets with a 20 s slow start; the first one just ejected."""
    store = healthy_store(2, clock, slow=20)
    key = store.probes[0].target.key
    assert store.eject(key, FACTS)
    return store, key


def all_pass(store: HealthStore) -> None:
    for probe in store.probes:
        store.record(probe.target.key, OK)


def test_it_returns_after_the_ejection_time_once_a_probe_passes_and_ramps_up() -> None:
    clock = Clock()
    store, key = ejected_first(clock)
    clock.now += 5
    store.record(key, OK)  # too soon: still out
    assert routable(store) == ["127.0.1.2:8081"]
    clock.now += 6
    store.record(key, OK)
    assert routable(store) == ["127.0.1.1:8081", "127.0.1.2:8081"]
    assert store.events[-1].to_state is State.HEALTHY
    weights = store.routes[GROUP].weights
    assert weights is not None
    assert weights[0] == pytest.approx(0.05)  # slow start: a small share first
    clock.now += 10
    all_pass(store)  # probes keep passing meanwhile
    store.sweep()
    assert store.routes[GROUP].weights == pytest.approx((0.5, 1.0))
    assert store.view().targets[0].ramp == pytest.approx(0.5)
    clock.now += 11
    all_pass(store)
    store.sweep()
    store.sweep()
    assert store.routes[GROUP].weights is None  # the ramp is over


def test_a_view_taken_after_the_ramp_ends_does_not_leave_its_weights_published() -> None:
    clock = Clock()
    store, key = ejected_first(clock)
    clock.now += 11
    store.record(key, OK)
    store.sweep()
    assert store.routes[GROUP].weights is not None
    clock.now += 21
    all_pass(store)
    assert store.view().targets[0].ramp is None  # the operator looks first ...
    store.sweep()  # ... and the next sweep still republishes the group at full shares
    assert store.routes[GROUP].weights is None


def test_the_nth_ejection_lasts_n_times_longer_capped() -> None:
    assert [ejection_seconds(30, n) for n in (1, 2, 3, 50)] == [30, 60, 90, 300]
    assert may_eject(routable=3, ejected=0, max_percent=50)
    assert may_eject(routable=2, ejected=1, max_percent=50) is False
    assert may_eject(routable=0, ejected=0, max_percent=100) is False
    assert ramp_share(0, 10, 2.5) == 0.25
    assert ramp_share(0, 10, 10) is None


class Ejections:
    def __init__(self) -> None:
        self.calls: list[tuple[object, dict[str, str]]] = []

    def eject(self, key: object, facts: dict[str, str]) -> bool:
        self.calls.append((key, facts))
        return True


def test_a_run_of_counted_failures_asks_for_an_ejection_and_a_good_answer_ends_it() -> None:
    passive = (
        plan(1, passive={"consecutiveFailures": 3, "failures": ["reset", "5xx"]})
        .settings[0]
        .passive
    )
    assert passive is not None
    store = Ejections()
    evidence = LiveEvidence(store, wall_clock=lambda: 43_381.0)  # 12:03:01 UTC
    key = plan(1).targets[0].key
    evidence.failed(key, passive, "reset")
    evidence.failed(key, passive, "timeout")  # not counted by these settings
    evidence.failed_status(key, passive, 200)  # a good answer ends the run
    evidence.failed(key, passive, "reset")
    evidence.failed_status(key, passive, 503)
    assert store.calls == []
    evidence.failed(key, passive, "reset")
    ((ejected, facts),) = store.calls
    assert ejected == key
    assert (
        facts["what"]
        == "2 connection resets and 1 5xx answer in a row on live traffic, 12:03:01–12:03:01 UTC"
    )


def test_a_weighted_cycle_gives_each_upstream_its_share_spread_out() -> None:
    one = next(iter(compile_tables(plan_of()).upstreams.values()))
    a, b, c = (dataclasses.replace(one, address=name) for name in "abc")
    cycle = weighted((a, b, c), (1.0, 1.0, 0.25))
    counts = Counter(u.address for u in cycle)
    assert counts == {"a": 20, "b": 20, "c": 5}
    spelled = "".join(u.address for u in cycle)
    assert max(len(run) for run in spelled.split("c")) < 20  # no burst of one upstream
