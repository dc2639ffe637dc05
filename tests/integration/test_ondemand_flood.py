"""An on-demand probe flood cannot starve the scheduled probes (issue 10, point 1), over real
loopback sockets.

300 concurrent `POST /backendhealth/ondemand` ask for probes of two members whose connects hang
(full accept queues) with the longest timeout allowed, while a light stream of requests goes
through the listener to a healthy pool probed every second. Before the on-demand budget, those
probes took the prober's whole connect cap and the healthy pool went `probe-stale` (502s within
three seconds); now at most ONDEMAND_REQUESTS of them run, the rest are answered 429 with
Retry-After at once, and no listener request may fail.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from probegate.demo.faults import FullAcceptQueue
from probegate.health.ondemand import ONDEMAND_REQUESTS, RETRY_AFTER
from tests.integration.proxykit import RecordingBackend, RunningGateway, config, free_port, get

FLOOD = 300
HANG_TIMEOUT = 4  # the longest probe timeout configured: the cap of an on-demand timeout


@pytest.fixture
def hanging() -> Iterator[list[FullAcceptQueue]]:
    queues = [FullAcceptQueue(), FullAcceptQueue()]
    for queue in queues:
        queue.start()
    try:
        yield queues
    finally:
        for queue in queues:
            queue.stop()


async def _ondemand(port: int, body: bytes) -> tuple[int, str | None, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /backendhealth/ondemand HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    status = int(raw[9:12])
    retry = next(
        (
            line.split(b":", 1)[1].strip().decode()
            for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if line.lower().startswith(b"retry-after:")
        ),
        None,
    )
    return status, retry, raw.split(b"\r\n\r\n", 1)[1]


async def _flood(port: int) -> list[tuple[int, str | None, bytes]]:
    body = json.dumps(
        {"backendAddressPool": "hang", "backendHttpSettings": "hang-s", "timeout": HANG_TIMEOUT}
    ).encode()
    return await asyncio.gather(*(_ondemand(port, body) for _ in range(FLOOD)))


def test_an_ondemand_flood_does_not_starve_scheduled_probes(
    tmp_path: Path, hanging: list[FullAcceptQueue]
) -> None:
    with RecordingBackend("web") as web:
        document = config(free_port(), {"web": [web], "hang": []})
        document["backendAddressPools"][1]["backendAddresses"] = [
            {"ipAddress": q.host, "port": q.port} for q in hanging
        ]
        document["backendHttpSettingsCollection"].append(
            {"name": "hang-s", "port": 80, "protocol": "Http", "probe": "hang-p"}
        )
        document["probes"].append(
            {
                "name": "hang-p",
                "protocol": "Http",
                "host": "hang.test",
                "interval": 30,
                "timeout": HANG_TIMEOUT,
            }
        )
        gateway = RunningGateway(tmp_path, document).start()
        try:
            gateway.wait_routable("web", 1)
            assert gateway.admin_url is not None
            admin_port = urlsplit(gateway.admin_url).port
            assert admin_port is not None

            statuses: Counter[int] = Counter()
            healthz: Counter[int] = Counter()
            done = threading.Event()

            def light_load() -> None:
                while not done.is_set():
                    statuses[get(gateway.port, "/", host="app.test").status] += 1
                    healthz[get(admin_port, "/healthz", host="127.0.0.1").status] += 1
                    time.sleep(0.05)

            load = threading.Thread(target=light_load, name="light-load")
            load.start()
            started = time.monotonic()
            try:
                answers = asyncio.run(_flood(admin_port))
                # Keep the load on past the stale limit of the healthy pool (3 intervals).
                while time.monotonic() - started < HANG_TIMEOUT + 3:
                    time.sleep(0.1)
            finally:
                done.set()
                load.join(30)
        finally:
            gateway.stop()

    by_status = Counter(status for status, _, _ in answers)
    print(
        f"on-demand answers: {dict(by_status)}; listener: {dict(statuses)}; /healthz: {dict(healthz)}"
    )
    assert set(by_status) <= {200, 429}, by_status
    assert 1 <= by_status[200] <= ONDEMAND_REQUESTS
    assert by_status[429] >= FLOOD - ONDEMAND_REQUESTS
    for status, retry, body in answers:
        if status == 429:
            assert retry == str(RETRY_AFTER)
            assert json.loads(body)["error"]["code"] == "TooManyRequests"
        else:
            servers = json.loads(body)["backendHealthHttpSettings"]["servers"]
            assert {s["reason"] for s in servers} == {"tcp-connect-error"}
    assert sum(statuses.values()) >= 40, statuses  # the load really ran through the flood
    assert set(statuses) == {200}, statuses  # zero failed requests through the listener
    assert set(healthz) == {200}, healthz  # and the gateway says it is healthy, truly
