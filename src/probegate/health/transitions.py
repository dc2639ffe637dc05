"""The state machine of one target (SPEC section 6): result + record → new record + transition.

Rules of this module:
- everything that affects a target's state lives here, and nowhere else;
- pure functions over values never changed once made (`replace` makes new ones); time is
  passed in (`now`: monotonic seconds), never read;
- one success → Healthy at once and the failure count resets — except for an Unhealthy target
  whose probe has a `healthyThreshold` (probegate extension) above 1: it needs that many passes
  in a row, and shows `recovering` meanwhile (a target never probed still needs one pass);
- consecutive failures reach `unhealthyThreshold` → Unhealthy (0: the first failure does);
  before that the state is kept and the report shows the latest failing reason and the count;
- a failure whose reason is an Unknown one (a member's addresses were lost: nothing could be
  probed) makes the target Unknown at once, whatever the threshold: it is no verdict on the
  backend, and nothing can be routed to it either;
- a target starts Unknown / not-yet-probed and is never routable before its first success;
- no result for 3 intervals (at least interval + timeout) → Unknown / probe-stale (a fault of
  the prober, not of the backend);
- an event is produced when the state changes, or when an Unhealthy target's reason changes
  (the explanation an operator acts on); never once per probe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from probegate.config.plan import TargetKey, Tier
from probegate.health.codes import HEALTHY, SUCCESS, UNHEALTHY, Reason, State
from probegate.health.result import ProbeResult

STALE_INTERVALS = 3
V1_RETRY_SECONDS = 1.0  # v1 re-probes a failing target this soon, until the threshold decides


class Change(StrEnum):
    UNCHANGED = "unchanged"  # same state, same reason
    PENDING = "pending"  # failing, but the threshold has not decided yet
    CHANGED = "changed"  # the state or the reason shown changed


# per-probe reads, as module names (see `codes.SUCCESS`)
UNCHANGED: Final = Change.UNCHANGED
PENDING: Final = Change.PENDING
CHANGED: Final = Change.CHANGED


@dataclass(slots=True)
class Record:
    state: State
    reason: Reason
    consecutive_failures: int = 0
    last_result: ProbeResult | None = None
    last_success_at: float | None = None  # wall clock, for reports
    last_result_mono: float | None = None  # monotonic, for staleness
    since: float | None = None  # wall clock of the last state change
    consecutive_successes: int = 0  # passes in a row while recovering (healthyThreshold)
    # facts of an overlay the store shows over the record (a passive ejection's run of failures)
    note: tuple[tuple[str, str], ...] = ()

    # Spelled out so that the compiled build compiles it (health/observation.py says why).
    def __init__(  # noqa: PLR0917 - the dataclass's own signature, positional too
        self,
        state: State,
        reason: Reason,
        consecutive_failures: int = 0,
        last_result: ProbeResult | None = None,
        last_success_at: float | None = None,
        last_result_mono: float | None = None,
        since: float | None = None,
        consecutive_successes: int = 0,
        note: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.state = state
        self.reason = reason
        self.consecutive_failures = consecutive_failures
        self.last_result = last_result
        self.last_success_at = last_success_at
        self.last_result_mono = last_result_mono
        self.since = since
        self.consecutive_successes = consecutive_successes
        self.note = note


NEW_RECORD = Record(state=State.UNKNOWN, reason=Reason.NOT_YET_PROBED)


@dataclass(frozen=True, slots=True)
class Event:
    at: float  # wall clock
    target: str
    from_state: State
    to_state: State
    from_reason: Reason
    to_reason: Reason


@dataclass(slots=True)
class Transition:
    record: Record
    change: Change
    event: Event | None

    def __init__(self, record: Record, change: Change, event: Event | None) -> None:
        self.record = record
        self.change = change
        self.event = event


def apply(
    record: Record,
    result: ProbeResult,
    threshold: int,
    now: float,
    target: TargetKey | str,
    *,
    rise: int = 1,
) -> Transition:
    """Fold one probe result into a target's record (`rise`: the probe's healthyThreshold).
    `target` is what an event names; a key is put into words only when there is an event."""
    passes = record.consecutive_successes + 1
    if result.passed and record.state is UNHEALTHY and passes < rise:
        recovering = replace(
            record,
            reason=Reason.RECOVERING,
            consecutive_failures=0,
            consecutive_successes=passes,
            last_result=result,
            last_success_at=result.at,
            last_result_mono=now,
        )
        return _transition(record, recovering, result.at, target)
    if result.passed:
        new = Record(
            state=HEALTHY,
            reason=SUCCESS,
            consecutive_failures=0,
            last_result=result,
            last_success_at=result.at,
            last_result_mono=now,
            since=record.since,
        )
    else:
        failures = record.consecutive_failures + 1
        down = failures >= max(threshold, 1)
        kept = State.UNKNOWN if record.state in (State.UNKNOWN, State.DRAINING) else record.state
        if result.reason.state is State.UNKNOWN:  # nothing could be probed: no verdict at all
            down, kept = False, State.UNKNOWN
        new = replace(
            record,
            state=UNHEALTHY if down else kept,
            reason=result.reason,
            consecutive_failures=failures,
            consecutive_successes=0,
            last_result=result,
            last_result_mono=now,
        )
    return _transition(record, new, result.at, target)


def _transition(old: Record, new: Record, at: float, target: TargetKey | str) -> Transition:
    state_changed = new.state is not old.state
    explanation_changed = new.state is UNHEALTHY and new.reason is not old.reason
    if state_changed or explanation_changed:
        changed = replace(new, since=at if state_changed else old.since)
        event = Event(at, str(target), old.state, new.state, old.reason, new.reason)
        return Transition(changed, CHANGED, event)
    pending = new.consecutive_failures > 0 and new.state is not UNHEALTHY
    return Transition(new, PENDING if pending else UNCHANGED, None)


def stale_after(interval: float, timeout: float) -> float:
    """Seconds without a result before a target is stale: 3 intervals, and never less than one
    interval plus the probe timeout (a slow probe still in flight is not a stuck prober)."""
    return max(STALE_INTERVALS * interval, interval + timeout)


def stale(record: Record, limit: float, now: float, since: float) -> Record:
    """The record as shown at `now`: Unknown / probe-stale when no result came for `limit`
    seconds, counted from the last result or from `since` (when the target appeared, or the
    reload that changed its probe), whichever is later."""
    last = since if record.last_result_mono is None else max(record.last_result_mono, since)
    if now - last <= limit or record.state is State.DRAINING:
        return record
    return replace(record, state=State.UNKNOWN, reason=Reason.PROBE_STALE)


def next_delay(record: Record, tier: Tier, interval: float, threshold: int) -> float:
    """Seconds until the next probe of this target (before jitter)."""
    failing = 0 < record.consecutive_failures < max(threshold, 1)
    if tier is Tier.V1 and failing:
        return min(V1_RETRY_SECONDS, interval)
    return interval


@dataclass(frozen=True, slots=True)
class Routing:
    routable: bool
    by_min_servers: bool = False


def routing(records: Sequence[Record], min_servers: int) -> tuple[Routing, ...]:
    """Which targets of one (pool, settings) pair take traffic, given `minServers`.

    Healthy targets always do. When fewer than `minServers` are Healthy, the others with the most
    recent success (then in config order) are added until that number is reached; draining
    targets, and targets that never passed a probe, never are.
    """
    result = [Routing(r.state is State.HEALTHY) for r in records]
    missing = min_servers - sum(r.routable for r in result)
    if missing <= 0:
        return tuple(result)
    # Only targets that passed a probe once: none takes traffic before its first success.
    spare = [
        i
        for i, r in enumerate(records)
        if r.state not in (State.HEALTHY, State.DRAINING) and r.last_success_at is not None
    ]
    spare.sort(key=lambda i: (-(records[i].last_success_at or float("-inf")), i))
    for i in spare[:missing]:
        result[i] = Routing(routable=True, by_min_servers=True)
    return tuple(result)
