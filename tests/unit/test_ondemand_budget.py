"""What keeps scheduled probes measured while on-demand probes are asked for (issue 10, point 1):
the on-demand budget, the timeout cap, and the stall checks `/healthz` reports. Fake clock and
fake prober; no sockets."""

from __future__ import annotations

import asyncio

import pytest

from probegate.admin.api import stale_problem
from probegate.config.effective import EffectiveProbe
from probegate.health.codes import Reason
from probegate.health.evaluate import Outcome
from probegate.health.ondemand import (
    Budget,
    OnDemandBusy,
    OnDemandError,
    Overrides,
    longest_timeout,
    probe_now,
)
from probegate.health.scheduler import FIRST_PROBE_WINDOW, Scheduler
from tests.unit.fakeclock import Clock
from tests.unit.test_scheduling import FakeProber, _one_probe, build, plan_of


def test_a_budget_admits_a_bounded_number_of_requests() -> None:
    budget = Budget(requests=2, probes=1)
    with budget.admit(), budget.admit():
        with pytest.raises(OnDemandBusy) as busy, budget.admit():
            pass
        assert busy.value.retry_after == 1
    with budget.admit():  # released on the way out
        pass


class SlowProber(FakeProber):
    """Takes 10 ms per probe; records how many ran at once and whether they used the cap."""

    def __init__(self) -> None:
        super().__init__()
        self.running = self.peak = 0
        self.capped: list[bool] = []

    async def probe(self, probe: EffectiveProbe, *, capped: bool = True) -> Outcome:
        self.capped.append(capped)
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        return await super().probe(probe)


def test_budget_probes_wait_their_turn_and_skip_the_shared_cap() -> None:
    prober = SlowProber()
    budget = Budget(probes=2)
    results = asyncio.run(probe_now(prober, plan_of(3), "web", "http", Overrides(), budget=budget))  # type: ignore[arg-type]
    assert len(results) == 3
    assert prober.peak == 2  # never more than the budget's probes at once
    assert prober.capped == [False, False, False]  # outside the scheduled probes' connect permits


def test_the_ondemand_timeout_is_capped_by_the_longest_probe_timeout() -> None:
    plan = plan_of(1)
    assert longest_timeout(plan) == 2
    with pytest.raises(OnDemandError, match="at most 2 s"):
        asyncio.run(probe_now(FakeProber(), plan, "web", "http", Overrides(timeout=3)))  # type: ignore[arg-type]


def test_a_scheduler_whose_due_probes_do_not_start_is_stalled() -> None:
    clock = Clock()
    _, scheduler = build(plan_of(3), FakeProber(), clock)
    assert scheduler.stalled() is None
    clock.now += FIRST_PROBE_WINDOW + Scheduler.STALLED_AFTER / 2
    assert scheduler.stalled() is None  # late, within the grace
    clock.now += Scheduler.STALLED_AFTER
    problem = scheduler.stalled()
    assert problem is not None
    assert "has not started" in problem


def test_targets_without_results_for_three_intervals_make_healthz_fail() -> None:
    clock = Clock()
    prober = FakeProber()
    store, scheduler = build(plan_of(2, interval=10), prober, clock)
    for _, key in scheduler.pending():
        asyncio.run(_one_probe(scheduler, key, clock.now))
    assert stale_problem(store.view()) is None
    clock.now += 31  # no result for more than three intervals
    assert {v.record.reason for v in store.view().targets} == {Reason.PROBE_STALE}
    assert stale_problem(store.view()) == (
        "2 of 2 targets have had no probe result for 3 intervals (probe-stale): "
        "the prober is stuck or overloaded"
    )
