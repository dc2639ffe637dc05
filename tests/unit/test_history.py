"""The lasting history: events survive a restart, availability and flapping come from the
changes, retention prunes, and a database that cannot be used leaves health working in memory."""

from __future__ import annotations

from pathlib import Path

from probegate.health.codes import Reason, State
from probegate.health.transitions import Event
from probegate.state.history import DAY, History

T0 = 1_700_000_000.0
TARGET = "app~web~127.0.0.11:80"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def change(at: float, before: State, after: State, target: str = TARGET) -> Event:
    reason = Reason.SUCCESS if after is State.HEALTHY else Reason.TCP_CONNECT_ERROR
    return Event(at, target, before, after, Reason.NOT_YET_PROBED, reason)


H, U, K = State.HEALTHY, State.UNHEALTHY, State.UNKNOWN


def test_events_survive_a_restart_with_their_availability(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    clock = Clock()
    first = History(path, wall_clock=clock)
    first.add(change(T0, K, H))
    first.add(change(T0 + 1800, H, U))
    first.add(change(T0 + 1800, H, U, target="api~web~127.0.0.12:80"))
    first.close()
    clock.now = T0 + 3600
    again = History(path, wall_clock=clock)
    assert again.problem is None
    assert [(e.at, e.to_state) for e in again.events(T0 - 1, pool="app")] == [
        (T0, H),
        (T0 + 1800, U),
    ]
    assert len(again.events(T0 - 1)) == 3
    assert again.events(T0 + 1000, server="127.0.0.12:80")[0].target.startswith("api~")
    shares = again.availability(TARGET)
    assert shares.hour == 0.5
    assert shares.day == 0.5
    assert not shares.flapping
    again.close()


def test_flapping_is_four_changes_within_fifteen_minutes(tmp_path: Path) -> None:
    clock = Clock(T0 + 600)
    history = History(None, wall_clock=clock)
    for i, (a, b) in enumerate([(K, H), (H, U), (U, H), (H, U)]):
        history.add(change(T0 + i * 100, a, b))
    assert history.availability(TARGET).flapping
    assert history.availability(TARGET).changes_last_hour == 4
    clock.now = T0 + 2000
    assert not history.availability(TARGET).flapping
    assert history.availability("nothing~known~here").hour is None


def test_retention_removes_old_events_when_the_database_opens(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    clock = Clock()
    history = History(path, retention_days=14, wall_clock=clock)
    history.add(change(T0, K, H))
    history.add(change(T0 + 10 * DAY, H, U))
    history.close()
    clock.now = T0 + 15 * DAY
    reopened = History(path, retention_days=14, wall_clock=clock)
    assert [e.to_state for e in reopened.events(0)] == [U]
    reopened.close()


def test_a_corrupt_database_is_reported_and_history_goes_on_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"this is not an SQLite database" * 100)
    clock = Clock()
    history = History(path, wall_clock=clock)
    assert history.problem is not None
    assert "cannot use the history database" in history.problem
    history.add(change(T0, K, H))
    assert [e.to_state for e in history.events(0)] == [H]
    clock.now = T0 + 60
    assert history.availability(TARGET).day == 1.0


def test_an_unwritable_place_is_reported(tmp_path: Path) -> None:
    history = History(tmp_path / "missing" / "folder" / "history.sqlite", wall_clock=Clock())
    assert history.problem is not None
    history.add(change(T0, K, H))
    assert len(history.events(0)) == 1
