"""probegate's health extensions over real sockets: a rise threshold (`healthyThreshold`)."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from probegate.demo.backends import Backend, wait_until
from probegate.demo.faults import reset
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


class ResetsLiveRequests(Backend):
    """Answers its probe path, and resets every other request (a RST before any answer)."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.split(b" ", 2)[1] == PROBE_PATH.encode():
                writer.write(answer(200, b"up"))
                await writer.drain()
                continue
            reset(writer)
            return


def test_live_failures_eject_a_server_and_it_returns_after_the_ejection_time(
    tmp_path: Path,
) -> None:
    switch = Switch()
    bad = ResetsLiveRequests().start()
    good = RecordingBackend("good", handler=switch).start()
    try:
        port = free_port()
        passive = {"enabled": True, "consecutiveFailures": 3, "ejectionTimeInSec": 1}
        document = config(port, {"web": [bad, good]}, settings={"passiveHealth": passive})
        document["probes"][0] |= {"path": PROBE_PATH, "unhealthyThreshold": 3}
        with RunningGateway(tmp_path, document) as gw:
            assert gw.gateway is not None
            gw.wait_routable("web", 2)
            answers = [get(port, "/app/1").status for _ in range(12)]
            gw.wait_routable("web", 1)  # bad was ejected by its resets
            (ejected,) = [
                v
                for v in gw.gateway.snapshot().targets
                if v.record.reason.value == "passive-ejection"
            ]
            assert ejected.probe.target.key.server == bad.address
            assert "connection resets in a row on live traffic" in dict(ejected.record.note)["what"]
            assert {get(port, "/app/2").body for _ in range(4)} == {b"good"}
            events = [e for e in gw.gateway.store.events if e.to_reason.value == "passive-ejection"]
            assert len(events) == 1
            # maxEjectionPercent (50 %): good is the last server; its resets would not eject it.
            wait_until(lambda: gw.routable("web") == 2, 10, "bad to come back after 1 s")
    finally:
        bad.stop()
        good.stop()
    assert all(status in (200, 502) for status in answers)  # resets retried elsewhere or 502


def test_slow_start_gives_a_recovered_server_a_growing_share(tmp_path: Path) -> None:
    switch = Switch()
    with RecordingBackend("a", handler=switch) as a, RecordingBackend("b") as b:
        port = free_port()
        document = config(port, {"web": [a, b]}, settings={"slowStartInSec": 4})
        document["probes"][0] |= {"path": PROBE_PATH, "unhealthyThreshold": 1}
        with RunningGateway(tmp_path, document) as gw:
            assert gw.gateway is not None
            gw.wait_routable("web", 2)
            switch.failing.set()
            gw.wait_routable("web", 1)
            switch.failing.clear()
            gw.wait_routable("web", 2)  # a is back, ramping up

            def share_of_a() -> float:
                bodies = [get(port, "/app").body for _ in range(40)]
                return bodies.count(b"a") / len(bodies)

            early = share_of_a()
            ramp = [
                v.ramp
                for v in gw.gateway.snapshot().targets
                if v.probe.target.key.server == a.address
            ]
            store = gw.gateway.store
            wait_until(
                # The view says the ramp is over at once; the proxy's weights follow at the next
                # sweep (about a second later), when the group is republished at full shares.
                lambda: (
                    all(v.ramp is None for v in gw.gateway.snapshot().targets)  # type: ignore[union-attr]
                    and store.routes[GroupKey("web", "s")].weights is None
                ),
                10,
                "the ramp to end and the group to be republished at full shares",
            )
            late = share_of_a()
    assert ramp
    assert ramp[0] is not None
    assert early < 0.3
    assert late >= 0.45


def test_an_on_demand_probe_sends_the_headers_it_is_given(tmp_path: Path) -> None:
    switch = Switch()
    with RecordingBackend("a", handler=switch) as a:
        document = config(free_port(), {"web": [a]})
        document["probes"][0] |= {
            "path": PROBE_PATH,
            "headers": [{"name": "X-Tag", "value": "file"}],
        }
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            assert gw.admin_url is not None
            body = {"backendAddressPool": "web", "backendHttpSettings": "s",
                    "headers": [{"name": "X-Tag", "value": "on-demand"}]}  # fmt: skip
            status, answer_ = post_json(gw.admin_url + "/backendhealth/ondemand", body)
            assert status == 200, answer_
            bad = {**body, "headers": [{"name": "Host", "value": "x"}]}
            refused, problem = post_json(gw.admin_url + "/backendhealth/ondemand", bad)
    tags = [s.header("x-tag") for s in a.requests if s.target == PROBE_PATH]
    assert "file" in tags  # the scheduled probes
    assert tags.count("on-demand") == 1  # the on-demand probe replaced them, once
    assert refused == 400
    assert "Host is not set here" in problem["error"]["message"]


def post_json(url: str, body: object) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
