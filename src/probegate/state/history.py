"""Lasting health history: every state change in an embedded SQLite database (probegate extension).

Rules of this module:
- the event loop never touches the disk: `add` puts the event on a queue and a writer thread
  commits it (in batches, WAL journal), so a slow disk never delays a probe;
- availability and flapping are computed from an in-memory copy of the last day's changes
  (loaded from the database at start, so a restart keeps them), never by a query per report;
- a database that cannot be opened or written is reported once (`problem`) and the history goes
  on in memory: health never depends on the disk;
- reads for the API (`events`) use their own connection, on the caller's thread.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from probegate.health.codes import Reason, State
from probegate.health.transitions import Event

log = logging.getLogger("probegate.history")

DAY = 86_400.0
HOUR = 3_600.0
FLAP_WINDOW = 900.0  # seconds: flapping = at least FLAP_CHANGES state changes within this
FLAP_CHANGES = 4
MEMORY_EVENTS = 5_000  # kept in memory when there is no database
BATCH = 256

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    at REAL NOT NULL,
    target TEXT NOT NULL,
    pool TEXT NOT NULL,
    settings TEXT NOT NULL,
    server TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    from_reason TEXT NOT NULL,
    to_reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_at ON events (at);
"""


@dataclass(frozen=True, slots=True)
class Availability:
    """A target's share of time Healthy over the last hour and day, and whether it flaps."""

    hour: float | None  # 0..1; None: nothing known in the window
    day: float | None
    flapping: bool
    changes_last_hour: int


