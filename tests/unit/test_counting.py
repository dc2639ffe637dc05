"""The answer counters and duration histograms behind /metrics, as `count_done` keeps them:
the last route's meters are remembered by the identity of its label strings, and a route that
alternates with others, or answers before routing, still counts under its own labels."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from tests.unit.proxyrig import Rig


def test_answers_are_counted_under_each_route_s_labels_whatever_the_order() -> None:
    rig = Rig()
    proxy = rig.proxy
    assert proxy.access is None  # no access log: count_done never reads the exchange
    first = next(iter(proxy.tables.by_route.values()))
    other = replace(first, labels=("other", "web", "s"))
    copied = [(label + "#")[:-1] for label in first.labels]  # equal strings, new objects
    same_values = replace(first, labels=(copied[0], copied[1], copied[2]))
    exchange = cast(Any, None)
    for info, status in [
        (first, 200),
        (first, 200),
        (other, 503),
        (first, 404),
        (None, 400),
        (same_values, 200),
        (other, 200),
        (None, 414),
    ]:
        proxy.count_done(exchange, status, info, proxy.now or 1.0)
    listener = first.labels[0]
    assert proxy.responses[listener] == [0, 0, 3, 0, 1, 0]
    assert proxy.responses["other"] == [0, 0, 1, 0, 0, 1]
    assert proxy.responses[""] == [0, 0, 0, 0, 2, 0]
    assert sum(proxy.durations[first.labels].counts) == 4
    assert sum(proxy.durations[("other", "web", "s")].counts) == 2
    assert sum(proxy.durations[("", "", "")].counts) == 2
