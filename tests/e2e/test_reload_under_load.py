"""`probegate run` under load while its file is rewritten and SIGHUP sent 23 times: no
client request fails, and once the reloads stop the traffic follows the last file.

The reloads alternate the member set (a member added, two removed, the whole pool swapped), the
probe path and the request timeout; 16 clients (12 on keep-alive connections, 4 opening a new
connection per request) send GETs through the listener the whole time. It runs with the data path
in the gateway's process (`workers: 1`) and in two worker processes (`workers: 2`), where each
reload is compiled once and handed to both workers. Loopback only."""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from probegate.demo.backends import unused_port
from tests.e2e.test_run import Gateway

pytestmark = pytest.mark.e2e

RELOADS = 23
RELOAD_EVERY = 0.4  # seconds: closer together than the 1 s probe interval
KEEP_ALIVE_CLIENTS = 12
NEW_CONNECTION_CLIENTS = 4
MEMBER_SETS = [(0, 1, 2), (0, 1, 2, 3), (2, 3), (0, 1)]  # the last swaps the whole pool


class _Named(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards the gateway

    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        if self.path not in ("/health", "/healthz"):
            self.server.served[body.decode()] += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class NamedBackend:
    """A keep-alive HTTP server on its own loopback address that answers with its name."""

    def __init__(self, index: int, served: Counter[str]) -> None:
        self.host = f"127.0.0.{41 + index}"
        self.name = f"b{index}"
        self.server = ThreadingHTTPServer((self.host, 0), _Named)
        self.server.daemon_threads = True
        self.server.name = self.name  # type: ignore[attr-defined]
        self.server.served = served  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def member(self) -> dict[str, Any]:
        return {"ipAddress": self.host, "port": self.port}


def document(
    backends: list[NamedBackend], listener: int, step: int, workers: int = 1
) -> dict[str, Any]:
    members = MEMBER_SETS[step % len(MEMBER_SETS)]
    return {
        "sku": "Standard_v2",
        "workers": workers,
        "httpListeners": [{"name": "front", "port": listener, "protocol": "Http"}],
        "backendAddressPools": [
            {"name": "app", "backendAddresses": [backends[i].member() for i in members]}
        ],
        "backendHttpSettingsCollection": [
            {
                "name": "web",
                "port": 80,
                "protocol": "Http",
                "probe": "health",
                "requestTimeout": 20 if step % 2 == 0 else 30,
            }
        ],
        "probes": [
            {
                "name": "health",
                "protocol": "Http",
                "host": "app.test",
                "path": "/health" if step % 2 == 0 else "/healthz",
                "interval": 1,
                "timeout": 1,
                "unhealthyThreshold": 3,
            }
        ],
        "requestRoutingRules": [
            {
                "name": "all",
                "ruleType": "Basic",
                "priority": 10,
                "httpListener": "front",
                "backendAddressPool": "app",
                "backendHttpSettings": "web",
            }
        ],
        "admin": {"port": 0},
    }


class Load:
    """Client threads sending GETs until stopped; every answer and every failure is counted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []
        self.threads = [
            threading.Thread(target=self._client, args=(i < KEEP_ALIVE_CLIENTS,), daemon=True)
            for i in range(KEEP_ALIVE_CLIENTS + NEW_CONNECTION_CLIENTS)
        ]

    def _client(self, keep_alive: bool) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self.stop.is_set():
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                connection.request("GET", "/", headers={"Host": "app.test"})
                reply = connection.getresponse()
                body = reply.read().decode(errors="replace")
                outcome = body if reply.status == 200 else f"{reply.status} {body.strip()}"
            except (OSError, http.client.HTTPException) as exc:
                outcome = f"error {type(exc).__name__}: {exc}"
                connection.close()
                connection = None
            if not keep_alive and connection is not None:
                connection.close()
                connection = None
            with self.lock:
                if outcome.startswith(("error", "5", "4")):
                    self.failures.append(outcome)
                else:
                    self.answers[outcome] += 1
        if connection is not None:
            connection.close()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


@pytest.fixture
def backends() -> Iterator[tuple[list[NamedBackend], Counter[str]]]:
    served: Counter[str] = Counter()
    started = [NamedBackend(i, served) for i in range(4)]
    for backend in started:
        backend.thread.start()
    yield started, served
    for backend in started:
        backend.server.shutdown()
        backend.server.server_close()


def routable(admin: str) -> set[str]:
    connection = http.client.HTTPConnection(admin.removeprefix("http://"), timeout=5)
    connection.request("GET", "/backendhealth")
    report = json.loads(connection.getresponse().read())
    connection.close()
    return {
        server["address"]
        for pool in report["backendAddressPools"]
        for item in pool["backendHttpSettingsCollection"]
        for server in item["servers"]
        if server["routable"]
    }


def wait_until(predicate: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize("workers", [1, 2])
def test_23_reloads_under_load_fail_no_request_and_traffic_follows_the_last_file(
    tmp_path: Path, backends: tuple[list[NamedBackend], Counter[str]], workers: int
) -> None:
    servers, served = backends
    listener = unused_port()
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(document(servers, listener, 0, workers)))
    gateway = Gateway(path)
    process, admin = gateway.process, gateway.url
    try:
        first = {f"{servers[i].host}:{servers[i].port}" for i in MEMBER_SETS[0]}
        assert wait_until(lambda: routable(admin) == first)
        _, health = gateway.get("/healthz")
        assert len(health.get("workers", [None])) == workers  # none listed: one process serves
        with Load(listener) as load:
            assert wait_until(lambda: sum(load.answers.values()) > 200)
            for step in range(1, RELOADS + 1):
                path.write_text(json.dumps(document(servers, listener, step, workers)))
                process.send_signal(signal.SIGHUP)
                time.sleep(RELOAD_EVERY)
            time.sleep(1.0)  # load on the last file, after its warm-up
        total = sum(load.answers.values()) + len(load.failures)
        assert total > 2000, f"the load did not run: {total} requests"
        assert load.failures == [], f"{len(load.failures)} of {total} failed: {load.failures[:5]}"

        last = MEMBER_SETS[RELOADS % len(MEMBER_SETS)]
        names = {servers[i].name for i in last}
        assert wait_until(
            lambda: routable(admin) == {f"{servers[i].host}:{servers[i].port}" for i in last}
        )
        before = Counter(served)
        with Load(listener) as after:
            assert wait_until(lambda: sum(after.answers.values()) > 300)
        assert after.failures == []
        assert set(after.answers) == names  # only the last file's members answer
        others = {s.name for s in servers} - names
        assert all(served[name] == before[name] for name in others)
    finally:
        code = gateway.stop()
    stderr = gateway.stderr
    assert code == 0, stderr[-2000:]
    reloads = [line for line in stderr.splitlines() if "reloaded " in line]
    assert len(reloads) == RELOADS, stderr[-2000:]
    assert any("keeps serving on" in line for line in reloads)  # the pool swap warmed up
    assert any("warming up" in line for line in reloads)  # probe path changes warmed up
    assert "Traceback" not in stderr
    assert "died" not in stderr  # no worker was lost on the way