class History:
    def __init__(
        self,
        path: Path | None,
        *,
        retention_days: int = 14,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path  # None: in memory only
        self.retention = retention_days * DAY
        self.problem: str | None = None  # why the database is not in use, when it is not
        self._clock = wall_clock
        # target → its changes of the last day, oldest first: a list, not a deque (an empty
        # deque is ~620 bytes, and at 10,000 targets most hold one or two changes)
        self._changes: dict[str, list[tuple[float, State]]] = {}
        self._memory: deque[Event] = deque(maxlen=MEMORY_EVENTS)
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        if path is not None:
            self._open(path)

    # ------------------------------------------------------------------ writing

    def _open(self, path: Path) -> None:
        try:
            connection = sqlite3.connect(path, check_same_thread=False)
        except sqlite3.Error as exc:
            self._give_up(f"cannot use the history database {path}: {exc}")
            return
        try:
            connection.executescript(SCHEMA)
            connection.execute("PRAGMA journal_mode=WAL")
            horizon = self._clock() - self.retention
            connection.execute("DELETE FROM events WHERE at < ?", (horizon,))
            connection.commit()
            rows = connection.execute(
                "SELECT at, target, from_state, to_state, from_reason, to_reason FROM events"
                " WHERE at >= ? ORDER BY at",
                (self._clock() - DAY,),
            ).fetchall()
        except sqlite3.Error as exc:
            connection.close()
            self._give_up(f"cannot use the history database {path}: {exc}")
            return
        for at, target, _, to_state, _, _ in rows:
            self._remember(target, at, State(to_state))
        self._writer = threading.Thread(
            target=self._write, args=(connection,), name="history", daemon=True
        )
        self._writer.start()

    def _give_up(self, problem: str) -> None:
        self.problem = problem
        self.path = None
        log.error("%s; health history is kept in memory only", problem)

    def add(self, event: Event) -> None:
        """Record one state change (called on the event loop; never blocks)."""
        self._remember(event.target, event.at, event.to_state)
        if self.path is None:
            self._memory.append(event)
        else:
            self._queue.put(event)

    def _remember(self, target: str, at: float, state: State) -> None:
        changes = self._changes.get(target)
        if changes is None:
            changes = self._changes[target] = []
        changes.append((at, state))
        horizon = at - DAY
        old = 0
        while old + 1 < len(changes) and changes[old + 1][0] < horizon:
            old += 1  # keep one change before the window: the state it started in
        if old:
            del changes[:old]

    def _write(self, connection: sqlite3.Connection) -> None:
        last_prune = self._clock()
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get())
            stop = None in batch
            rows = [_row(e) for e in batch if e is not None]
            try:
                connection.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
                if self._clock() - last_prune > HOUR:
                    horizon = self._clock() - self.retention
                    connection.execute("DELETE FROM events WHERE at < ?", (horizon,))
                    last_prune = self._clock()
                connection.commit()
            except sqlite3.Error as exc:
                self._memory.extend(e for e in batch if e is not None)
                self._give_up(f"cannot write the history database: {exc}")
                connection.close()
                return
            if stop:
                connection.close()
                return

    def close(self) -> None:
        """Write what is queued and stop the writer (at gateway stop)."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(10)
            self._writer = None

    # ------------------------------------------------------------------ reading

    def events(
        self, since: float, pool: str | None = None, server: str | None = None
    ) -> list[Event]:
        """State changes since `since` (epoch seconds), oldest first."""
        if self.path is None:
            found: Iterable[Event] = [e for e in list(self._memory) if e.at >= since]
        else:
            found = self._query(self.path, since)
        return [
            e
            for e in found
            if (pool is None or target_parts(e.target)[0] == pool)
            and (server is None or target_parts(e.target)[2] == server)
        ]

    def _query(self, path: Path, since: float) -> list[Event]:
        try:
            with sqlite3.connect(path) as connection:
                rows = connection.execute(
                    "SELECT at, target, from_state, to_state, from_reason, to_reason FROM events"
                    " WHERE at >= ? ORDER BY at LIMIT 100000",
                    (since,),
                ).fetchall()
        except sqlite3.Error as exc:
            log.error("cannot read the history database %s: %s", path, exc)
            return [e for e in list(self._memory) if e.at >= since]
        return [
            Event(at, target, State(a), State(b), Reason(r1), Reason(r2))
            for at, target, a, b, r1, r2 in rows
        ]

    def shares(self, now: float) -> Mapping[str, Availability]:
        """Availability by target key as of `now`, each computed when it is looked up."""
        return _Shares(self, now)

    def availability(self, target: str, now: float | None = None) -> Availability:
        now = self._clock() if now is None else now
        changes = self._changes.get(target, [])
        times = [at for at, _ in changes]
        recent = len(times) - bisect_left(times, now - FLAP_WINDOW)
        last_hour = len(times) - bisect_left(times, now - HOUR)
        return Availability(
            _healthy_share(changes, now - HOUR, now),
            _healthy_share(changes, now - DAY, now),
            recent >= FLAP_CHANGES,
            last_hour,
        )


class _Shares(Mapping[str, Availability]):
    """Every target has an availability (all None when nothing is known); iterating lists the
    targets the history knows."""

    def __init__(self, history: History, now: float) -> None:
        self._history, self._now = history, now

    def __getitem__(self, target: str) -> Availability:
        return self._history.availability(target, self._now)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._history._changes))

    def __len__(self) -> int:
        return len(self._history._changes)


def _healthy_share(changes: list[tuple[float, State]], start: float, end: float) -> float | None:
    """The share of [start, end] spent Healthy, counted from the first change known."""
    known = healthy = 0.0
    for i, (at, state) in enumerate(changes):
        until = changes[i + 1][0] if i + 1 < len(changes) else end
        begin, stop = max(at, start), min(until, end)
        if stop <= begin:
            continue
        known += stop - begin
        if state is State.HEALTHY:
            healthy += stop - begin
    return round(healthy / known, 4) if known > 0 else None


def target_parts(target: str) -> tuple[str, str, str]:
    """(pool, settings, server) of an event's target, `pool~settings~server` as keys print."""
    pool, settings, server = [*target.split("~", 2), "", ""][:3]
    return pool, settings, server


def _row(event: Event) -> tuple[object, ...]:
    pool, settings, server = target_parts(event.target)
    return (
        event.at,
        event.target,
        pool,
        settings,
        server,
        event.from_state.value,
        event.to_state.value,
        event.from_reason.value,
        event.to_reason.value,
    )
