"""The rules of passive health and slow start, as plain functions the store applies.

- a target is ejected only while the group keeps enough servers: after the ejection, at most
  `maxEjectionPercent` of the group's serving targets (routable now, plus those already ejected)
  are out, so a group of one is never emptied by live traffic (50 %: one of two may go);
- the n-th ejection of a target lasts n × ejectionTimeInSec, capped at 10 ×;
- slow start: a target back from Unhealthy or an ejection takes a share of its group's new
  requests that grows linearly from 5 % to 100 % over slowStartInSec.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from probegate.config.plan import TargetKey
from probegate.health.codes import Reason, State
from probegate.health.transitions import Record

MAX_MULTIPLIER = 10
RAMP_FLOOR = 0.05  # a returning target starts with this share, never with none


def may_eject(routable: int, ejected: int, max_percent: int) -> bool:
    """Whether one more target of a group may be ejected."""
    serving = routable + ejected
    return serving > 0 and (ejected + 1) * 100 <= max_percent * serving


def ejection_seconds(base: float, ejections: int) -> float:
    """How long the `ejections`-th ejection (1 for the first) lasts."""
    return base * min(max(ejections, 1), MAX_MULTIPLIER)


def ramp_share(since: float, window: float, now: float) -> float | None:
    """A returning target's share of new requests (None: the ramp is over, a full share)."""
    if window <= 0 or now - since >= window:
        return None
    return max(RAMP_FLOOR, (now - since) / window)


@dataclass(slots=True)
class Ejection:
    until: float  # monotonic: the earliest time a passing probe brings the target back
    facts: tuple[tuple[str, str], ...]  # for the message: the run of failures, and `until`


class Outliers:
    """Ejected and ramping targets, beside the store's records (which stay the probes')."""

    def __init__(self) -> None:
        self.ejected: dict[TargetKey, Ejection] = {}
        self.ramps: dict[TargetKey, tuple[float, float]] = {}  # key → (start, window)
        self._times: Counter[TargetKey] = Counter()  # ejections so far, for the multiplier

    def eject(
        self, key: TargetKey, base: float, facts: dict[str, str], now: float, wall: float
    ) -> Ejection:
        self._times[key] += 1
        seconds = ejection_seconds(base, self._times[key])
        until = time.strftime("%H:%M:%S", time.gmtime(wall + seconds))
        shown = tuple({**facts, "until": until, "seconds": f"{seconds:g}"}.items())
        ejection = self.ejected[key] = Ejection(now + seconds, shown)
        self.ramps.pop(key, None)
        return ejection

    def release(self, key: TargetKey, now: float, window: float) -> None:
        del self.ejected[key]
        self.start_ramp(key, now, window)

    def start_ramp(self, key: TargetKey, now: float, window: float) -> None:
        if window > 0:
            self.ramps[key] = (now, window)

    def share(self, key: TargetKey, now: float) -> float | None:
        """Read only: a view may ask at any time, and only `retire` ends a ramp (after the
        sweep has marked its group, so the group is republished at full shares)."""
        ramp = self.ramps.get(key)
        return None if ramp is None else ramp_share(ramp[0], ramp[1], now)

    def retire(self, now: float) -> None:
        """Forget the ramps that are over."""
        self.ramps = {k: v for k, v in self.ramps.items() if ramp_share(v[0], v[1], now)}

    def overlay(self, key: TargetKey, record: Record) -> Record:
        ejection = self.ejected.get(key)
        if ejection is None:
            return record
        return replace(
            record, state=State.UNHEALTHY, reason=Reason.PASSIVE_EJECTION, note=ejection.facts
        )

    def keep(self, keys: Iterable[TargetKey]) -> None:
        """After a reload: forget targets that left the plan."""
        kept = set(keys)
        self.ejected = {k: v for k, v in self.ejected.items() if k in kept}
        self.ramps = {k: v for k, v in self.ramps.items() if k in kept}
        self._times = Counter({k: v for k, v in self._times.items() if k in kept})
