"""The duration histogram puts each observation where Prometheus' `le` semantics want it."""

from __future__ import annotations

from bisect import bisect_left

from hypothesis import given
from hypothesis import strategies as st

from probegate.histogram import BUCKETS, Histogram


@given(st.lists(st.floats(min_value=0.0, max_value=1e6, allow_nan=False), max_size=50))
def test_each_observation_lands_in_the_first_bucket_whose_bound_it_does_not_exceed(
    seconds: list[float],
) -> None:
    histogram = Histogram()
    expected = [0] * (len(BUCKETS) + 1)
    for s in seconds:
        histogram.observe(s)
        expected[bisect_left(BUCKETS, s)] += 1
    assert histogram.counts == expected
    assert histogram.sum == sum(seconds)


def test_a_bound_itself_counts_in_its_own_bucket_and_above_every_bound_only_in_inf() -> None:
    histogram = Histogram()
    for s in (*BUCKETS, BUCKETS[-1] * 2):
        histogram.observe(s)
    assert histogram.counts == [1] * (len(BUCKETS) + 1)
    cumulative = histogram.cumulative()
    assert cumulative[0] == (str(BUCKETS[0]), 1.0)
    assert cumulative[-1] == ("+Inf", float(len(BUCKETS) + 1))
