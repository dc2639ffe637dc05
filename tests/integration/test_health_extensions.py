"""probegate's health extensions over real sockets: a rise threshold (`healthyThreshold`)."""

from __future__ import annotations

import threading
from pathlib import Path

from probegate.demo.backends import wait_until
from probegate.state.snapshot import GroupKey
from tests.integration.proxykit import (
    RecordingBackend,
    RunningGateway,
    Seen,
    answer,
    config,
    free_port,
    get,
)

PROBE_PATH = "/probe"


class Switch:
    """A probe endpoint that answers 503 while `failing` is set."""

    def __init__(self) -> None:
        self.failing = threading.Event()

    def __call__(self, _: RecordingBackend, seen: Seen) -> bytes | None:
        if seen.target != PROBE_PATH:
            return None
        return answer(503, b"down") if self.failing.is_set() else answer(200, b"up")


def test_an_unhealthy_server_needs_healthy_threshold_passes_to_take_traffic_again(
    tmp_path: Path,
) -> None:
    switch = Switch()
    with RecordingBackend("a", handler=switch) as a:
        port = free_port()
        document = config(port, {"web": [a]})
        document["probes"][0] |= {
            "path": PROBE_PATH,
            "unhealthyThreshold": 1,
            "healthyThreshold": 3,
        }
        with RunningGateway(tmp_path, document) as gw:
            assert gw.gateway is not None
            gw.wait_routable("web", 1)  # a target never probed needs one pass only
            switch.failing.set()
            gw.wait_routable("web", 0)
            switch.failing.clear()
            probes_before = sum(1 for s in a.requests if s.target == PROBE_PATH)
            seen: list[tuple[str, int]] = []

            def recovering() -> bool:
                assert gw.gateway is not None
                (view,) = gw.gateway.snapshot().targets
                record = view.record
                if (
                    record.reason.value == "recovering"
                    and (record.reason.value, record.consecutive_successes) not in seen
                ):
                    seen.append((record.reason.value, record.consecutive_successes))
                    assert not gw.gateway.store.routes[GroupKey("web", "s")].routable
                    assert get(port).status == 502  # still out of rotation
                return record.state.value == "Healthy"

            wait_until(recovering, 10, "three passes in a row")
            passes = sum(1 for s in a.requests if s.target == PROBE_PATH) - probes_before
            assert get(port).body == b"a"
    assert seen == [("recovering", 1), ("recovering", 2)]
    assert passes >= 3


def test_probe_headers_reach_the_backend_with_every_probe(tmp_path: Path) -> None:
    switch = Switch()
    with RecordingBackend("a", handler=switch) as a:
        port = free_port()
        document = config(port, {"web": [a]})
        document["probes"][0] |= {
            "path": PROBE_PATH,
            "headers": [
                {"name": "Authorization", "value": "Bearer probe-secret"},
                {"name": "X-Probe-Tag", "value": "blue"},
                {"name": "User-Agent", "value": "health-check/1"},
            ],
        }
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
    probes = [s for s in a.requests if s.target == PROBE_PATH]
    assert probes
    first = probes[0]
    assert first.header("authorization") == "Bearer probe-secret"
    assert first.header("x-probe-tag") == "blue"
    assert first.all("user-agent") == ["health-check/1"]  # replaces probegate's own
    assert first.header("host") == "probe.test"
