"""The X-AppGW-Trace-Id of each request: 32 lowercase hex digits, never the same twice."""

from __future__ import annotations

import re

import pytest

from tests.unit.proxyrig import Rig

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath


def test_trace_ids_are_32_hex_digits_counting_across_the_256_request_steps() -> None:
    proxy = Rig().proxy
    traces = [proxy.next_trace() for _ in range(70_000)]  # past 256 and past 65,536 requests
    assert all(re.fullmatch(rb"[0-9a-f]{32}", t) for t in traces)
    assert len(set(traces)) == len(traces)
    prefixes = {t[:16] for t in traces}
    assert len(prefixes) == 1  # one random prefix per process
    assert [int(t[16:], 16) for t in traces] == list(range(1, len(traces) + 1))
    assert Rig().proxy.next_trace()[:16] != traces[0][:16]  # each gateway draws its own
