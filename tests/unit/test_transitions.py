"""The state machine of a target (SPEC section 6): tables for the rules, Hypothesis for the laws."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probegate.config.plan import Tier
from probegate.health.codes import Reason, State
from probegate.health.result import ProbeResult
from probegate.health.transitions import (
    NEW_RECORD,
    Change,
    Record,
    apply,
    next_delay,
    routing,
    stale,
    stale_after,
)

TARGET = "web~http~127.0.0.11:8080"


def result(reason: Reason, at: float = 1000.0) -> ProbeResult:
    return ProbeResult(reason=reason, facts={}, at=at, duration_ms=1.0, phases_ms={})


OK = Reason.SUCCESS
REFUSED = Reason.TCP_CONNECT_ERROR
STATUS = Reason.HTTP_STATUS_CODE_MISMATCH
LOST = Reason.DNS_LAST_GOOD_LOST


def run(reasons: list[Reason], threshold: int) -> list[tuple[State, Reason, int, Change]]:
    record, seen = NEW_RECORD, []
    for i, reason in enumerate(reasons):
        step = apply(record, result(reason, at=1000.0 + i), threshold, now=float(i), target=TARGET)
        record = step.record
        seen.append((record.state, record.reason, record.consecutive_failures, step.change))
    return seen


H, U, K = State.HEALTHY, State.UNHEALTHY, State.UNKNOWN
C, P, N = Change.CHANGED, Change.PENDING, Change.UNCHANGED


@pytest.mark.parametrize(
    ("reasons", "threshold", "expected"),
    [
        pytest.param([OK], 3, [(H, OK, 0, C)], id="one-success-is-healthy-at-once"),
        pytest.param([OK, OK], 3, [(H, OK, 0, C), (H, OK, 0, N)], id="steady-success-is-unchanged"),
        pytest.param(
            [OK, REFUSED, REFUSED, REFUSED],
            3,
            [(H, OK, 0, C), (H, REFUSED, 1, P), (H, REFUSED, 2, P), (U, REFUSED, 3, C)],
            id="threshold-counts-consecutive-failures",
        ),
        pytest.param(
            [OK, REFUSED, REFUSED, OK, REFUSED],
            3,
            [
                (H, OK, 0, C),
                (H, REFUSED, 1, P),
                (H, REFUSED, 2, P),
                (H, OK, 0, N),
                (H, REFUSED, 1, P),
            ],
            id="success-resets-the-count",
        ),
        pytest.param(
            [OK, REFUSED], 0, [(H, OK, 0, C), (U, REFUSED, 1, C)], id="threshold-0-first-failure"
        ),
        pytest.param([OK, REFUSED], 1, [(H, OK, 0, C), (U, REFUSED, 1, C)], id="threshold-1"),
        pytest.param(
            [REFUSED, REFUSED, REFUSED],
            3,
            [(K, REFUSED, 1, P), (K, REFUSED, 2, P), (U, REFUSED, 3, C)],
            id="never-healthy-stays-unknown-until-threshold",
        ),
        pytest.param(
            [OK, REFUSED, STATUS],
            1,
            [(H, OK, 0, C), (U, REFUSED, 1, C), (U, STATUS, 2, C)],
            id="new-reason-while-down-is-an-event",
        ),
        pytest.param(
            [OK, REFUSED, REFUSED, OK],
            2,
            [(H, OK, 0, C), (H, REFUSED, 1, P), (U, REFUSED, 2, C), (H, OK, 0, C)],
            id="recovers-at-first-success",
        ),
        pytest.param(
            [OK, LOST, LOST, OK],
            3,
            [(H, OK, 0, C), (K, LOST, 1, C), (K, LOST, 2, P), (H, OK, 0, C)],
            id="addresses-lost-is-unknown-at-once-whatever-the-threshold",
        ),
        pytest.param(
            [OK, REFUSED, REFUSED, LOST],
            2,
            [(H, OK, 0, C), (H, REFUSED, 1, P), (U, REFUSED, 2, C), (K, LOST, 3, C)],
            id="unhealthy-then-addresses-lost-is-unknown",
        ),
    ],
)
def test_transitions(
    reasons: list[Reason], threshold: int, expected: list[tuple[State, Reason, int, Change]]
) -> None:
    assert run(reasons, threshold) == expected


def test_events_carry_from_and_to() -> None:
    up = apply(NEW_RECORD, result(OK, at=5.0), 3, now=1.0, target=TARGET)
    assert up.event is not None
    assert (up.event.from_state, up.event.to_state, up.event.to_reason) == (K, H, OK)
    assert up.event.target == TARGET
    assert up.record.since == 5.0


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        pytest.param(29.0, Reason.SUCCESS, id="fresh"),
        pytest.param(30.0, Reason.SUCCESS, id="exactly-three-intervals"),
        pytest.param(30.5, Reason.PROBE_STALE, id="stale"),
    ],
)
def test_stale_after_three_intervals(age: float, expected: Reason) -> None:
    record = apply(NEW_RECORD, result(OK), 3, now=100.0, target=TARGET).record
    shown = stale(record, limit=stale_after(10, 5), now=100.0 + age, since=0.0)
    assert shown.reason is expected
    assert shown.state is (H if expected is Reason.SUCCESS else K)


def test_never_probed_becomes_stale_from_start() -> None:
    assert stale(NEW_RECORD, limit=15, now=16.0, since=0.0).reason is Reason.PROBE_STALE
    assert stale(NEW_RECORD, limit=15, now=14.0, since=0.0).reason is Reason.NOT_YET_PROBED


@pytest.mark.parametrize(
    ("interval", "timeout", "limit"),
    [
        pytest.param(10, 5, 30, id="three-intervals"),
        pytest.param(1, 5, 6, id="slow-probe-still-in-flight"),
    ],
)
def test_stale_after_is_never_shorter_than_one_probe(
    interval: int, timeout: int, limit: float
) -> None:
    assert stale_after(interval, timeout) == limit


@pytest.mark.parametrize(
    ("tier", "failures", "threshold", "expected"),
    [
        pytest.param(Tier.V1, 1, 3, 1.0, id="v1-retries-quickly"),
        pytest.param(Tier.V1, 3, 3, 30.0, id="v1-waits-once-down"),
        pytest.param(Tier.V1, 0, 3, 30.0, id="v1-healthy-waits"),
        pytest.param(Tier.V2, 1, 3, 30.0, id="v2-always-waits"),
    ],
)
def test_next_delay(tier: Tier, failures: int, threshold: int, expected: float) -> None:
    record = replace(NEW_RECORD, consecutive_failures=failures)
    assert next_delay(record, tier, 30.0, threshold) == expected


def rec(state: State, last_success: float | None) -> Record:
    reason = Reason.SUCCESS if state is H else REFUSED
    return Record(state=state, reason=reason, last_success_at=last_success)


@pytest.mark.parametrize(
    ("records", "min_servers", "expected"),
    [
        pytest.param([rec(H, 1), rec(U, 2)], 0, [(True, False), (False, False)], id="healthy-only"),
        pytest.param(
            [rec(U, 1), rec(U, 5), rec(U, None)],
            1,
            [(False, False), (True, True), (False, False)],
            id="most-recent-success-first",
        ),
        pytest.param(
            [rec(U, 3), rec(U, 3)], 1, [(True, True), (False, False)], id="then-config-order"
        ),
        pytest.param(
            [rec(K, None), rec(U, None)],
            2,
            [(False, False), (False, False)],
            id="never-passed-never-added",
        ),
        pytest.param(
            [rec(H, 1), rec(U, 1), rec(State.DRAINING, 9)],
            3,
            [(True, False), (True, True), (False, False)],
            id="draining-never-added",
        ),
    ],
)
def test_min_servers(
    records: list[Record], min_servers: int, expected: list[tuple[bool, bool]]
) -> None:
    assert [(r.routable, r.by_min_servers) for r in routing(records, min_servers)] == expected


REASONS = st.sampled_from([OK, REFUSED, STATUS, Reason.BACKEND_SERVER_TIMEOUT])


@given(st.lists(REASONS, max_size=40), st.integers(min_value=0, max_value=20))
def test_never_healthy_before_a_success(reasons: list[Reason], threshold: int) -> None:
    states = [state for state, *_ in run(reasons, threshold)]
    first_ok = reasons.index(OK) if OK in reasons else len(reasons)
    assert H not in states[:first_ok]


@given(st.lists(REASONS, max_size=40), st.integers(min_value=0, max_value=20))
def test_unhealthy_exactly_when_the_trailing_failures_reach_the_threshold(
    reasons: list[Reason], threshold: int
) -> None:
    for i, (state, _, failures, _) in enumerate(run(reasons, threshold)):
        trailing = 0
        for reason in reversed(reasons[: i + 1]):
            if reason is OK:
                break
            trailing += 1
        assert failures == trailing
        assert (state is U) == (trailing >= max(threshold, 1))


@given(st.lists(REASONS, min_size=1, max_size=40), st.integers(min_value=0, max_value=20))
def test_an_event_only_when_state_or_down_reason_changes(
    reasons: list[Reason], threshold: int
) -> None:
    record = NEW_RECORD
    for i, reason in enumerate(reasons):
        step = apply(record, result(reason), threshold, now=float(i), target=TARGET)
        visible_change = step.record.state is not record.state or (
            step.record.state is U and step.record.reason is not record.reason
        )
        assert (step.event is not None) == visible_change
        record = step.record


# ------------------------------------------------------------------------ healthyThreshold

RECOVERING = Reason.RECOVERING


def rise(reasons: list[Reason], threshold: int, needed: int) -> list[tuple[State, Reason, int]]:
    record, seen = NEW_RECORD, []
    for i, reason in enumerate(reasons):
        step = apply(record, result(reason), threshold, float(i), TARGET, rise=needed)
        record = step.record
        seen.append((record.state, record.reason, record.consecutive_successes))
    return seen


@pytest.mark.parametrize(
    ("reasons", "needed", "expected"),
    [
        pytest.param([OK], 3, [(H, OK, 0)], id="never-probed-needs-one-pass"),
        pytest.param(
            [REFUSED, OK, OK, OK],
            3,
            [(U, REFUSED, 0), (U, RECOVERING, 1), (U, RECOVERING, 2), (H, OK, 0)],
            id="unhealthy-needs-three-passes",
        ),
        pytest.param(
            [REFUSED, OK, REFUSED, OK, OK],
            2,
            [(U, REFUSED, 0), (U, RECOVERING, 1), (U, REFUSED, 0), (U, RECOVERING, 1), (H, OK, 0)],
            id="a-failure-starts-the-count-again",
        ),
        pytest.param([REFUSED, OK], 1, [(U, REFUSED, 0), (H, OK, 0)], id="one-is-the-model"),
        pytest.param(
            [OK, REFUSED, OK],
            3,
            [(H, OK, 0), (H, REFUSED, 0), (H, OK, 0)],
            id="healthy-below-the-threshold-is-not-recovering",
        ),
    ],
)
def test_healthy_threshold(
    reasons: list[Reason], needed: int, expected: list[tuple[State, Reason, int]]
) -> None:
    threshold = 1 if reasons[:1] == [REFUSED] else 3
    assert rise(reasons, threshold, needed) == expected
