"""GET /backendhealth/stream over a real socket: a state change arrives as a Server-Sent Event
as it happens; a subscriber that falls behind is told so and dropped, never blocking the gateway."""

from __future__ import annotations

import asyncio
import http.client
import json
from pathlib import Path

from probegate.admin.stream import OVERFLOW, QUEUE, EventHub
from tests.integration.proxykit import RecordingBackend, RunningGateway, config, free_port


def test_a_state_change_is_pushed_as_it_happens(tmp_path: Path) -> None:
    a = RecordingBackend("a").start()
    port = free_port()
    document = config(port, {"web": [a]})
    document["history"] = {"path": ":memory:"}
    try:
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            assert gw.admin_url is not None
            connection = http.client.HTTPConnection(
                gw.admin_url.removeprefix("http://"), timeout=10
            )
            connection.request("GET", "/backendhealth/stream")
            reply = connection.getresponse()
            assert reply.status == 200
            assert reply.getheader("content-type", "").startswith("text/event-stream")
            assert reply.getheader("cache-control") == "no-store"
            assert reply.readline() == b"retry: 2000\n"
            a.stop()  # the server goes down: its probe fails (threshold 1 in this config)
            lines: list[bytes] = []
            while not lines or lines[-1] != b"\n":
                line = reply.readline()
                if line.startswith(b":") or (line == b"\n" and not lines):
                    continue  # comments and the end of the greeting
                lines.append(line)
            connection.close()
    finally:
        a.stop()
    assert lines[0] == b"event: health\n"
    data = json.loads(lines[1].removeprefix(b"data: "))
    assert (data["backendAddressPool"], data["server"]) == ("web", a.address)
    assert (data["from"], data["to"]) == ("Healthy", "Unhealthy")
    assert data["toReason"] == "tcp-connect-error"


def test_a_subscriber_that_falls_behind_is_dropped_and_told() -> None:
    async def go() -> list[object]:
        hub = EventHub()
        slow, quick = hub.subscribe(), hub.subscribe()
        for i in range(QUEUE + 1):
            hub.publish({"n": i})
            if not quick.empty():
                quick.get_nowait()  # this one keeps up
        assert hub.subscribers == 1
        return [slow.get_nowait()]

    assert asyncio.run(go()) == [OVERFLOW]  # its stream ends with `event: overflow`


def test_an_open_stream_does_not_hold_the_gateways_stop(tmp_path: Path) -> None:
    with RecordingBackend("a") as a:
        document = config(free_port(), {"web": [a]})
        document["history"] = {"path": ":memory:"}
        with RunningGateway(tmp_path, document) as gw:
            assert gw.admin_url is not None
            connection = http.client.HTTPConnection(
                gw.admin_url.removeprefix("http://"), timeout=10
            )
            connection.request("GET", "/backendhealth/stream")
            reply = connection.getresponse()
            assert reply.readline() == b"retry: 2000\n"
        # the gateway stopped (the with-block ended): the stream was ended, not left hanging
        rest = reply.read()
        connection.close()
    assert b"event:" not in rest
