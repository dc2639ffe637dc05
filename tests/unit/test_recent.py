"""health/recent.py: the compact ring of a target's last results reads back what the history view
shows of each result, in order, and shares the facts of a steady target."""

from __future__ import annotations

from probegate.admin import views
from probegate.health.codes import Reason
from probegate.health.recent import RecentResults
from probegate.health.result import ProbeResult
from probegate.i18n import Lang

AT = 1_700_000_000.25


def passed(i: int) -> ProbeResult:
    facts = {
        "url": "http://127.0.0.1:8081/health",
        "status": "200",
        "address": "127.0.0.1:8081",
        "duration_ms": str(3 + i),
    }
    return ProbeResult(Reason.SUCCESS, facts, AT + i, 3.2 + i, {"connect": 0.4}, status=200)


def refused(i: int) -> ProbeResult:
    facts = {"address": "127.0.0.1:8081", "detail": "refused", "duration_ms": "0"}
    return ProbeResult(Reason.TCP_CONNECT_ERROR, facts, AT + i, 0.3, {"connect": 0.3})


def test_it_keeps_the_last_results_oldest_first() -> None:
    ring = RecentResults(5)
    results = [passed(i) if i % 3 else refused(i) for i in range(12)]
    for result in results:
        ring.append(result)
    kept = ring.results()
    assert len(ring) == 5
    assert [r.at for r in kept] == [r.at for r in results[-5:]]
    assert [r.reason for r in kept] == [r.reason for r in results[-5:]]


def test_what_the_history_view_shows_is_unchanged_in_both_languages() -> None:
    ring = RecentResults(50)
    results = [passed(i) if i % 4 else refused(i) for i in range(30)]
    for result in results:
        ring.append(result)
    for lang in Lang:
        assert [views.result_summary(r, lang) for r in ring.results()] == [
            views.result_summary(r, lang) for r in results
        ]


def test_before_it_is_full_it_reads_back_what_it_has() -> None:
    ring = RecentResults(50)
    assert ring.results() == ()
    ring.append(refused(0))
    (only,) = ring.results()
    assert only.reason is Reason.TCP_CONNECT_ERROR
    assert only.status is None
    assert only.facts == refused(0).facts


def test_a_steady_target_keeps_one_facts_dict_and_a_flapping_one_two() -> None:
    ring = RecentResults(50)
    for i in range(20):
        ring.append(passed(i))
    assert len({id(f) for f in ring._facts}) == 1
    flapping = RecentResults(50)
    for i in range(20):
        flapping.append(passed(i) if i % 2 else refused(i))
    assert len({id(f) for f in flapping._facts}) == 2


def test_a_duration_fact_that_is_not_a_plain_number_is_kept_as_it_was() -> None:
    ring = RecentResults(3)
    odd = ProbeResult(Reason.SUCCESS, {"duration_ms": "007", "url": "u"}, AT, 7.0, {}, status=200)
    ring.append(odd)
    ring.append(ProbeResult(Reason.SUCCESS, {"url": "u"}, AT, 7.0, {}, status=204))
    first, second = ring.results()
    assert first.facts == {"duration_ms": "007", "url": "u"}
    assert second.facts == {"url": "u"}
    assert second.status == 204
