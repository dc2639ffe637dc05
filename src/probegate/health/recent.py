"""The last results of one target (SPEC: the last 50), kept compact: what the history view shows.

Rules of this module:
- it keeps what `?expand=history` renders of each result — time, reason, status, duration and the
  facts its message names — and nothing else (the record keeps the latest result whole, with its
  phases, warnings and certificate expiry);
- one packed row per result (23 bytes) in a ring that grows to `capacity` and then overwrites its
  oldest row; the facts of consecutive results are one shared dict when they are equal, which
  they are for a steady target (only the duration differs, and the duration is kept in the row);
- pure: no asyncio, no I/O. At 10,000 targets × 50 results this is ~18 MB instead of the ~0.8 GB
  that 500,000 whole `ProbeResult`s held (each with its own facts and phases dicts).
"""

from __future__ import annotations

import struct

from probegate.health.codes import Reason
from probegate.health.result import ProbeResult

# at (epoch seconds), duration (ms), the `duration_ms` fact (NO_FACT: kept in the
# dict), HTTP status (0: none), reason (its index in REASONS)
_ROW = struct.Struct("<ddIHB")
REASONS: tuple[Reason, ...] = tuple(Reason)
_INDEX = {reason: i for i, reason in enumerate(REASONS)}
NO_FACT = 0xFFFFFFFF
DURATION_FACT = "duration_ms"  # the one fact that changes on every probe (evaluate's `.0f`)
_SHARED_LOOKBACK = 4  # earlier rows whose facts a new row may share (a flapping target alternates)


class RecentResults:
    """A bounded ring of results, oldest first when read back."""

    __slots__ = ("_capacity", "_count", "_facts", "_rows")

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._rows = bytearray()
        self._facts: list[dict[str, str]] = []
        self._count = 0  # results ever appended

    def __len__(self) -> int:
        return min(self._count, self._capacity)

    def append(self, result: ProbeResult) -> None:
        facts, shown = self._facts_of(result.facts)
        slot = self._count % self._capacity
        row = (result.at, result.duration_ms, shown, result.status or 0, _INDEX[result.reason])
        if not self._rows:  # sized once, at the first result: growing would over-allocate
            self._rows = bytearray(_ROW.size * self._capacity)
        _ROW.pack_into(self._rows, slot * _ROW.size, *row)
        if len(self._facts) < self._capacity:
            self._facts.append(facts)
        else:
            self._facts[slot] = facts
        self._count += 1

    def results(self) -> tuple[ProbeResult, ...]:
        """The kept results, oldest first, rebuilt as `ProbeResult`s (no phases or warnings)."""
        kept = len(self)
        first = self._count - kept
        return tuple(self._result((first + i) % self._capacity) for i in range(kept))

    def _result(self, slot: int) -> ProbeResult:
        at, duration, shown, status, reason = _ROW.unpack_from(self._rows, slot * _ROW.size)
        facts = self._facts[slot]
        if shown != NO_FACT:
            facts = {**facts, DURATION_FACT: str(shown)}
        return ProbeResult(REASONS[reason], facts, at, duration, {}, status or None)

    def _facts_of(self, facts: dict[str, str]) -> tuple[dict[str, str], int]:
        """What a row keeps of a result's facts: an equal dict of a recent row when there is one
        (shared instead of kept twice), else the facts without `duration_ms`; and that fact as a
        number, when it is a plain number (NO_FACT: it stays in the dict)."""
        shown = facts.get(DURATION_FACT)
        if (
            shown is None
            or not shown.isdigit()
            or str(int(shown)) != shown
            or int(shown) >= NO_FACT
        ):
            return self._shared(facts, facts, False), NO_FACT
        return self._shared(facts, None, True), int(shown)

    def _shared(
        self, facts: dict[str, str], own: dict[str, str] | None, split: bool
    ) -> dict[str, str]:
        """An earlier row's facts equal to `facts` (without `duration_ms` when `split`), compared
        in place, so a steady target makes no dict at all; else `own`, or a copy without it."""
        kept = len(self._facts)
        newest = (self._count - 1) % self._capacity
        for back in range(min(_SHARED_LOOKBACK, kept)):
            earlier = self._facts[(newest - back) % kept]
            if _same(earlier, facts, split):
                return earlier
        if own is not None:
            return own
        return {k: v for k, v in facts.items() if k != DURATION_FACT}


def _same(kept: dict[str, str], facts: dict[str, str], split: bool) -> bool:
    """`kept` equals `facts`, leaving out `facts`' duration when `split` (`kept` has none)."""
    if not split:
        return kept == facts
    if len(kept) != len(facts) - 1:
        return False
    return all(facts.get(key) == value for key, value in kept.items())
