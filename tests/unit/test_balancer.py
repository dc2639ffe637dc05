"""balancer.py: round robin over what the store calls routable, affinity, draining (fake clock)."""

from __future__ import annotations

from typing import Any

import pytest

from probegate.config.plan import Target
from probegate.proxy.balancer import Balancer
from probegate.proxy.tables import BackendPlan, Tables, Upstream, compile_tables
from probegate.state.snapshot import GroupKey, RouteGroup
from tests.unit.fakeclock import Clock
from tests.unit.proxyrig import DOCUMENT, FakeHealth, plan_of

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath

GROUP = GroupKey("web", "plain")
THREE: dict[str, Any] = {
    **DOCUMENT,
    "backendAddressPools": [
        {"name": "web", "backendAddresses": [{"ipAddress": f"127.0.1.{i}"} for i in (1, 2, 3)]},
        {"name": "shop", "backendAddresses": [{"ipAddress": "127.0.2.1"}]},
    ],
}


def setup() -> tuple[Balancer, FakeHealth, Tables, BackendPlan, list[Upstream], Clock]:
    plan = plan_of(THREE)
    tables = compile_tables(plan)
    health = FakeHealth(plan)
    clock = Clock(100.0)
    backend = tables.backends[GROUP]
    upstreams = [u for k, u in tables.upstreams.items() if k.pool == "web"]
    return Balancer(health, clock), health, tables, backend, upstreams, clock


def publish(health: FakeHealth, *targets: Target) -> None:
    health.routes = {**health.routes, GROUP: RouteGroup(tuple(targets), 3, ())}  # a new mapping


def servers(picked: list[Upstream | None]) -> list[str]:
    return [u.key.server.split(":")[0][-1] if u else "-" for u in picked]


def test_round_robin_over_routable_targets() -> None:
    balancer, health, _, backend, ups, _ = setup()
    assert servers([balancer.pick(backend, None) for _ in range(4)]) == ["1", "2", "3", "1"]
    publish(health, ups[0].target, ups[2].target)  # a new published group: rebuilt once
    assert servers([balancer.pick(backend, None) for _ in range(3)]) == ["3", "1", "3"]
    publish(health)
    assert balancer.pick(backend, None) is None


def test_targets_already_tried_are_skipped() -> None:
    balancer, _, _, backend, ups, _ = setup()
    tried = [(ups[0], "refused"), (ups[1], "refused")]
    assert balancer.pick(backend, None, tried) is ups[2]
    assert balancer.pick(backend, None, [*tried, (ups[2], "refused")]) is None


def test_an_affinity_cookie_keeps_its_target_while_routable() -> None:
    balancer, health, _, backend, ups, _ = setup()
    assert balancer.pick(backend, ups[1].affinity) is ups[1]
    assert balancer.pick(backend, ups[1].affinity) is ups[1]
    assert balancer.pick(backend, ups[1].affinity, [(ups[1], "timed out")]) is not ups[1]
    publish(health, ups[0].target)
    assert balancer.pick(backend, ups[1].affinity) is ups[0]  # not routable: ignored
    assert balancer.pick(backend, b"unknown") is ups[0]


def test_a_drained_member_keeps_its_pinned_clients_until_its_deadline() -> None:
    balancer, health, _, backend, ups, clock = setup()
    publish(health, ups[0].target, ups[2].target)
    balancer.drain([(ups[1], clock.now + 30)])
    assert balancer.pick(backend, ups[1].affinity) is ups[1]
    clock.now += 31
    assert balancer.pick(backend, ups[1].affinity) is not ups[1]
    balancer.drain([])
    assert balancer.draining == {}


def test_undrained_members_are_the_store_s_again() -> None:
    balancer, health, _, backend, ups, clock = setup()
    publish(health, ups[0].target)
    balancer.drain([(ups[1], clock.now + 30)])
    balancer.undrain([ups[1].key])
    assert balancer.pick(backend, ups[1].affinity) is ups[0]


def test_previous_targets_serve_through_a_warm_up() -> None:
    """A reload moved the group's targets (new port): the published group still names the old
    targets until a new one passes, and they resolve through `previous`."""
    balancer, health, _, _, ups, _ = setup()
    moved = plan_of({**THREE, "backendHttpSettingsCollection": [
        {"name": "plain", "port": 9091, "protocol": "Http"}]})  # fmt: skip
    new_backend = compile_tables(moved).backends[GROUP]
    publish(health, ups[0].target)
    assert balancer.pick(new_backend, None) is None
    balancer.previous = {ups[0].target: ups[0]}
    health.routes = {**health.routes, GROUP: RouteGroup((ups[0].target,), 3, ())}  # rebuilt
    assert balancer.pick(new_backend, None) is ups[0]


def test_a_reload_keeps_the_turn_and_old_plans_are_not_kept() -> None:
    """Each reload compiles new backend plans: the round robin goes on where it was (not back to
    the first server every time), and the plans a reload left behind are let go."""
    balancer, health, _, backend, _, _ = setup()
    assert servers([balancer.pick(backend, None) for _ in range(2)]) == ["1", "2"]
    for _ in range(100):
        backend = compile_tables(plan_of(THREE)).backends[GROUP]  # what a reload makes
        health.routes = dict(health.routes)  # and the store publishes anew
        balancer.pick(backend, None)
    assert servers([balancer.pick(backend, None)]) == [str((2 + 100) % 3 + 1)]
    assert len(balancer._picks) <= 2 * len(balancer._by_group) + 17


def test_two_plans_picked_in_turn_keep_their_own_round_robins() -> None:
    balancer, health, tables, backend, ups, _ = setup()
    shop = tables.backends[GroupKey("shop", "plain")]
    picked = []
    for _ in range(3):  # web, shop, web, shop, ...: the latest pick's plan changes every time
        picked += [balancer.pick(backend, None), balancer.pick(shop, None)]
    assert servers(picked) == ["1", "1", "2", "1", "3", "1"]
    publish(health, ups[1].target)  # republished: the remembered pick is not used any more
    assert servers([balancer.pick(backend, None), balancer.pick(backend, None)]) == ["2", "2"]
